"""What the server costs while it runs: memory, CPU and database connections.

The benchmark runs in a database of its own, so the server's connections are
all the client connections to it but the harness's own. A connection counts
as listening when it is the event bus's (named ``pushgate-events``) or its
last statement was a ``LISTEN``. When the database runs on this machine the
memory of the processes serving those connections is read too (private
memory, USS), because in one of the designs that memory is the main cost of
a waiting browser.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import psutil
import psycopg

from pushgate.events.postgres import APPLICATION_NAME as LISTENER_NAME

_CONNECTIONS = """
    SELECT pid, state, query, application_name FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()
      AND backend_type = 'client backend'
"""


@dataclass(slots=True)
class Connections:
    total: int = 0
    active: int = 0
    listening: int = 0
    #: Private memory of the database processes serving them, when visible.
    backend_bytes: int | None = None


@dataclass(slots=True)
class CpuWindow:
    started_at: float
    started_cpu: float

    def percent(self, ended_at: float, ended_cpu: float) -> float:
        """CPU time as a percentage of one core over the window."""
        elapsed = max(ended_at - self.started_at, 1e-9)
        return 100.0 * (ended_cpu - self.started_cpu) / elapsed


class ProcessMonitor:
    """Memory and CPU time of one process (and optionally its children)."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)

    def rss(self) -> int:
        return int(self.process.memory_info().rss)

    def cpu_seconds(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system)

    def window(self) -> CpuWindow:
        return CpuWindow(time.monotonic(), self.cpu_seconds())

    def percent_since(self, window: CpuWindow) -> float:
        return window.percent(time.monotonic(), self.cpu_seconds())


class DatabaseMonitor:
    """The server's connections as the database itself sees them."""

    def __init__(self, conninfo: str, local: bool) -> None:
        self._conninfo = conninfo
        self._local = local
        self._connection: psycopg.AsyncConnection[Any] | None = None

    async def open(self) -> None:
        # Opened before any design runs, so it is there even when one of them
        # has taken every connection the database allows.
        self._connection = await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, application_name="pushgate-bench"
        )

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def max_connections(self) -> int:
        assert self._connection is not None
        cursor = await self._connection.execute("SHOW max_connections")
        row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def connections(self, memory: bool = False) -> Connections:
        assert self._connection is not None
        cursor = await self._connection.execute(_CONNECTIONS)
        rows = await cursor.fetchall()
        found = Connections(total=len(rows))
        for _, state, query, name in rows:
            if state == "active":
                found.active += 1
            listen = (query or "").lstrip().upper().startswith("LISTEN")
            if listen or name == LISTENER_NAME:
                found.listening += 1
        if memory and self._local:
            found.backend_bytes = _private_memory([row[0] for row in rows])
        return found


def _private_memory(pids: list[int]) -> int | None:
    total = 0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            if "postgres" not in process.name():
                return None
            total += int(process.memory_full_info().uss)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total
