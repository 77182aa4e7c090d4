"""Several processes share the database and the bus: an answer handled by one
reaches a browser waiting on another."""

from __future__ import annotations

import asyncio
import secrets
import signal
import time
from pathlib import Path

import httpx
import pytest

from pushgate.events.postgres import APPLICATION_NAME
from tests.scaleout.remote_site import LiveStatus, RemoteSite, connections, until
from tests.sse.conftest import RawClient
from tests.support.processes import (
    REDIS_URL,
    ServeProcess,
    pushgate_env,
    stream_app_process,
)

pytestmark = pytest.mark.scaleout


@pytest.mark.parametrize("bus", ["postgres", "redis"])
async def test_publish_on_one_process_wakes_a_stream_on_another(
    bus: str, own_database: str, tmp_path: Path
) -> None:
    env = {
        "STREAM_APP_BUS": bus,
        "PUSHGATE_DATABASE_URL": own_database,
        "PUSHGATE_REDIS_URL": REDIS_URL,
        "CHANNEL": f"pushgate-test-{secrets.token_hex(6)}",
    }
    first = stream_app_process(env, tmp_path).launch()
    second = stream_app_process(env, tmp_path).launch()
    try:
        await asyncio.gather(
            asyncio.to_thread(first.wait_ready), asyncio.to_thread(second.wait_ready)
        )
        stream = await RawClient.get(second.base_url, "/topics/news")
        await stream.body_until(b"data: 0\n\n")

        for wake in (1, 2, 3):
            start = time.monotonic()
            await asyncio.to_thread(httpx.post, f"{first.base_url}/publish/news")
            await stream.body_until(f"data: {wake}\n\n".encode(), timeout=2)
            assert time.monotonic() - start < 1
        await stream.close()
    finally:
        first.stop()
        second.stop()


@pytest.mark.parametrize("bus", ["postgres", "redis"])
async def test_a_callback_to_one_instance_reaches_a_browser_on_another(
    bus: str, own_database: str, remote_site: RemoteSite, tmp_path: Path
) -> None:
    # One after the other: the first creates the site's service application.
    first = ServeProcess(pushgate_env(own_database, bus), folder=tmp_path)
    second = ServeProcess(pushgate_env(own_database, bus), folder=tmp_path)
    try:
        await asyncio.to_thread(first.start)
        await asyncio.to_thread(second.start)
        for answer in ("approved", "denied"):
            waiting = await remote_site.make_waiting()
            async with LiveStatus(second.base_url, waiting) as browser:
                assert browser.statuses == ["pending"]

                response = await remote_site.answer(first.base_url, waiting, answer)

                assert response.status_code == 200, response.text
                assert await browser.final(timeout=5) == answer

            # A browser that reconnects, to either instance, with or without
            # Last-Event-ID, gets the current state at once.
            for base_url, last_id in ((first.base_url, "1"), (second.base_url, None)):
                async with LiveStatus(base_url, waiting, last_id) as again:
                    assert await again.final(timeout=2) == answer
                    assert again.statuses == [answer]
    finally:
        first.stop()
        second.stop()


async def test_serve_with_workers_delivers_across_them_and_stops_cleanly(
    own_database: str, remote_site: RemoteSite, tmp_path: Path
) -> None:
    server = ServeProcess(
        pushgate_env(own_database), folder=tmp_path, args=("--workers", "2")
    ).start(timeout=90)
    try:
        # Each worker holds its own listening connection.
        await until(lambda: _equals(connections(own_database, APPLICATION_NAME), 2), 60)
        waitings = [await remote_site.make_waiting() for _ in range(8)]
        browsers = [LiveStatus(server.base_url, w) for w in waitings]
        for browser in browsers:
            await browser.__aenter__()
        # The kernel spreads connections over the workers: most answers are
        # handled by another worker than the browser's.
        for waiting in waitings:
            response = await remote_site.answer(server.base_url, waiting)
            assert response.status_code == 200, response.text
        for browser in browsers:
            assert await browser.final(timeout=5) == "approved"
            await browser.__aexit__(None, None, None)

        pending = [await remote_site.make_waiting() for _ in range(20)]
        clients = [
            await RawClient.get(
                server.base_url,
                "/authy/live_status",
                {"Cookie": f"pushgate_session={w.token}"},
            )
            for w in pending
        ]
        for client in clients:
            await client.body_until(b'{"status": "pending"}')
        start = time.monotonic()

        server.signal(signal.SIGTERM)

        for client in clients:
            assert await client.chunk(timeout=5) == b""
            await client.close()
        assert await asyncio.to_thread(server.wait, 5) == 0
        assert time.monotonic() - start < 5
        await remote_site.engine.dispose()  # the test's own connections
        assert await connections(own_database) == 0
    finally:
        server.stop()


async def _equals(count: object, expected: int) -> bool:
    return await count == expected  # type: ignore[misc]
