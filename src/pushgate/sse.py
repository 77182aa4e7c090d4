"""Server-Sent Events: the wire format and a streaming response.

The format follows the HTML Living Standard's event-stream grammar: data is
split into ``data:`` lines at CR, LF and CRLF only (not at the other line
breaks ``str.splitlines`` knows), and event names and ids may never contain
CR, LF or NUL, which would let a value forge a new field. Every field is
written as ``name: value``: a parser drops one space after the colon, so a
value's own leading space survives.

:class:`EventStream` is a race between the events, the heartbeat, the client
going away and shutdown; whichever ends first ends the others. Open streams
register themselves so shutdown can end them all at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from types import FrameType

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

    def __post_init__(self) -> None:
        # Refuse a bad id or name where the event is made, not when sent.
        self.encode()

    def encode(self) -> bytes:
        return encode_event(
            data=self.data,
            event=self.event,
            id=self.id,
            retry_ms=self.retry_ms,
            comment=self.comment,
        )


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
        lines.append(f"retry: {int(retry_ms)}")
    if id is not None:
        lines.append(f"id: {_single_line('id', id)}")
    if event is not None:
        lines.append(f"event: {_single_line('event name', event)}")
    if data is not None:
        lines.extend(f"data: {line}" for line in _LINE_BREAK.split(data))
    return ("\n".join(lines) + "\n\n").encode()


#: Sent when nothing happened for a while, so proxies keep the stream open.
HEARTBEAT = ServerSentEvent(comment="")
_HEARTBEAT_BYTES = HEARTBEAT.encode()


class StreamRegistry:
    """The open streams of one application, so shutdown can end them.

    :meth:`cancel_all` may be called from a signal handler or another thread:
    it only schedules the ending on the streams' event loop.
    """

    def __init__(self) -> None:
        self.closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        # A future per open stream rather than one they all share: a stream
        # that ends drops its own in O(1), while taking a wait callback off a
        # shared future scans the callbacks of every open stream (ten
        # thousand of them, each time one of them ends).
        self._endings: set[asyncio.Future[None]] = set()

    def __len__(self) -> int:
        return len(self._endings)

    def cancel_all(self) -> None:
        """End every open stream cleanly and refuse new ones (at shutdown)."""
        self.closing = True
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._end_all)

    def _end_all(self) -> None:
        for ending in list(self._endings):
            _set_done(ending)

    @contextlib.contextmanager
    def _opened(self) -> Iterator[asyncio.Future[None]]:
        loop = self._loop = asyncio.get_running_loop()
        ending: asyncio.Future[None] = loop.create_future()
        if self.closing:
            ending.set_result(None)
        self._endings.add(ending)
        try:
            yield ending
        finally:
            self._endings.discard(ending)


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@contextlib.contextmanager
def ended_by_exit_signals(registry: StreamRegistry) -> Iterator[None]:
    """End the registry's open streams the moment SIGTERM or SIGINT arrives.

    uvicorn's own handler only asks the server to stop; the server then
    waits for open connections, which event streams never close by
    themselves. This handler ends the streams first and then calls the one
    it replaced. Only the main thread can set signal handlers; elsewhere
    (a server in a test thread) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in _EXIT_SIGNALS}

    def handler(sig: int, frame: FrameType | None) -> None:
        registry.cancel_all()
        prior = previous[signal.Signals(sig)]
        if callable(prior):
            prior(sig, frame)
        elif prior == signal.SIG_DFL:
            signal.signal(sig, prior)
            signal.raise_signal(sig)

    for sig in _EXIT_SIGNALS:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, prior in previous.items():
            if signal.getsignal(sig) is handler and prior is not None:
                signal.signal(sig, prior)


