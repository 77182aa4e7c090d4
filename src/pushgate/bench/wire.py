"""Raw HTTP/1.1 over asyncio protocols: the benchmark client's connections.

Ten thousand waiting browsers cost the client one small protocol object and
one socket each: no per-connection task, no stream reader, no HTTP library
state beyond httptools' C parser. Two kinds of connection exist:

- :class:`EventStreamConnection` sends one GET and feeds the event-stream body
  to a callback, event by event;
- :class:`RequestConnection` keeps a connection alive and runs one request at
  a time on it (callbacks and polls).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

import httptools


class HttpError(Exception):
    """The server answered with something other than what was asked for."""


def build_request(
    method: str,
    path: str,
    host: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method != "GET":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class EventParser:
    """The event-stream grammar, enough of it for one server's output.

    Lines end at CR, LF or CRLF; a blank line ends an event; ``field:value``
    with one optional space after the colon; comments start with a colon.
    """

    __slots__ = ("_buffer", "_data", "_event", "_skip_lf")

    def __init__(self) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []
        self._skip_lf = False

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        """Complete events in ``chunk`` (and before it) as ``(name, data)``."""
        if not chunk:
            return []
        if self._skip_lf and chunk.startswith(b"\n"):
            # The LF of a CRLF whose CR ended the previous chunk.
            chunk = chunk[1:]
        self._skip_lf = False
        buffer = self._buffer + chunk
        events: list[tuple[str, str]] = []
        if b"\r" in buffer:
            self._skip_lf = buffer.endswith(b"\r")
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, self._buffer = buffer.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace")
            if not line:
                if self._data:
                    events.append((self._event or "message", "\n".join(self._data)))
                self._event = ""
                self._data = []
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "event":
                self._event = value
            elif name == "data":
                self._data.append(value)
        return events


class EventStreamConnection(asyncio.Protocol):
    """One waiting browser: a GET whose response is an event stream.

    ``on_open(status)`` is called when the response headers arrive,
    ``on_event(name, data)`` for each event, ``on_close(reason)`` once when
    the connection ends (``reason`` is ``None`` when the client closed it).
    """

    def __init__(
        self,
        request: bytes,
        on_open: Callable[[int], None],
        on_event: Callable[[str, str], None],
        on_close: Callable[[str | None], None],
    ) -> None:
        self._request = request
        self._on_open = on_open
        self._on_event = on_event
        self._on_close = on_close
        self._parser = httptools.HttpResponseParser(self)
        self._events = EventParser()
        self.transport: asyncio.Transport | None = None
        self._closing_reason: str | None = "the server closed the stream"
        self._closed = False

    # -- asyncio.Protocol ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio's: no isinstance here.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(f"unreadable response ({error})")

    def connection_lost(self, exc: Exception | None) -> None:
        if self._closed:
            return
        self._closed = True
        if exc is not None and self._closing_reason is not None:
            self._closing_reason = f"connection lost ({type(exc).__name__})"
        self._on_close(self._closing_reason)

    # -- httptools callbacks ------------------------------------------------

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status != 200:
            self._closing_reason = f"HTTP {status}"
        self._on_open(status)
        if status != 200:
            self.close(self._closing_reason)

    def on_body(self, body: bytes) -> None:
        for name, data in self._events.feed(body):
            self._on_event(name, data)

    def on_message_complete(self) -> None:
        self.close("the server ended the stream")

    # -- control ------------------------------------------------------------

    def close(self, reason: str | None = None) -> None:
        """End the stream; ``reason`` ``None`` means the client chose to."""
        self._closing_reason = reason
        if self.transport is not None and not self.transport.is_closing():
            # A reset instead of a FIN leaves no TIME_WAIT behind, so tens of
            # thousands of short streams do not use up the ephemeral ports.
            self.transport.abort()

    def _fail(self, reason: str) -> None:
        self.close(reason)


class RequestConnection(asyncio.Protocol):
    """A keep-alive connection that runs one request at a time."""

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._body: list[bytes] = []
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = False

    @property
    def busy(self) -> bool:
        return self._waiter is not None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._settle(HttpError(f"unreadable response ({error})"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._settle(ConnectionResetError("the server closed the connection"))

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        body = b"".join(self._body)
        self._body = []
        keep_alive = self._parser.should_keep_alive()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((status, body))
        if not keep_alive:
            self.close()

    def send(self, request: bytes) -> asyncio.Future[tuple[int, bytes]]:
        """Write ``request``; the future gives ``(status, body)``."""
        if self.closed or self.transport is None:
            raise ConnectionResetError("the connection is closed")
        if self._waiter is not None:
            raise RuntimeError("RequestConnection runs one request at a time.")
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self._waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()

    def _settle(self, error: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
