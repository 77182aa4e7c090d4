"""A tiny Starlette app built on EventStream and the bus, for SSE-level tests.

Routes:

- ``GET /topics/{topic}``: subscribe, send ``state`` with the number of
  wake-ups so far (0 at once), then one more at every wake-up, forever.
- ``POST /publish/{topic}``: publish the topic on the bus.
- ``GET /fixed``: the events of :data:`FIXED_EVENTS`, then the end.
- ``GET /stepped``: one event each time the test sets ``app.state.step``.
- ``GET /flood``: 64 KiB events as fast as they can be sent.
- ``GET /status``: open streams, subscriptions and tasks of this process.

:func:`create_from_environment` builds it with a real bus for a subprocess
(``uvicorn --factory tests.sse.stream_app:create_from_environment``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pushgate.db.engine import create_engine
from pushgate.events.bus import EventBus
from pushgate.events.memory import MemoryBus
from pushgate.sse import (
    EventStream,
    ServerSentEvent,
    StreamRegistry,
    ended_by_exit_signals,
)

FIXED_EVENTS = [
    ServerSentEvent(event="first", data="one line"),
    ServerSentEvent(event="multi", data="a\nb\r\nc\rd", id="id-1"),
    ServerSentEvent(data=" leading space and unicode breaks \u2028\u2029\x85\x0b\x0c"),
    ServerSentEvent(comment="a comment\nover two lines"),
    ServerSentEvent(event="last", data='{"status": "approved"}', id=""),
]


def create_stream_app(
    bus: EventBus | None = None,
    *,
    registry: StreamRegistry | None = None,
    heartbeat_seconds: float = 15.0,
    send_timeout: float = 15.0,
    retry_ms: int | None = 3000,
    lifespan: object = None,
) -> Starlette:
    the_bus = bus or MemoryBus()
    streams = registry or StreamRegistry()

    def stream(events: AsyncIterator[ServerSentEvent]) -> EventStream:
        return EventStream(
            events,
            registry=streams,
            heartbeat_seconds=heartbeat_seconds,
            send_timeout=send_timeout,
            retry_ms=retry_ms,
        )

    async def topic(request: Request) -> Response:
        name = request.path_params["topic"]

        async def events() -> AsyncIterator[ServerSentEvent]:
            with the_bus.subscribe(name) as subscription:
                wakes = 0
                while True:
                    yield ServerSentEvent(event="state", data=str(wakes))
                    await subscription.wait()
                    wakes += 1

        return stream(events())

    async def publish(request: Request) -> Response:
        await the_bus.publish(request.path_params["topic"])
        return Response(status_code=204)

    async def fixed(request: Request) -> Response:
        async def events() -> AsyncIterator[ServerSentEvent]:
            for event in FIXED_EVENTS:
                yield event

        return stream(events())

    async def stepped(request: Request) -> Response:
        async def events() -> AsyncIterator[ServerSentEvent]:
            number = 0
            while True:
                step: asyncio.Event = request.app.state.step
                await step.wait()
                step.clear()
                number += 1
                yield ServerSentEvent(event="step", data=str(number))

        return stream(events())

    async def flood(request: Request) -> Response:
        async def events() -> AsyncIterator[ServerSentEvent]:
            chunk = "x" * 65536
            while True:
                yield ServerSentEvent(data=chunk)

        return stream(events())

    async def status(request: Request) -> Response:
        return JSONResponse(
            {
                "streams": len(streams),
                "subscriptions": len(the_bus.hub),
                "tasks": len(asyncio.all_tasks()),
                "bus": the_bus.status(),
            }
        )

    app = Starlette(
        routes=[
            Route("/topics/{topic}", topic),
            Route("/publish/{topic}", publish, methods=["POST"]),
            Route("/fixed", fixed),
            Route("/stepped", stepped),
            Route("/flood", flood),
            Route("/status", status),
            Route("/readyz", status),
        ],
        lifespan=lifespan,  # type: ignore[arg-type]
    )
    app.state.step = asyncio.Event()
    app.state.bus = the_bus
    app.state.streams = streams
    return app


def create_from_environment() -> Starlette:
    """The app with the bus named by STREAM_APP_BUS (postgres or redis)."""
    kind = os.environ["STREAM_APP_BUS"]
    engines: list[AsyncEngine] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        bus = app.state.bus
        await bus.start()
        try:
            with ended_by_exit_signals(app.state.streams):
                yield
        finally:
            await bus.stop()
            for engine in engines:
                await engine.dispose()

    bus: EventBus
    if kind == "postgres":
        from pushgate.events.postgres import PostgresBus

        url = os.environ["PUSHGATE_DATABASE_URL"]
        engine = create_engine(url, pool_size=2)
        engines.append(engine)
        bus = PostgresBus(engine, url)
    else:
        from pushgate.events.redis import RedisBus

        bus = RedisBus(os.environ["PUSHGATE_REDIS_URL"], channel=os.environ["CHANNEL"])
    return create_stream_app(bus, heartbeat_seconds=1.0, lifespan=lifespan)
