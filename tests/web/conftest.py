"""Fixtures for the web app's tests: a live server and ways to set up users,
sessions and login attempts directly in its database."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from pushgate import clock, webhook_signature
from pushgate.db.models import LoginAttempt, User, WebSession
from pushgate.web import sessions
from tests.conftest import create_database, drop_database, make_settings
from tests.support.server import LiveServer

PASSWORD = "correct horse battery"


@dataclass
class Waiting:
    """A browser session waiting on one login attempt."""

    token: str
    csrf: str
    attempt_id: str
    approval_uuid: str
    user_id: int
    authy_id: int


class Site:
    """The live server plus database helpers that run on the server's loop."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.base_url = server.base_url
        self.runtime = server.runtime

    def client(self, token: str | None = None) -> httpx.Client:
        client = httpx.Client(base_url=self.base_url, timeout=10)
        if token is not None:
            client.cookies.set(sessions.COOKIE_NAME, token, domain="127.0.0.1")
        return client

    def run(self, factory: Any) -> Any:
        return self.server.call(factory)

    def make_user(self, password_hash: str = "unusable") -> User:
        async def create() -> User:
            async with self.runtime.sessions.begin() as db:
                user = User(
                    name="Test Person",
                    email=f"{secrets.token_hex(6)}@example.com",
                    password_hash=password_hash,
                    country_code="1",
                    phone=str(2_000_000_000 + secrets.randbelow(10**9)),
                    authy_id=10**9 + secrets.randbelow(10**9),
                    created_at=clock.now(),
                )
                db.add(user)
            return user

        return self.run(create)

    def make_session(
        self, user_id: int | None = None, data: dict[str, Any] | None = None
    ) -> tuple[str, str]:
        """A new session row; its cookie token and CSRF token."""

        async def create() -> tuple[str, str]:
            async with self.runtime.sessions.begin() as db:
                state = await sessions.start(
                    db, self.runtime.settings, user_id=user_id, data=data
                )
            assert state.new_token is not None
            return state.new_token, state.csrf_token

        return self.run(create)

    def make_waiting(
        self, user: User | None = None, expires_in: float = 120
    ) -> Waiting:
        user = user or self.make_user()
        attempt_id = secrets.token_urlsafe(24)
        approval_uuid = secrets.token_hex(16)

        async def create() -> None:
            now = clock.now()
            async with self.runtime.sessions.begin() as db:
                db.add(
                    LoginAttempt(
                        id=attempt_id,
                        user_id=user.id,
                        status="pending",
                        approval_uuid=approval_uuid,
                        created_at=now,
                        expires_at=now + timedelta(seconds=expires_in),
                        ip="127.0.0.1",
                        user_agent="test",
                    )
                )

        self.run(create)
        token, csrf = self.make_session(data={"attempt_id": attempt_id})
        assert user.authy_id is not None
        return Waiting(token, csrf, attempt_id, approval_uuid, user.id, user.authy_id)

    def attempt(self, attempt_id: str) -> LoginAttempt | None:
        async def load() -> LoginAttempt | None:
            async with self.runtime.sessions() as db:
                return await db.get(LoginAttempt, attempt_id)

        return self.run(load)

    def session_row(self, token: str) -> WebSession | None:
        async def load() -> WebSession | None:
            async with self.runtime.sessions() as db:
                return await db.scalar(
                    select(WebSession).where(
                        WebSession.token_hash == sessions.hash_token(token)
                    )
                )

        return self.run(load)

    def callback_body(self, waiting: Waiting, status: str = "approved") -> dict:
        """A callback body shaped as the approval service sends it."""
        return {
            "authy_id": waiting.authy_id,
            "device_uuid": "device-1",
            "callback_action": "approval_request_status",
            "uuid": waiting.approval_uuid,
            "status": status,
            "approval_request": {
                "transaction": {
                    "details": {"Email": "someone@example.com"},
                    "hidden_details": {"login_attempt_id": waiting.attempt_id},
                    "message": "Log in to pushgate",
                    "status": status,
                    "uuid": waiting.approval_uuid,
                    "encrypted": False,
                    "flagged": False,
                    "requester_details": None,
                },
                "expiration_timestamp": 1_900_000_000,
            },
            "signature": "device-signature",
        }

    def post_callback(
        self,
        body: dict,
        *,
        nonce: str | None = None,
        key: str | None = None,
        signature: str | None = None,
    ) -> httpx.Response:
        nonce = nonce or new_nonce()
        url = self.runtime.settings.resolved_public_url() + "/authy/callback"
        if signature is None:
            signing_key = key or self.runtime.service_api_key
            assert signing_key
            signature = webhook_signature.sign(signing_key, nonce, "POST", url, body)
        with self.client() as client:
            return client.post(
                "/authy/callback",
                json=body,
                headers={
                    "X-Authy-Signature": signature,
                    "X-Authy-Signature-Nonce": nonce,
                },
            )


def client_address() -> dict[str, str]:
    """Headers that make a request come from an address of its own."""
    return {"X-Forwarded-For": f"2001:db8:{secrets.randbelow(65536):x}::1"}


def csrf_from(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def new_nonce() -> str:
    """A fresh nonce as the service makes them: the unix time, then digits."""
    return f"{int(clock.now().timestamp())}.{secrets.randbelow(10**9):09d}"


@pytest.fixture(scope="session")
def site(
    admin_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """A server of the web app's own, on a database of its own.

    Not the shared ``live_server``: these tests count on its streams being
    open to new clients and on its state being theirs alone.
    """
    url = create_database(admin_database_url)
    # Loopback is a trusted proxy, so a test can be a client of its own
    # address (X-Forwarded-For) where counts per address matter.
    settings = make_settings(
        tmp_path_factory.mktemp("web"), trusted_proxies="127.0.0.1"
    )
    server = LiveServer(settings, url).start()
    try:
        yield Site(server)
    finally:
        server.stop()
        drop_database(admin_database_url, url)
