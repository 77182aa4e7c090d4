"""Faults against whole servers: the browser's /authy/live_status gets its
answer through a killed listener and a PostgreSQL restart; SIGTERM with
streams open ends them and exits promptly; dropped streams leave nothing."""

from __future__ import annotations

import asyncio
import secrets
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import create_database, drop_database
from tests.faults.conftest import eventually
from tests.scaleout.remote_site import (
    LiveStatus,
    RemoteSite,
    Waiting,
    connections,
    kill_listeners,
    until,
)
from tests.sse.conftest import RawClient
from tests.support.processes import (
    PrivatePostgres,
    ServeProcess,
    pushgate_env,
    stream_app_process,
)
from tests.support.server import LiveServer

pytestmark = pytest.mark.faults


@pytest.fixture
def own_database(admin_database_url: str) -> Iterator[str]:
    url = create_database(admin_database_url)
    yield url
    drop_database(admin_database_url, url)


@pytest.fixture
async def remote_site(own_database: str) -> AsyncIterator[RemoteSite]:
    site = RemoteSite(own_database)
    yield site
    await site.close()


@pytest.fixture
def server(own_database: str, tmp_path: Path) -> Iterator[ServeProcess]:
    process = ServeProcess(pushgate_env(own_database), folder=tmp_path).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def shared_database(admin_database_url: str) -> Iterator[str]:
    url = create_database(admin_database_url)
    yield url
    drop_database(admin_database_url, url)


