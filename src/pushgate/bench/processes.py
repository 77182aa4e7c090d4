"""The processes a benchmark run starts: the server and the load clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, TextIO

import httpx


class BenchFailed(Exception):
    """The benchmark could not run to the end; the message says why."""


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class ServerProcess:
    """``python -m pushgate.bench.server`` with its own settings."""

    def __init__(
        self, process: asyncio.subprocess.Process, port: int, log_path: Path
    ) -> None:
        self.process = process
        self.port = port
        self.log_path = log_path
        self.base_url = f"http://127.0.0.1:{port}"
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=5.0)

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    async def start(
        cls, settings: dict[str, str], port: int, workdir: Path, name: str
    ) -> ServerProcess:
        # Only the settings given here: an operator's PUSHGATE_* variables or
        # .env file must not change what the benchmark measures.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHGATE_")}
        env.update(settings)
        log_path = workdir / f"server-{name}.log"
        with log_path.open("w") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "pushgate.bench.server",
                cwd=workdir,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        server = cls(process, port, log_path)
        await server._wait_ready()
        return server

    async def _wait_ready(self, timeout: float = 60.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self.process.returncode is not None:
                raise BenchFailed(
                    f"The benchmark server exited with code {self.process.returncode}"
                    f" before it was ready:\n{_tail(self.log_path)}"
                )
            with contextlib.suppress(httpx.HTTPError):
                response = await self._http.get("/readyz")
                if response.status_code == 200:
                    return
            await asyncio.sleep(0.1)
        await self.stop()
        raise BenchFailed(
            f"The benchmark server was not ready within {timeout:g} s:\n"
            f"{_tail(self.log_path)}"
        )

    async def waiters(self) -> int | None:
        """How many subscriptions the server's event bus holds, if it says."""
        try:
            response = await self._http.get("/readyz")
            events = response.json().get("events", {})
        except (httpx.HTTPError, ValueError):
            return None
        waiters = events.get("waiters") if isinstance(events, dict) else None
        return waiters if isinstance(waiters, int) else None

    async def stop(self) -> None:
        await self._http.aclose()
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(15):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


class ClientProcess:
    """``python -m pushgate.bench.client``, spoken to in JSON lines."""

    def __init__(
        self, index: int, process: asyncio.subprocess.Process, log_path: Path
    ) -> None:
        self.index = index
        self.process = process
        self.log_path = log_path
        #: The client's last progress report.
        self.progress: dict[str, Any] = {}

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    async def start(cls, index: int, workdir: Path) -> ClientProcess:
        log_path = workdir / f"client-{index}.log"
        log: TextIO
        with log_path.open("w") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "pushgate.bench.client",
                cwd=workdir,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                # A reply carries every latency measured: far beyond 64 KB.
                limit=1 << 28,
            )
        return cls(index, process, log_path)

    async def command(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send one command and wait for its reply, keeping progress reports."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.progress = {}
        line = json.dumps({"op": op, **fields}) + "\n"
        self.process.stdin.write(line.encode())
        await self.process.stdin.drain()
        while True:
            raw = await self.process.stdout.readline()
            if not raw:
                raise BenchFailed(
                    f"Benchmark client {self.index} stopped during {op!r}:\n"
                    f"{_tail(self.log_path)}"
                )
            message = json.loads(raw)
            if message.get("type") == "progress":
                self.progress = message
                continue
            if message.get("type") == "done" and message.get("op") == op:
                return dict(message)

    async def stop(self) -> None:
        if self.process.returncode is not None:
            return
        with contextlib.suppress(Exception):
            assert self.process.stdin is not None
            self.process.stdin.write(b'{"op": "exit"}\n')
            await self.process.stdin.drain()
            self.process.stdin.close()
        try:
            async with asyncio.timeout(10):
                await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