_EXIT_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class EventStream(Response):
    """A ``text/event-stream`` response fed by an async iterator of events.

    Four things race: the events (sent as they come), the heartbeat (a
    comment after ``heartbeat_seconds`` of silence), the client leaving, and
    shutdown. The first to finish ends the stream and the others are
    cancelled, so nothing outlives the response. A send that cannot finish
    within ``send_timeout`` (the client stopped reading and its buffers are
    full) drops the client like one that left.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        events: AsyncIterator[ServerSentEvent],
        *,
        registry: StreamRegistry,
        heartbeat_seconds: float = 15.0,
        retry_ms: int | None = None,
        send_timeout: float = 15.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if heartbeat_seconds <= 0 or send_timeout <= 0:
            raise ValueError(
                f"SSE heartbeat ({heartbeat_seconds}) and send timeout "
                f"({send_timeout}) must be positive seconds."
            )
        # Not Response.__init__: it would set a Content-Length for the empty
        # body, and this body never ends on its own.
        self.status_code = 200
        self.background = None
        self.init_headers(
            {
                **(headers or {}),
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
                # Compression would hold events back in the compressor's
                # buffer. Any Content-Encoding stops compressing middleware
                # and proxies (nginx's gzip among them) from adding one.
                "Content-Encoding": "identity",
                "Content-Type": "text/event-stream; charset=utf-8",
            }
        )
        self._events = events
        self._registry = registry
        self._heartbeat_seconds = heartbeat_seconds
        self._retry_ms = retry_ms
        self._send_timeout = send_timeout
        self._send_lock = asyncio.Lock()
        self._last_sent = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._registry.closing:
            await _shutting_down(scope, receive, send)
            return
        with self._registry._opened() as ending:
            try:
                await self._race(receive, send, ending)
            finally:
                aclose = getattr(self._events, "aclose", None)
                if aclose is not None:
                    with contextlib.suppress(Exception):
                        await aclose()

    async def _race(
        self, receive: Receive, send: Send, ending: asyncio.Future[None]
    ) -> None:
        try:
            await self._start(send)
        except _ClientStalled:
            self._log_stalled()
            return
        producer = asyncio.create_task(self._produce(send))
        heartbeat = asyncio.create_task(self._heartbeat(send))
        watcher = asyncio.create_task(_until_disconnect(receive))
        tasks = (producer, heartbeat, watcher)
        try:
            await asyncio.wait({*tasks, ending}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if watcher.done() and not watcher.cancelled():
            return  # The client left: there is nobody to finish for.
        for task in (producer, heartbeat):
            error = _error(task)
            if isinstance(error, _ClientStalled):
                self._log_stalled()
                return
            if error is not None:
                raise error
        # The events ran out or the server is shutting down: end the body
        # properly so the client sees a clean end (and reconnects elsewhere).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(min(self._send_timeout, 1.0)):
                await send({"type": "http.response.body", "body": b""})

    def _log_stalled(self) -> None:
        # Returning with the response unfinished makes the server close the
        # connection (uvicorn logs that it did).
        logger.debug(
            "Dropped an event stream whose client read nothing for %g s",
            self._send_timeout,
        )

    async def _start(self, send: Send) -> None:
        start = {
            "type": "http.response.start",
            "status": self.status_code,
            "headers": self.raw_headers,
        }
        try:
            async with asyncio.timeout(self._send_timeout):
                await send(start)
        except TimeoutError:
            raise _ClientStalled from None
        if self._retry_ms is not None:
            await self._send_body(send, encode_event(retry_ms=self._retry_ms))
        else:
            # A first chunk right away tells the client the stream is open.
            await self._send_body(send, _HEARTBEAT_BYTES)

    async def _produce(self, send: Send) -> None:
        async for event in self._events:
            await self._send_body(send, event.encode())

    async def _heartbeat(self, send: Send) -> None:
        loop = asyncio.get_running_loop()
        interval = self._heartbeat_seconds
        while True:
            await asyncio.sleep(max(0.0, self._last_sent + interval - loop.time()))
            if loop.time() - self._last_sent >= interval:
                await self._send_body(send, _HEARTBEAT_BYTES)

    async def _send_body(self, send: Send, body: bytes) -> None:
        # A client that stops reading fills its socket buffer and blocks
        # the send; past the timeout it is dropped like one that left.
        try:
            async with asyncio.timeout(self._send_timeout), self._send_lock:
                await send(
                    {"type": "http.response.body", "body": body, "more_body": True}
                )
        except TimeoutError:
            raise _ClientStalled from None
        self._last_sent = asyncio.get_running_loop().time()


class _ClientStalled(Exception):
    """A send waited ``send_timeout`` for the client to read."""


def _error(task: asyncio.Task[None]) -> BaseException | None:
    if not task.done() or task.cancelled():
        return None
    return task.exception()


async def _shutting_down(scope: Scope, receive: Receive, send: Send) -> None:
    response = Response("Server is shutting down.", 503, headers={"Retry-After": "1"})
    await response(scope, receive, send)


async def _until_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
