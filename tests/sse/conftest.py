"""Serving the tiny stream app with uvicorn inside the test's event loop.

In the same loop, a test can count the server's asyncio tasks and look at
its bus and registry directly. Clients are raw sockets (to see the bytes
and to misbehave) or httpx with httpx-sse (an independent parser).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from pushgate.sse import StreamRegistry
from tests.support.server import free_port


@contextlib.asynccontextmanager
async def served(
    app: ASGIApp, streams: StreamRegistry | None = None, **options: Any
) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn (httptools, as in production) on a free port.

    On the way out its streams (``streams``, else ``app.state.streams``)
    are ended, as the server's signal handler would.
    """
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http="httptools",
        lifespan=options.pop("lifespan", "off"),
        log_level="warning",
        timeout_graceful_shutdown=2,
        **options,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        if streams is None:
            streams = getattr(getattr(app, "state", None), "streams", None)
        if streams is not None:
            streams.cancel_all()
        server.should_exit = True
        await asyncio.wait_for(task, 10)


class RawClient:
    """One HTTP/1.1 request on a plain socket, read byte by byte as it comes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.status = 0
        self.headers: dict[str, str] = {}

    @classmethod
    async def get(
        cls, base_url: str, path: str, headers: dict[str, str] | None = None
    ) -> RawClient:
        host, port = base_url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        client = cls(reader, writer)
        await client._read_head()
        return client

    async def _read_head(self) -> None:
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 5)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split()[1])
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                self.headers[name.strip().lower()] = value.strip()

    async def chunk(self, timeout: float = 5.0) -> bytes:
        """The next chunk of a chunked body; ``b""`` at the terminating chunk."""
        size_line = await asyncio.wait_for(self.reader.readuntil(b"\r\n"), timeout)
        size = int(size_line.strip(), 16)
        data = await asyncio.wait_for(self.reader.readexactly(size + 2), timeout)
        return data[:-2]

    async def body_until(self, marker: bytes, timeout: float = 5.0) -> bytes:
        """Chunks, joined, until ``marker`` shows up in them."""
        body = b""
        while marker not in body:
            chunk = await self.chunk(timeout)
            if not chunk:
                raise AssertionError(f"stream ended before {marker!r}: {body!r}")
            body += chunk
        return body

    def abort(self) -> None:
        """Vanish without a goodbye: a TCP reset, as a crashed client would."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
        self.writer.transport.abort()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


def stalled_socket(base_url: str, path: str) -> socket.socket:
    """A client that sends its request, then never reads a byte."""
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return sock


async def eventually(condition: Any, timeout: float = 5.0) -> float:
    """Wait until ``condition()`` holds; returns the seconds it took."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not condition():
        if loop.time() - start > timeout:
            raise AssertionError(f"not true within {timeout} s")
        await asyncio.sleep(0.01)
    return loop.time() - start
