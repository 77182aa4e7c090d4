"""A person using the site over plain HTTP, for the code login tests."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import httpx
from sqlalchemy import select

from pushgate import clock
from pushgate.db.models import ServiceDevice, User
from pushgate.web import sessions
from tests.support.server import LiveServer

PASSWORD = "correct horse battery staple"


@dataclass
class Person:
    name: str
    email: str
    phone: str
    password: str = PASSWORD

    @property
    def number(self) -> str:
        return "+1" + self.phone


def new_person() -> Person:
    tag = secrets.token_hex(4)
    return Person(
        name=f"Code {tag}",
        email=f"codes-{tag}@example.com",
        phone=str(6_280_000_000 + secrets.randbelow(10**7)),
    )


def csrf_of(html: str) -> str:
    """The page's CSRF token (from its first form, or its meta tag)."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
        r'<meta name="csrf-token" content="([^"]+)"', html
    )
    assert match, "the page has no CSRF token"
    return match.group(1)


class Visitor:
    """One browser profile: a cookie jar and the forms it fills in."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.base_url, timeout=15)

    def close(self) -> None:
        self.http.close()

    @property
    def cookie(self) -> str | None:
        return self.http.cookies.get(sessions.COOKIE_NAME)

    def post_form(self, page: str, action: str, **fields: str) -> httpx.Response:
        """Load ``page``, then submit its form to ``action`` with its CSRF token."""
        html = self.http.get(page).text
        return self.http.post(action, data={"csrf_token": csrf_of(html), **fields})

    def sign_up(self, person: Person) -> None:
        response = self.post_form(
            "/signup",
            "/signup",
            name=person.name,
            email=person.email,
            password=person.password,
            country_code="1",
            phone=person.phone,
        )
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/account"

    def log_out(self) -> None:
        response = self.post_form("/account", "/logout")
        assert response.status_code == 303

    def log_in(self, person: Person) -> httpx.Response:
        response = self.post_form(
            "/login", "/login", email=person.email, password=person.password
        )
        assert response.status_code == 303, response.text
        return response

    def send_code(self, via: str = "sms") -> httpx.Response:
        return self.post_form("/login/code", "/login/code/send", via=via)

    def enter_code(self, code: str) -> httpx.Response:
        return self.post_form("/login/code", "/login/code", code=code)

    def notice(self) -> str:
        """The message the code page shows now."""
        html = self.http.get("/login/code").text
        match = re.search(r'data-role="code-notice"[^>]*>([^<]*)<', html)
        return " ".join(match.group(1).split()) if match else ""


def site_user(server: LiveServer, person: Person) -> User:
    async def load() -> User:
        async with server.runtime.sessions() as db:
            user = await db.scalar(select(User).where(User.email == person.email))
            assert user is not None
            return user

    return server.call(load)


def enroll_device(server: LiveServer, person: Person) -> None:
    """Record an enrolled phone for the person at the service, as enrolling does."""
    authy_id = site_user(server, person).authy_id
    assert authy_id is not None

    async def create() -> None:
        async with server.runtime.sessions.begin() as db:
            db.add(
                ServiceDevice(
                    id=secrets.token_hex(16),
                    user_id=authy_id,
                    name="test phone",
                    public_key="unused",
                    token_hash=secrets.token_hex(32),
                    created_at=clock.now(),
                )
            )

    server.call(create)


def recovery_codes_on(html: str) -> list[str]:
    return re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", html)
