"""What a person does in the browser, step by step, for the end-to-end tests."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select

from pushgate import clock
from pushgate.db.models import LoginAttempt, ServiceOutboxMessage, User, WebSession
from pushgate.web import sessions
from tests.support.server import LiveServer

PASSWORD = "correct horse battery staple"


@dataclass
class Person:
    name: str
    email: str
    password: str
    phone: str


def new_person() -> Person:
    tag = secrets.token_hex(4)
    return Person(
        name=f"Test {tag}",
        email=f"e2e-{tag}@example.com",
        password=PASSWORD,
        phone=str(4_150_000_000 + secrets.randbelow(10**6)),
    )


def sign_up(page: Page, server: LiveServer, person: Person) -> None:
    page.goto(server.base_url + "/signup")
    page.fill("#name", person.name)
    page.fill("#email", person.email)
    page.fill("#password", person.password)
    page.fill("#country_code", "1")
    page.fill("#phone", person.phone)
    page.click("form[data-form=signup] button[type=submit]")
    page.wait_for_url(server.base_url + "/account")
    expect(page.locator("h1")).to_contain_text(person.name)


def enroll_phone(page: Page, phone: Page) -> None:
    """From the account page, enroll ``phone`` (another browser) by its link;
    the page moves on to the account page by itself once the phone is in."""
    page.click("form[data-form=enroll] button[type=submit]")
    page.wait_for_url(re.compile(r".*/account/enroll$"))
    link = page.locator("[data-role=enrollment-link]")
    expect(link).to_be_visible()
    expect(page.locator(".qr-frame svg")).to_be_visible()
    url = link.get_attribute("href")
    assert url and "#" in url and link.inner_text() == url

    phone.goto(url)
    phone.wait_for_url(re.compile(r".*/authenticator/$"))
    expect(phone.locator("[data-role=status]")).to_have_text("Waiting for requests.")
    page.wait_for_url(re.compile(r".*/account$"))


def log_out(page: Page, server: LiveServer) -> None:
    page.click("form[action='/logout'] button")
    page.wait_for_url(server.base_url + "/")
    expect(page.locator("a[href='/login']").first).to_be_visible()


def log_in(page: Page, server: LiveServer, person: Person) -> None:
    """Submit the password and land on the waiting modal."""
    page.goto(server.base_url + "/login")
    page.fill("#email", person.email)
    page.fill("#password", person.password)
    page.click("form[data-form=login] button[type=submit]")
    page.wait_for_url(server.base_url + "/login/waiting")
    expect(page.locator("#waiting")).to_be_visible()


def approval_uuid(server: LiveServer, context: BrowserContext) -> str:
    """The approval request of the login waiting in ``context``."""
    token = next(
        c["value"] for c in context.cookies() if c["name"] == sessions.COOKIE_NAME
    )

    async def load() -> str:
        async with server.runtime.sessions() as db:
            data = await db.scalar(
                select(WebSession.data).where(
                    WebSession.token_hash == sessions.hash_token(token)
                )
            )
            attempt = await db.get(LoginAttempt, data["attempt_id"])
            assert attempt is not None and attempt.approval_uuid
            return attempt.approval_uuid

    return server.call(load)


def attempt_status(server: LiveServer, request_uuid: str) -> str:
    async def load() -> str:
        async with server.runtime.sessions() as db:
            status = await db.scalar(
                select(LoginAttempt.status).where(
                    LoginAttempt.approval_uuid == request_uuid
                )
            )
            return str(status)

    return server.call(load)


def number_to_match(page: Page) -> str | None:
    """The number the waiting page asks to pick on the phone, if it shows one."""
    shown = page.locator("[data-number-match]")
    return shown.inner_text().strip() if shown.count() else None


def approve_on_phone(phone: Page, request_uuid: str, number: str | None) -> None:
    """Approve one request: by picking ``number`` when the phone asks for it."""
    item = phone.locator(f"li.auth-request[data-uuid='{request_uuid}']")
    expect(item).to_be_visible()
    if item.get_attribute("data-numbers") is not None:
        assert number is not None, "the phone asks for a number the page did not show"
        item.locator(f"button[data-number='{number}']").click()
    else:
        item.locator("button[data-action='approved']").click()
    expect(item).to_have_attribute("data-state", "approved")


def deny_on_phone(phone: Page, request_uuid: str) -> None:
    item = phone.locator(f"li.auth-request[data-uuid='{request_uuid}']")
    expect(item).to_be_visible()
    item.locator("button[data-action='denied']").click()
    expect(item).to_have_attribute("data-state", "denied")


def waiting_in(
    server: LiveServer, context: BrowserContext, *, expires_in: float
) -> str:
    """A login of a new user waiting in ``context``, its push showing 42; the
    attempt's id. Made in the database, for states a phone cannot make."""
    tag = secrets.token_hex(4)
    attempt_id = secrets.token_urlsafe(24)

    async def create() -> str:
        now = clock.now()
        async with server.runtime.sessions.begin() as db:
            user = User(
                name=f"Waiting {tag}",
                email=f"waiting-{tag}@example.com",
                password_hash="unusable",
                country_code="1",
                phone=str(4_160_000_000 + secrets.randbelow(10**6)),
                authy_id=None,
                created_at=now,
            )
            db.add(user)
            await db.flush()
            db.add(
                LoginAttempt(
                    id=attempt_id,
                    user_id=user.id,
                    status="pending",
                    approval_uuid=secrets.token_hex(16),
                    number_match=42,
                    created_at=now,
                    expires_at=now + timedelta(seconds=expires_in),
                    ip="127.0.0.1",
                    user_agent="test",
                )
            )
            state = await sessions.start(
                db, server.runtime.settings, data={"attempt_id": attempt_id}
            )
        assert state.new_token is not None
        return state.new_token

    token = server.call(create)
    context.add_cookies(
        [{"name": sessions.COOKIE_NAME, "value": token, "url": server.base_url}]
    )
    return attempt_id


def texted_code(server: LiveServer, person: Person, timeout: float = 15) -> str:
    """The code in the last text to the person's phone, once it was sent (the
    development sender keeps texts in its outbox instead)."""
    number = "+1" + person.phone

    async def last() -> str | None:
        async with server.runtime.sessions() as db:
            return await db.scalar(
                select(ServiceOutboxMessage.body)
                .where(ServiceOutboxMessage.to_number == number)
                .order_by(ServiceOutboxMessage.id.desc())
                .limit(1)
            )

    deadline = time.monotonic() + timeout
    while (body := server.call(last)) is None:
        assert time.monotonic() < deadline, f"no text to {number} in {timeout}s"
        time.sleep(0.05)
    found = re.search(r"\b[0-9]{7}\b", body)
    assert found, "the text holds no 7-digit code"
    return found.group(0)
