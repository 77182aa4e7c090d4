"""A real pushgate server on a free loopback port, in a thread of the test process."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import uvicorn

from pushgate.app import create_app
from pushgate.runtime import Runtime
from pushgate.settings import Settings

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """Runs the whole app under uvicorn; ``call`` runs coroutines on its loop."""

    def __init__(self, settings: Settings, database_url: str) -> None:
        self.port = settings.port
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(settings, database_url)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            loop="asyncio",
            http="httptools",
            lifespan="on",
            log_level="warning",
            timeout_graceful_shutdown=2,
            # As `pushgate serve` runs: forwarding headers are judged by the
            # app (PUSHGATE_TRUSTED_PROXIES), not believed by uvicorn.
            proxy_headers=False,
        )
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())
        self.loop.close()

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    def start(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("pushgate test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.server.started:
            self.runtime.streams.cancel_all()
        self.server.should_exit = True
        self._thread.join(timeout=15)

    def call(
        self, factory: Callable[[], Coroutine[Any, Any, T]], timeout: float = 30
    ) -> T:
        """Run a coroutine on the server's loop (for database set-up in tests)."""
        assert self.loop is not None
        future = asyncio.run_coroutine_threadsafe(factory(), self.loop)
        return future.result(timeout)
