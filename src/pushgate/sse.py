"""Server-Sent Events: the wire format and a streaming response.

The format follows the HTML Living Standard's event-stream grammar: data is
split into ``data:`` lines at CR, LF and CRLF only (not at the other line
breaks ``str.splitlines`` knows), and event names and ids may never contain
CR, LF or NUL, which would let a value forge a new field.

:class:`EventStream` is a race between the producer (which yields events and
heartbeats) and the client going away; whichever ends first ends the other.
Open streams register themselves so shutdown can end them all at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

logger = logging.getLogger("pushgate")

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_FORBIDDEN = re.compile(r"[\r\n\x00]")


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    data: str | None = None
    event: str | None = None
    id: str | None = None
    retry_ms: int | None = None
    comment: str | None = None

    def encode(self) -> bytes:
        return encode_event(
            data=self.data,
            event=self.event,
            id=self.id,
            retry_ms=self.retry_ms,
            comment=self.comment,
        )


#: Sent when nothing happened for a while, so proxies keep the stream open.
HEARTBEAT = ServerSentEvent(comment="")


def _single_line(field: str, value: str) -> str:
    if _FORBIDDEN.search(value):
        raise ValueError(f"SSE {field} {value!r} must not contain CR, LF or NUL.")
    return value


def encode_event(
    *,
    data: str | None = None,
    event: str | None = None,
    id: str | None = None,
    retry_ms: int | None = None,
    comment: str | None = None,
) -> bytes:
    lines: list[str] = []
    if comment is not None:
        lines.extend(f":{line}" for line in _LINE_BREAK.split(comment))
    if retry_ms is not None:
        if retry_ms < 0:
            raise ValueError(f"SSE retry {retry_ms} must be zero or more.")
        lines.append(f"retry:{int(retry_ms)}")
    if id is not None:
        lines.append(f"id:{_single_line('id', id)}")
    if event is not None:
        lines.append(f"event:{_single_line('event name', event)}")
    if data is not None:
        lines.extend(f"data:{line}" for line in _LINE_BREAK.split(data))
    return ("\n".join(lines) + "\n\n").encode()


class StreamRegistry:
    """The open streams of this process, so shutdown can end them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self.closing = False

    def __len__(self) -> int:
        return len(self._tasks)

    def add(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel_all(self) -> None:
        """End every open stream and refuse new ones (at shutdown).

        Synchronous, so a signal handler can call it through the loop.
        """
        self.closing = True
        for task in list(self._tasks):
            task.cancel()


class EventStream(Response):
    """A ``text/event-stream`` response fed by an async iterator of events."""

    media_type = "text/event-stream"

    def __init__(
        self,
        events: AsyncIterator[ServerSentEvent],
        *,
        registry: StreamRegistry,
        retry_ms: int | None = None,
        send_timeout: float = 30.0,
    ) -> None:
        super().__init__(
            status_code=200,
            headers={
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
                # Compression would hold events back in the compressor's buffer.
                "Content-Encoding": "identity",
            },
            media_type="text/event-stream; charset=utf-8",
        )
        self._events = events
        self._registry = registry
        self._retry_ms = retry_ms
        self._send_timeout = send_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._registry.closing:
            await Response("Server is shutting down.", 503)(scope, receive, send)
            return
        producer = asyncio.create_task(self._produce(send))
        self._registry.add(producer)
        watcher = asyncio.create_task(_until_disconnect(receive))
        try:
            await asyncio.wait({producer, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (producer, watcher):
                task.cancel()
            for task in (producer, watcher):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            aclose = getattr(self._events, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    async def _produce(self, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": self.raw_headers,
            }
        )
        if self._retry_ms is not None:
            await self._send_body(send, encode_event(retry_ms=self._retry_ms))
        async for event in self._events:
            await self._send_body(send, event.encode())
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _send_body(self, send: Send, body: bytes) -> None:
        # A client that stops reading fills its socket buffer and blocks
        # the send; past the timeout it is dropped like one that left.
        async with asyncio.timeout(self._send_timeout):
            await send({"type": "http.response.body", "body": body, "more_body": True})


async def _until_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
