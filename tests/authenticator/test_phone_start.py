"""Asking for an enrollment code tells nobody whether a number is registered,
and is limited per number and per client address."""

from __future__ import annotations

import contextlib
import itertools
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event, func, select

from pushgate.db.models import ServiceOutboxMessage
from pushgate.service.apps import create_application
from tests.conftest import make_settings
from tests.support.server import LiveServer

START = "/authenticator/api/phone/start"


@pytest.fixture(scope="module")
def server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A server that believes X-Forwarded-For from this machine, so each test
    can be a client address of its own."""
    folder: Path = tmp_path_factory.mktemp("phone-start")
    live = LiveServer(make_settings(folder, trusted_proxies="127.0.0.1"), database_url)
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def app_key(server: LiveServer) -> str:
    async def create() -> str:
        runtime = server.runtime
        async with runtime.sessions.begin() as session:
            _, key = await create_application(
                session, runtime.settings.resolved_secret_key(), "phone start", None
            )
        return key

    return server.call(create)


@pytest.fixture
def registered(server: LiveServer, app_key: str) -> str:
    """A new number a site registered (ten digits, country code 1)."""
    number = _number()
    response = httpx.post(
        f"{server.base_url}/protected/json/users/new",
        json={
            "user": {
                "email": f"{number}@example.com",
                "cellphone": number,
                "country_code": 1,
            }
        },
        headers={"X-Authy-API-Key": app_key},
    )
    assert response.status_code == 200
    return number


def _number() -> str:
    return f"555{secrets.randbelow(10**7):07d}"


_ADDRESSES = itertools.count(1)


def _address() -> str:
    """A client address no other test of this run uses."""
    return f"2001:db8:{next(_ADDRESSES):x}:{secrets.randbelow(2**16):x}::1"


@contextlib.contextmanager
def _client(server: LiveServer, address: str) -> Iterator[httpx.Client]:
    """A browser on the phone page, seen by the server as ``address``."""
    with httpx.Client(
        base_url=server.base_url, headers={"X-Forwarded-For": address}, timeout=10
    ) as client:
        client.get("/authenticator/phone")
        client.headers["X-CSRF-Token"] = client.cookies["pushgate_authenticator_csrf"]
        yield client


def _start(client: httpx.Client, number: str) -> httpx.Response:
    return client.post(START, json={"country_code": "1", "phone_number": number})


def _texts(server: LiveServer, number: str) -> int:
    async def count() -> int:
        async with server.runtime.sessions() as session:
            found = await session.scalar(
                select(func.count())
                .select_from(ServiceOutboxMessage)
                .where(ServiceOutboxMessage.to_number == "+1" + number)
            )
            return int(found or 0)

    return server.call(count)


def _until(check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_registered_and_unknown_numbers_get_the_same_answers(
    server: LiveServer, registered: str
) -> None:
    unknown = _number()
    answers = {}
    for number in (registered, unknown):
        with _client(server, _address()) as client:
            answers[number] = [
                (response.status_code, response.json())
                for response in (_start(client, number) for _ in range(7))
            ]

    assert answers[registered] == answers[unknown]
    statuses = [status for status, _ in answers[unknown]]
    assert statuses == [200] * 5 + [429] * 2
    assert answers[unknown][-1][1] == {
        "success": False,
        "message": "Too many codes were asked for this number; wait 10 minutes.",
    }
    # Only the registered number is texted, and only as often as answered.
    _until(lambda: _texts(server, registered) == 5)
    time.sleep(0.5)
    assert _texts(server, registered) == 5
    assert _texts(server, unknown) == 0


def test_registered_and_unknown_numbers_cost_the_same_statements(
    server: LiveServer, registered: str
) -> None:
    seen: list[str] = []

    def record(connection, cursor, statement, parameters, context, many) -> None:
        # The sending job looks the number up later; only the request counts.
        if "EXISTS" not in statement and "service_outbox_messages" not in statement:
            seen.append(" ".join(statement.split()))

    engine = server.runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        done = {}
        for number in (registered, _number()):
            with _client(server, _address()) as client:
                seen.clear()
                assert _start(client, number).status_code == 200
                done[number] = list(seen)
    finally:
        event.remove(engine, "before_cursor_execute", record)

    first, second = done.values()
    assert first == second
    assert any("service_phone_verifications" in sql for sql in first)


def test_each_client_address_gets_ten_requests_then_waits(server: LiveServer) -> None:
    address = _address()
    with _client(server, address) as client:
        answers = [_start(client, _number()) for _ in range(12)]
    with _client(server, _address()) as elsewhere:
        other = _start(elsewhere, _number())

    # Ten free, the eleventh still answered (and starts a 1 s wait), then 429.
    assert [r.status_code for r in answers[:11]] == [200] * 11
    assert answers[11].status_code == 429
    assert (
        answers[11]
        .json()["message"]
        .startswith("Too many codes were asked for from here; wait ")
    )
    assert int(answers[11].headers["Retry-After"]) >= 1
    assert other.status_code == 200
