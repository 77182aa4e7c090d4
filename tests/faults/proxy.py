"""A loopback TCP proxy that a test can cut or freeze, to fake network faults."""

from __future__ import annotations

import asyncio
import contextlib
import socket

from tests.support.server import free_port


class FaultyProxy:
    """Forwards 127.0.0.1:``port`` to ``target``, in the test's event loop.

    :meth:`cut` resets every open connection (a network error);
    :meth:`freeze` stops forwarding and refuses new connections while
    keeping the open ones up (a peer that stopped answering); :meth:`thaw`
    undoes it.
    """

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def start(self) -> FaultyProxy:
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )
        return self

    async def stop(self) -> None:
        await self._close_listener()
        self.cut()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    def cut(self) -> None:
        for writer in list(self._writers):
            # SO_LINGER 0: close with a reset, as a broken network would.
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2
                    )
            writer.transport.abort()
        self._writers.clear()

    async def freeze(self) -> None:
        self._flowing.clear()
        await self._close_listener()

    async def thaw(self) -> None:
        self.cut()  # the frozen connections are dead to both ends by now
        self._flowing.set()
        await self.start()

    async def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _accept(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.update((client_writer, server_writer))
        for reader, writer in (
            (client_reader, server_writer),
            (server_reader, client_writer),
        ):
            task = asyncio.create_task(self._pipe(reader, writer))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while data := await reader.read(65536):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.transport.abort()
            self._writers.discard(writer)
