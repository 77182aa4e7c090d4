"""/readyz tells anyone only booleans and the backend; the detail is logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from pushgate.db.engine import create_engine
from tests.conftest import make_settings
from tests.support.server import LiveServer

#: A PostgreSQL socket folder that does not exist: connecting fails and the
#: error names the path, which must not reach an answer.
MISSING_SOCKET = "/tmp/pushgate-no-such-socket-folder"


@pytest.fixture(scope="module")
def server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    live = LiveServer(make_settings(tmp_path_factory.mktemp("ready")), database_url)
    live.start()
    yield live
    live.stop()


def _readyz(server: LiveServer, host: str | None = None) -> httpx.Response:
    headers = {"Host": host} if host else {}
    return httpx.get(f"{server.base_url}/readyz", headers=headers)


def test_anyone_gets_booleans_and_the_backend_only(server: LiveServer) -> None:
    response = _readyz(server, "pushgate.example")

    assert response.status_code == 200
    assert response.json() == {
        "ready": True,
        "database": True,
        "events": {"backend": "postgres", "ready": True},
    }


def test_this_machine_also_gets_the_listener_state_and_counts(
    server: LiveServer,
) -> None:
    body = _readyz(server).json()

    assert body["events"]["state"] == "listening"
    assert isinstance(body["events"]["losses"], int)
    assert isinstance(body["events"]["waiters"], int)
    assert "server" not in body["events"]
    assert "last_error" not in body["events"]


def test_a_database_that_does_not_answer_is_logged_not_shown(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = server.runtime
    working = runtime.engine
    broken = create_engine(f"postgresql://pushgate@/pushgate?host={MISSING_SOCKET}")
    runtime.engine = broken
    try:
        with caplog.at_level(logging.INFO, logger="pushgate"):
            down = _readyz(server, "pushgate.example")
            local = _readyz(server)
    finally:
        runtime.engine = working
        server.call(broken.dispose)
    with caplog.at_level(logging.INFO, logger="pushgate"):
        up = _readyz(server, "pushgate.example")

    assert down.status_code == 503
    assert down.json() == {
        "ready": False,
        "database": False,
        "events": {"backend": "postgres", "ready": True},
    }
    assert MISSING_SOCKET not in local.text
    assert up.status_code == 200

    lines = [r.getMessage() for r in caplog.records if r.name == "pushgate"]
    not_ready = [line for line in lines if line.startswith("Not ready")]
    assert len(not_ready) == 1, lines  # once, not once per probe
    assert MISSING_SOCKET in not_ready[0]
    assert any(line.startswith("Ready:") for line in lines), lines
