"""EventStream under uvicorn: headers, heartbeats, clients that leave or stall."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time

import httpx
import pytest
from httpx_sse import aconnect_sse
from starlette.middleware.gzip import GZipMiddleware

from pushgate.events.memory import MemoryBus
from pushgate.sse import EventStream, StreamRegistry, ended_by_exit_signals
from tests.sse.conftest import RawClient, eventually, served, stalled_socket
from tests.sse.stream_app import FIXED_EVENTS, create_stream_app


async def test_headers_say_event_stream_never_cached_buffered_or_compressed() -> None:
    app = create_stream_app()
    async with served(app) as url:
        client = await RawClient.get(
            url, "/fixed", {"Accept-Encoding": "gzip, deflate, br, zstd"}
        )

        assert client.status == 200
        assert client.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert client.headers["cache-control"] == "no-store"
        assert client.headers["x-accel-buffering"] == "no"
        assert client.headers.get("content-encoding", "identity") == "identity"
        assert "content-length" not in client.headers
        assert client.headers["transfer-encoding"] == "chunked"
        await client.close()


async def test_compressing_middleware_leaves_the_stream_alone_and_unbuffered() -> None:
    app = create_stream_app()
    async with served(GZipMiddleware(app, minimum_size=1), app.state.streams) as url:
        client = await RawClient.get(url, "/stepped", {"Accept-Encoding": "gzip, br"})
        assert client.headers.get("content-encoding", "identity") == "identity"
        assert await client.chunk() == b"retry: 3000\n\n"

        for number in (1, 2, 3):
            app.state.step.set()
            # Each event arrives on its own while the next is not yet made:
            # nothing holds it back in a buffer.
            body = await client.body_until(f"data: {number}\n\n".encode(), timeout=2)
            assert body.startswith(b"event: step\n")
        await client.close()


async def test_the_first_chunk_is_the_retry_hint() -> None:
    async with served(create_stream_app(retry_ms=1234)) as url:
        client = await RawClient.get(url, "/stepped")

        assert await client.chunk() == b"retry: 1234\n\n"
        await client.close()


async def test_an_independent_parser_reads_every_event() -> None:
    async with (
        served(create_stream_app()) as url,
        httpx.AsyncClient(base_url=url) as http,
        aconnect_sse(http, "GET", "/fixed") as source,
    ):
        # httpx-sse also reports blocks without data (the retry hint, a
        # comment after an id was set), which browsers do not dispatch.
        events = [event async for event in source.aiter_sse() if event.data]

    sent = [e for e in FIXED_EVENTS if e.data is not None]
    assert [e.event for e in events] == [e.event or "message" for e in sent]
    assert [e.data for e in events] == [
        "one line",
        "a\nb\nc\nd",
        " leading space and unicode breaks \u2028\u2029\x85\x0b\x0c",
        '{"status": "approved"}',
    ]
    assert [e.id for e in events] == ["", "id-1", "id-1", ""]


async def test_a_finished_stream_ends_the_response_cleanly() -> None:
    async with served(create_stream_app()) as url:
        client = await RawClient.get(url, "/fixed")

        await client.body_until(b'data: {"status": "approved"}\n\n')

        assert await client.chunk() == b""  # the terminating chunk
        await client.close()


async def test_heartbeats_keep_a_quiet_stream_alive() -> None:
    async with served(create_stream_app(heartbeat_seconds=0.2)) as url:
        client = await RawClient.get(url, "/stepped")
        assert await client.chunk() == b"retry: 3000\n\n"
        start = time.monotonic()

        beats = [await client.chunk(timeout=1) for _ in range(3)]

        assert beats == [b":\n\n"] * 3
        assert 0.5 <= time.monotonic() - start < 1.5
        await client.close()


async def test_events_push_the_heartbeat_back() -> None:
    app = create_stream_app(heartbeat_seconds=0.3)
    async with served(app) as url:
        client = await RawClient.get(url, "/stepped")
        await client.chunk()
        for _ in range(4):
            await asyncio.sleep(0.15)
            app.state.step.set()
            chunk = await client.chunk(timeout=1)
            assert chunk.startswith(b"event: step"), chunk
        await client.close()


def server_side(app: object) -> tuple[int, int, int]:
    """Open streams, subscriptions and asyncio tasks, as the server sees them."""
    state = app.state  # type: ignore[attr-defined]
    return len(state.streams), len(state.bus.hub), len(asyncio.all_tasks())


async def test_a_client_that_leaves_releases_its_subscription_and_tasks() -> None:
    app = create_stream_app()
    async with served(app) as url:
        await asyncio.sleep(0.1)
        baseline = server_side(app)
        client = await RawClient.get(url, "/topics/t")
        await client.body_until(b"data: 0\n\n")
        assert server_side(app)[:2] == (baseline[0] + 1, baseline[1] + 1)

        client.abort()

        await eventually(lambda: server_side(app) == baseline, timeout=2)


@pytest.mark.faults
async def test_200_streams_dropped_abruptly_leave_nothing_behind() -> None:
    bus = MemoryBus()
    app = create_stream_app(bus)
    async with served(app, backlog=512) as url:
        await asyncio.sleep(0.1)
        baseline = server_side(app)

        clients = await asyncio.gather(
            *(RawClient.get(url, f"/topics/t{i % 20}") for i in range(200))
        )
        await asyncio.gather(*(c.body_until(b"data: 0\n\n") for c in clients))
        assert server_side(app)[:2] == (baseline[0] + 200, baseline[1] + 200)
        for client in clients:
            client.abort()

        took = await eventually(lambda: server_side(app) == baseline, timeout=5)
        assert took < 5


@pytest.mark.faults
async def test_a_client_that_stops_reading_is_dropped_and_delays_no_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="pushgate")
    bus = MemoryBus()
    app = create_stream_app(bus, send_timeout=0.5)
    async with served(app) as url:
        await asyncio.sleep(0.1)
        baseline = server_side(app)
        watcher = await RawClient.get(url, "/topics/news")
        await watcher.body_until(b"data: 0\n\n")

        stalled = await asyncio.to_thread(stalled_socket, url, "/flood")
        try:
            await eventually(lambda: len(app.state.streams) == baseline[0] + 2)
            # While the flood is stuck on the stalled client, others are served
            # at once.
            for wake in range(1, 4):
                start = time.monotonic()
                await bus.publish("news")
                await watcher.body_until(f"data: {wake}\n\n".encode(), timeout=1)
                assert time.monotonic() - start < 0.2
                await asyncio.sleep(0.1)

            # The send times out and the stalled stream goes, tasks and all.
            await eventually(lambda: len(app.state.streams) == baseline[0] + 1, 3)
            assert "client read nothing for 0.5 s" in caplog.text
        finally:
            stalled.close()
        await watcher.close()
        await eventually(lambda: server_side(app) == baseline, timeout=2)


async def test_shutdown_ends_every_stream_cleanly_and_refuses_new_ones() -> None:
    app = create_stream_app()
    async with served(app) as url:
        clients = [await RawClient.get(url, f"/topics/s{i}") for i in range(5)]
        for client in clients:
            await client.body_until(b"data: 0\n\n")

        # From another thread, as a signal handler or a test harness would.
        threading.Thread(target=app.state.streams.cancel_all).start()

        for client in clients:
            assert await client.chunk(timeout=2) == b""
        late = await RawClient.get(url, "/topics/late")
        assert late.status == 503
        await eventually(lambda: len(app.state.bus.hub) == 0)
        for client in [*clients, late]:
            await client.close()


async def test_sigterm_ends_streams_and_then_calls_the_servers_own_handler() -> None:
    app = create_stream_app()
    other_app = StreamRegistry()
    received: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda sig, frame: received.append(sig))
    try:
        async with served(app) as url:
            client = await RawClient.get(url, "/topics/sig")
            await client.body_until(b"data: 0\n\n")
            # uvicorn's handler is in place while it serves: chain after it.
            server_handler = signal.getsignal(signal.SIGTERM)
            with ended_by_exit_signals(app.state.streams):
                os.kill(os.getpid(), signal.SIGTERM)

                assert await client.chunk(timeout=2) == b""
            assert signal.getsignal(signal.SIGTERM) is server_handler
            await client.close()
    finally:
        signal.signal(signal.SIGTERM, previous)
    # uvicorn saw the signal too, and re-raised it to the original handler
    # once it had stopped.
    assert received == [signal.SIGTERM]
    # Only the streams of the app that chained the handler were ended.
    assert not other_app.closing


async def test_an_error_in_the_events_is_not_swallowed() -> None:
    async def broken():  # type: ignore[no-untyped-def]
        raise LookupError("the events failed")
        yield  # pragma: no cover

    stream = EventStream(broken(), registry=StreamRegistry())
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        await asyncio.Event().wait()
        return {}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    with pytest.raises(LookupError):
        await stream({"type": "http"}, receive, send)  # type: ignore[arg-type]
    assert sent[0]["type"] == "http.response.start"


def test_settings_that_make_no_sense_are_refused() -> None:
    async def nothing():  # type: ignore[no-untyped-def]
        yield  # pragma: no cover

    with pytest.raises(ValueError, match="heartbeat"):
        EventStream(nothing(), registry=StreamRegistry(), heartbeat_seconds=0)
