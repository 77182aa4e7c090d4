"""Helpers for the code tests: a service application, users, the outbox."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from authy.api import AuthyApiClient
from sqlalchemy import select

from pushgate import clock
from pushgate.db.models import ServiceDevice, ServiceOutboxMessage
from pushgate.service import users
from pushgate.service.apps import create_application
from tests.conftest import create_database, drop_database, make_settings
from tests.support.browser import (  # noqa: F401 - fixtures for the browser tests
    browser,
    context,
    new_context,
    page,
    page_errors,
)
from tests.support.server import LiveServer


@dataclass(frozen=True)
class ServiceApp:
    id: int
    api_key: str
    client: AuthyApiClient


@dataclass(frozen=True)
class ServiceUser:
    id: int
    number: str
    email: str


@pytest.fixture(scope="module")
def service_app(live_server: LiveServer) -> ServiceApp:
    secret = live_server.runtime.settings.resolved_secret_key()

    async def create() -> tuple[int, str]:
        async with live_server.runtime.sessions.begin() as session:
            app, key = await create_application(session, secret, "codes tests", None)
            return app.id, key

    app_id, api_key = live_server.call(create)
    return ServiceApp(app_id, api_key, AuthyApiClient(api_key, live_server.base_url))


def new_user(
    server: LiveServer, app: ServiceApp, *, with_device: bool = False
) -> ServiceUser:
    cellphone = "555" + str(secrets.randbelow(10**7)).zfill(7)
    email = f"codes-{secrets.token_hex(4)}@example.com"

    async def create() -> int:
        async with server.runtime.sessions.begin() as session:
            user = await users.register(
                session, app.id, users.UserInput(email, "1", cellphone)
            )
            if with_device:
                session.add(
                    ServiceDevice(
                        id=secrets.token_hex(16),
                        user_id=user.id,
                        name="test phone",
                        public_key="unused",
                        token_hash=secrets.token_hex(32),
                        created_at=clock.now(),
                    )
                )
            return user.id

    return ServiceUser(server.call(create), "+1" + cellphone, email)


def outbox_messages(server: LiveServer, number: str) -> list[ServiceOutboxMessage]:
    async def read() -> list[ServiceOutboxMessage]:
        async with server.runtime.sessions() as session:
            rows = await session.scalars(
                select(ServiceOutboxMessage)
                .where(ServiceOutboxMessage.to_number == number)
                .order_by(ServiceOutboxMessage.id)
            )
            return list(rows)

    return server.call(read)


def wait_for_message(
    server: LiveServer, number: str, count: int = 1, timeout: float = 15
) -> ServiceOutboxMessage:
    """The ``count``-th message to ``number``, once the job queue has sent it."""
    deadline = time.monotonic() + timeout
    while True:
        messages = outbox_messages(server, number)
        if len(messages) >= count:
            return messages[count - 1]
        if time.monotonic() > deadline:
            raise AssertionError(f"No message {count} to {number} in {timeout}s")
        time.sleep(0.05)


def code_in(text: str) -> str:
    """The code in a text (``1234567``) or a call (``1, 2, 3, ...``)."""
    match = re.search(r"\d(?:, \d){5,}", text)
    if match:
        return match.group(0).replace(", ", "")
    found = re.search(r"\b\d{6,8}\b", text)
    assert found, f"no code in {text!r}"
    return found.group(0)


def wrong(code: str) -> str:
    return str((int(code) + 1) % 10 ** len(code)).zfill(len(code))


@pytest.fixture(scope="session")
def site_server(
    admin_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A whole server on a database of its own, for the site's code login.

    Its own database keeps the web app's service application (and so its
    callback URL) to this server alone, whatever other servers run.
    """
    url = create_database(admin_database_url)
    server = LiveServer(make_settings(tmp_path_factory.mktemp("codes")), url).start()
    try:
        yield server
    finally:
        server.stop()
        drop_database(admin_database_url, url)