@pytest.fixture(scope="module")
def shared_server(
    shared_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    """One server for the tests that leave it running as they found it."""
    folder = tmp_path_factory.mktemp("shared")
    process = ServeProcess(pushgate_env(shared_database), folder=folder).start()
    yield process
    process.stop()


@pytest.fixture
async def shared_site(shared_database: str) -> AsyncIterator[RemoteSite]:
    site = RemoteSite(shared_database)
    yield site
    await site.close()


async def open_raw_streams(base_url: str, waitings: list[Waiting]) -> list[RawClient]:
    clients = await asyncio.gather(
        *(
            RawClient.get(
                base_url,
                "/authy/live_status",
                {"Cookie": f"pushgate_session={waiting.token}"},
            )
            for waiting in waitings
        )
    )
    await asyncio.gather(*(c.body_until(b'{"status": "pending"}') for c in clients))
    return list(clients)


@pytest.mark.parametrize("delay", [0.0, 0.5, 0.95])
async def test_approval_within_a_second_of_killing_the_listener_reaches_the_browser(
    delay: float,
    shared_server: ServeProcess,
    shared_site: RemoteSite,
    shared_database: str,
) -> None:
    server, site = shared_server, shared_site
    await until(lambda: _ready(server), 5)
    losses = server.log().count("lost its connection")
    waiting = await site.make_waiting()
    async with LiveStatus(server.base_url, waiting) as browser:
        assert await kill_listeners(shared_database) == 1
        await asyncio.sleep(delay)

        response = await site.answer(server.base_url, waiting)

        assert response.status_code == 200, response.text
        assert await browser.final(timeout=5) == "approved"
    assert server.log().count("lost its connection") == losses + 1


async def _ready(server: ServeProcess) -> bool:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        return (await http.get("/readyz")).status_code == 200


async def test_approval_right_after_a_postgresql_restart_reaches_the_browser(
    private_pg: PrivatePostgres, tmp_path: Path
) -> None:
    database = private_pg.create_database(f"app_{secrets.token_hex(6)}")
    server = ServeProcess(pushgate_env(database), folder=tmp_path).start()
    site = RemoteSite(database)
    try:
        waiting = await site.make_waiting()
        async with (
            LiveStatus(server.base_url, waiting) as browser,
            httpx.AsyncClient(base_url=server.base_url) as http,
        ):
            await asyncio.to_thread(private_pg.stop)

            # Readiness says the listener is down while the server is.
            async def not_ready() -> bool:
                response = await http.get("/readyz")
                return response.status_code == 503

            await until(not_ready, 10)
            body = (await http.get("/readyz")).json()
            assert body["events"]["ready"] is False
            assert body["events"]["state"] == "reconnecting"
            assert (await http.get("/healthz")).status_code == 200
            await asyncio.sleep(1)  # several reconnect attempts fail meanwhile

            await asyncio.to_thread(private_pg.start)
            response = await site.answer(server.base_url, waiting)

            assert response.status_code == 200, response.text
            assert await browser.final(timeout=10) == "approved"

            async def ready() -> bool:
                return (await http.get("/readyz")).status_code == 200

            await until(ready, 10)
        log = server.log()
        assert log.count("lost its connection") == 1, log
        assert log.count("again after") == 1, log
    finally:
        await site.close()
        server.stop()


async def test_sigterm_with_100_open_streams_exits_within_5_seconds(
    server: ServeProcess, remote_site: RemoteSite, own_database: str
) -> None:
    waitings = [await remote_site.make_waiting() for _ in range(100)]
    clients = await open_raw_streams(server.base_url, waitings)
    await remote_site.engine.dispose()  # leave only the server's sessions
    assert await connections(own_database) > 0
    start = time.monotonic()

    server.signal(signal.SIGTERM)

    code = await asyncio.to_thread(server.wait, 5)
    took = time.monotonic() - start
    assert code == 0, server.log()
    assert took < 5
    # Every stream was ended properly, with the closing chunk.
    for client in clients:
        assert await client.chunk(timeout=1) == b""
        await client.close()
    assert await connections(own_database) == 0


async def test_sigterm_with_100_open_streams_on_a_bare_event_stream_app(
    own_database: str, tmp_path: Path
) -> None:
    env = {"STREAM_APP_BUS": "postgres", "PUSHGATE_DATABASE_URL": own_database}
    server = stream_app_process(env, tmp_path).start()
    try:
        clients = await asyncio.gather(
            *(RawClient.get(server.base_url, f"/topics/t{i}") for i in range(100))
        )
        await asyncio.gather(*(c.body_until(b"data: 0\n\n") for c in clients))
        start = time.monotonic()

        server.signal(signal.SIGTERM)

        # uvicorn's command re-raises the signal once it has shut down.
        assert await asyncio.to_thread(server.wait, 5) in (0, -signal.SIGTERM)
        assert time.monotonic() - start < 5
        for client in clients:
            assert await client.chunk(timeout=1) == b""
            await client.close()
        assert await connections(own_database) == 0
    finally:
        server.stop()


async def test_200_streams_dropped_abruptly_leave_nothing_behind(
    live_server: LiveServer, database_url: str
) -> None:
    # The run's in-thread server: its tasks can be counted on its own loop.
    async def count() -> tuple[int, int, int]:
        runtime = live_server.runtime
        return len(runtime.streams), len(runtime.bus.hub), len(asyncio.all_tasks())

    def server_side() -> tuple[int, int, int]:
        return live_server.call(count)

    site = RemoteSite(database_url)
    try:
        waitings = [await site.make_waiting() for _ in range(200)]
    finally:
        await site.close()
    await asyncio.sleep(0.2)
    baseline = await asyncio.to_thread(server_side)

    clients = await open_raw_streams(live_server.base_url, waitings)
    opened = await asyncio.to_thread(server_side)
    assert opened[:2] == (baseline[0] + 200, baseline[1] + 200)
    for client in clients:
        client.abort()

    start = time.monotonic()
    while (now := await asyncio.to_thread(server_side)) != baseline:
        assert time.monotonic() - start < 5, (baseline, now)
        await asyncio.sleep(0.05)


async def test_readiness_reports_a_lost_listener_until_it_is_back(
    shared_server: ServeProcess, shared_database: str
) -> None:
    server = shared_server
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await until(lambda: _ready(server), 5)
        before = (await http.get("/readyz")).json()
        assert before["ready"] is True
        assert before["events"]["state"] == "listening"
        recoveries = server.log().count("again after")

        await kill_listeners(shared_database)

        async def recovered() -> bool:
            body = (await http.get("/readyz")).json()
            losses = body["events"]["losses"]
            return bool(body["ready"]) and losses == before["events"]["losses"] + 1

        await until(recovered, 5)
    await eventually(lambda: server.log().count("again after") == recoveries + 1, 2)
