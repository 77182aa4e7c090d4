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

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
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

    async def backend_pids(self) -> set[int]:
        """Database processes serving the server, when they run here."""
        if not self._local:
            return set()
        assert self._connection is not None
        cursor = await self._connection.execute(_CONNECTIONS)
        return {row[0] for row in await cursor.fetchall()}

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


class MachineMonitor:
    """CPU that other programs on this machine use while the benchmark runs.

    On a machine that others share, a benchmark measures their load too;
    the run reports how much CPU went elsewhere, so a slow figure can be
    told from a slow design.
    """

    def __init__(self) -> None:
        self._ours: set[int] = {os.getpid()}
        self._postmaster: int | None = None

    def add(self, *pids: int) -> None:
        self._ours.update(pids)

    def add_postmaster(self, data_dir: Path) -> None:
        """Count an embedded PostgreSQL (and every process it starts) as ours."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            lines = (data_dir / "postmaster.pid").read_text().splitlines()
            self._postmaster = int(lines[0])

    def _our_pids(self) -> set[int]:
        ours = set(self._ours)
        if self._postmaster is not None:
            with contextlib.suppress(psutil.Error):
                postmaster = psutil.Process(self._postmaster)
                ours.add(postmaster.pid)
                ours.update(child.pid for child in postmaster.children())
        return ours

    def snapshot(self) -> Snapshot:
        times = psutil.cpu_times()
        busy = float(sum(times)) - times.idle - getattr(times, "iowait", 0.0)
        ours: dict[int, float] = {}
        for pid in self._our_pids():
            with contextlib.suppress(psutil.Error):
                own = psutil.Process(pid).cpu_times()
                ours[pid] = float(own.user + own.system)
        return Snapshot(time.monotonic(), busy, ours)

    def others_percent(self, before: Snapshot) -> float:
        """CPU of other programs since ``before``, in percent of one core."""
        after = self.snapshot()
        ours = sum(
            seconds - before.ours.get(pid, 0.0) for pid, seconds in after.ours.items()
        )
        others = after.busy - before.busy - ours
        return 100.0 * max(others, 0.0) / max(after.at - before.at, 1e-9)


@dataclass(frozen=True, slots=True)
class Snapshot:
    at: float
    #: CPU seconds the whole machine has been busy, and each of ours.
    busy: float
    ours: dict[int, float]


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
