"""``pushgate bench``: the real-time design against the two it replaces.

One run measures three designs, each on a freshly started server process
over the same database:

``realtime``
    pushgate: ``GET /authy/live_status`` (SSE) fed by one ``LISTEN``
    connection per process and fanned out in memory;
``polling``
    the page asks ``GET /bench/poll`` every 2 seconds;
``connection_per_waiter``
    every waiting stream holds its own database connection and ``LISTEN``.

For each: the harness writes the users, sessions and pending login attempts
straight into the database, the load clients (separate processes) open the
waiting browsers, then send signed approval callbacks to the real
``POST /authy/callback`` at a steady rate and time each one until its waiter
sees ``approved``. With ``--replace`` a waiter that finished is replaced by
a new one (a new login), so the number waiting holds steady while approvals
flow and the server also pays for opening streams.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import secrets
import shlex
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pushgate.bench import report, seed
from pushgate.bench.baselines import OWN_CONNECTION_PATH, POLL_PATH, SESSION_COOKIE
from pushgate.bench.monitor import (
    CpuWindow,
    DatabaseMonitor,
    MachineMonitor,
    ProcessMonitor,
)
from pushgate.bench.processes import BenchFailed, ClientProcess, ServerProcess

CALLBACK_PATH = "/authy/callback"
LIVE_STATUS_PATH = "/authy/live_status"
#: Waiters opened, approved and closed before measuring, so the first
#: measured request does not pay for imports, caches and pool connections.
WARM_UP = 20
#: Seconds after the last callback before an undelivered approval is lost.
LOST_AFTER = 10.0
POLL_LOST_AFTER = 30.0
#: Connections left free for the server's own pool (pool size 10 plus 10
#: overflow by default, and a few to spare).
POOL_ROOM = 25
MB = 1024 * 1024


@dataclass(frozen=True)
class Design:
    key: str
    title: str
    description: str
    mode: str
    path: str
    #: Open waiters until the server refuses one, and report how many it held.
    until_failure: bool = False


REALTIME = Design(
    "realtime",
    "pushgate (SSE, one LISTEN)",
    "GET /authy/live_status: one LISTEN connection per process, in-memory fan-out",
    "stream",
    LIVE_STATUS_PATH,
)
POLLING = Design(
    "polling",
    "polling every 2 s",
    "the page asks GET /bench/poll every 2 s",
    "poll",
    POLL_PATH,
)
CONNECTION_PER_WAITER = Design(
    "connection_per_waiter",
    "a connection per waiter",
    "SSE where each waiting stream holds its own database connection and LISTEN",
    "stream",
    OWN_CONNECTION_PATH,
    until_failure=True,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Measure how fast an approval reaches a waiting browser, and what "
        "waiting costs, for pushgate and the two designs it replaces."
    )
    parser.add_argument(
        "--waiters", type=int, default=10_000, help="waiting browsers (10000)"
    )
    parser.add_argument(
        "--rate", type=float, default=200.0, help="approvals per second (200)"
    )
    parser.add_argument(
        "--approvals",
        type=int,
        help="approvals sent to pushgate's design (10 seconds' worth at --rate, "
        "at most --waiters unless --replace)",
    )
    parser.add_argument(
        "--baseline-approvals",
        type=int,
        help="approvals sent to each baseline (10 seconds' worth at --rate)",
    )
    parser.add_argument(
        "--replace",
        action="store_true",
        help="open a new waiting browser for each one approved, so the number "
        "waiting stays the same (the server then also opens a stream per "
        "approval)",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=2.0,
        help="seconds between a polling page's requests (2)",
    )
    parser.add_argument(
        "--database-url",
        help="PostgreSQL server URL on which the benchmark creates (and drops) a "
        "database of its own; unset: an embedded PostgreSQL. The "
        "connection-per-waiter baseline takes every connection that server has "
        "left for a few seconds: do not point this at a shared server.",
    )
    parser.add_argument(
        "--json",
        default="bench-results.json",
        metavar="PATH",
        help="where to write the results (bench-results.json)",
    )
    parser.add_argument(
        "--skip-baselines",
        action="store_true",
        help="measure pushgate's design only",
    )
    parser.add_argument(
        "--clients",
        type=int,
        default=2,
        help="load client processes sharing the waiters (2)",
    )
    parser.add_argument(
        "--late-after-ms",
        type=float,
        default=1000.0,
        help="an approval seen later than this counts as late; for polling the "
        "poll interval is added (1000)",
    )
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=3.0,
        help="seconds of waiting with nothing happening, to measure what "
        "waiting alone costs (3)",
    )
    parser.add_argument(
        "--priority",
        action="store_true",
        help="run the benchmark's processes (and an embedded database) ahead of "
        "other programs, at nice -10 (needs root); for a machine that is busy "
        "with other work",
    )
    parser.add_argument(
        "--profile",
        metavar="PATH",
        help="record the server with py-spy while pushgate's design is approving "
        "and write the collapsed stacks to PATH, with a summary in the results",
    )


def run(args: argparse.Namespace) -> int:
    problem = _check(args)
    if problem:
        print(f"pushgate bench: {problem}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_stoppable(Bench(args).run()))
    except BenchFailed as error:
        print(f"\npushgate bench: {error}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\npushgate bench: interrupted", file=sys.stderr)
        return 130


async def _stoppable(run: Coroutine[Any, Any, int]) -> int:
    """``run``, cancelled by SIGTERM so that servers and databases stop."""
    task = asyncio.ensure_future(run)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await task
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def _check(args: argparse.Namespace) -> str | None:
    if args.waiters < 1:
        return f"--waiters {args.waiters} must be 1 or more."
    if args.rate <= 0:
        return f"--rate {args.rate:g} must be more than 0."
    if args.clients < 1:
        return f"--clients {args.clients} must be 1 or more."
    if args.idle_seconds < 0:
        return f"--idle-seconds {args.idle_seconds:g} must be 0 or more."
    if args.poll_interval <= 0:
        return f"--poll-interval {args.poll_interval:g} must be more than 0."
    for name in ("approvals", "baseline_approvals"):
        value = getattr(args, name)
        if value is not None and value < 1:
            flag = "--" + name.replace("_", "-")
            return f"{flag} {value} must be 1 or more."
    return None


class Progress:
    """One line that keeps changing on a terminal, occasional lines elsewhere."""

    def __init__(self, stream: Any = sys.stderr) -> None:
        self._stream = stream
        self._live = stream.isatty()
        self._last = 0.0
        self._width = 0

    def show(self, text: str) -> None:
        if self._live:
            self._stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
            self._stream.flush()
        elif time.monotonic() - self._last >= 2.0:
            self._last = time.monotonic()
            self._stream.write(text + "\n")
            self._stream.flush()

    def say(self, text: str) -> None:
        if self._live and self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._width = 0
        self._stream.write(text + "\n")
        self._stream.flush()


def raise_open_files_limit(needed: int) -> str | None:
    """Raise the open-files limit to ``needed``; a warning when it cannot."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return None
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, max(hard, needed)))
        return f"Raised the open-files limit from {soft} to {needed}."
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return (
        f"WARNING: the open-files limit is {max(soft, hard)} and cannot be "
        f"raised to the {needed} this run needs; expect failed connections, or "
        "raise it (ulimit -n as root) or lower --waiters."
    )


#: The niceness ``--priority`` asks for; every process the harness starts
#: inherits it.
PRIORITY = -10


def raise_priority() -> str:
    try:
        os.setpriority(os.PRIO_PROCESS, 0, PRIORITY)
    except OSError as error:
        return (
            f"WARNING: --priority could not set nice {PRIORITY} ({error.strerror}); "
            "run as root, or on a quiet machine without it."
        )
    return f"Running at nice {PRIORITY}, ahead of other programs on this machine."


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.waiters: int = args.waiters
        self.rate: float = args.rate
        self.approvals: int = args.approvals or max(1, round(10 * args.rate))
        self.baseline_approvals: int = args.baseline_approvals or max(
            1, round(10 * args.rate)
        )
        self.progress = Progress()
        self.api_key = secrets.token_urlsafe(32)
        self.port = _free_port()
        self.clients: list[ClientProcess] = []
        self.notes: list[str] = []
        self.machine = MachineMonitor()
        self.load_at_start = os.getloadavg()[0]

    # -- the run ------------------------------------------------------------

    async def run(self) -> int:
        started = time.monotonic()
        note = raise_open_files_limit(self.waiters + 4096)
        if note:
            self.progress.say(note)
            self.notes.append(note)
        if self.args.priority:
            note = raise_priority()
            self.progress.say(note)
            self.notes.append(note)
        designs = [REALTIME]
        if not self.args.skip_baselines:
            designs += [POLLING, CONNECTION_PER_WAITER]
        with tempfile.TemporaryDirectory(prefix="pushgate-bench-") as folder:
            workdir = Path(folder)
            async with self._database(workdir) as (url, local):
                results = await self._measure(designs, workdir, url, local)
        document = self._document(results, time.monotonic() - started)
        self.progress.say("")
        # The results go to standard output, the progress to standard error.
        print(report.table(results))
        warning = report.busy_machine_warning(results)
        if warning:
            print(warning)
            self.notes.append(warning)
        self._say_targets(results["realtime"])
        summary = results["realtime"].get("profile")
        if summary:
            from pushgate.bench import profile

            print("\n" + profile.describe(summary))
        path = Path(self.args.json)
        await asyncio.to_thread(path.write_text, json.dumps(document, indent=2) + "\n")
        print(f"\nResults written to {path}", flush=True)
        return 0

    async def _measure(
        self, designs: list[Design], workdir: Path, url: str, local: bool
    ) -> dict[str, dict[str, Any]]:
        from pushgate.db.engine import libpq_url
        from pushgate.db.migrate import upgrade

        self.progress.say("Applying migrations")
        await asyncio.to_thread(upgrade, url)
        conninfo = libpq_url(url)
        self.progress.say(f"Creating {self.waiters:,} users")
        users = await asyncio.to_thread(seed.create_users, conninfo, self.waiters)
        database = DatabaseMonitor(conninfo, local)
        await database.open()
        results: dict[str, dict[str, Any]] = {}
        try:
            self.clients = [
                await ClientProcess.start(index, workdir)
                for index in range(self.args.clients)
            ]
            self.machine.add(*(client.pid for client in self.clients))
            for design in designs:
                self.progress.say(f"\n== {design.title}: {design.description}")
                results[design.key] = await self._design(
                    design, workdir, url, conninfo, users, database
                )
        finally:
            for client in self.clients:
                await client.stop()
            await database.close()
        return results

    @contextlib.asynccontextmanager
    async def _database(self, workdir: Path) -> AsyncIterator[tuple[str, bool]]:
        if self.args.database_url:
            with _scratch_database(self.args.database_url) as (url, local):
                self.progress.say("Created a scratch database for this run")
                yield url, local
            return
        from pushgate.db.embedded import EmbeddedPostgres

        self.progress.say("Starting an embedded PostgreSQL")
        embedded = EmbeddedPostgres(workdir)
        url = await asyncio.to_thread(embedded.start)
        self.machine.add_postmaster(embedded.path)
        try:
            yield url, True
        finally:
            await asyncio.to_thread(embedded.stop)

    # -- one design ---------------------------------------------------------

    def replacing(self, design: Design) -> bool:
        # Never in the connection-per-waiter design: a replacement would wait
        # for a database connection of its own, and the rate would measure how
        # fast the database starts backends.
        return bool(self.args.replace) and not design.until_failure

    async def _design(
        self,
        design: Design,
        workdir: Path,
        url: str,
        conninfo: str,
        users: list[seed.User],
        database: DatabaseMonitor,
    ) -> dict[str, Any]:
        approvals = self.approvals if design is REALTIME else self.baseline_approvals
        if not self.replacing(design):
            approvals = min(approvals, self.waiters)
        warm_up = 5 if design.until_failure else WARM_UP
        count = warm_up + self.waiters + (approvals if self.replacing(design) else 0)
        self.progress.say(f"Writing {count:,} login attempts and sessions")
        logins = await asyncio.to_thread(seed.create_logins, conninfo, users, count)
        warm, waiting, spares = (
            logins[:warm_up],
            logins[warm_up : warm_up + self.waiters],
            logins[warm_up + self.waiters :],
        )
        server = await ServerProcess.start(
            self._server_settings(url, workdir), self.port, workdir, design.key
        )
        try:
            return await self._run_design(
                design, server, database, warm, waiting, spares, approvals
            )
        finally:
            for client in self.clients:
                with contextlib.suppress(BenchFailed):
                    await client.command("reset")
            await server.stop()

    def _server_settings(self, url: str, workdir: Path) -> dict[str, str]:
        public = f"http://127.0.0.1:{self.port}"
        return {
            "PUSHGATE_DATABASE_URL": url,
            "PUSHGATE_HOST": "127.0.0.1",
            "PUSHGATE_PORT": str(self.port),
            "PUSHGATE_PUBLIC_URL": public,
            "PUSHGATE_SERVICE_URL": public,
            "PUSHGATE_SERVICE_API_KEY": self.api_key,
            "PUSHGATE_SECRET_KEY": secrets.token_urlsafe(32),
            "PUSHGATE_DATA_DIR": str(workdir),
            "PUSHGATE_EVENT_BACKEND": "postgres",
            # Callbacks come from the load clients, standing in for the
            # approval service: the job worker would only poll its queue.
            "PUSHGATE_RUN_WORKER": "false",
            "PUSHGATE_LOG_LEVEL": "WARNING",
        }

    async def _run_design(
        self,
        design: Design,
        server: ServerProcess,
        database: DatabaseMonitor,
        warm: list[seed.Login],
        waiting: list[seed.Login],
        spares: list[seed.Login],
        approvals: int,
    ) -> dict[str, Any]:
        monitor = ProcessMonitor(server.pid)
        self.machine.add(server.pid)
        for client in self.clients:
            await client.command(
                "start",
                host="127.0.0.1",
                port=self.port,
                index=client.index,
                api_key=self.api_key,
                callback_path=CALLBACK_PATH,
                callback_url=f"{server.base_url}{CALLBACK_PATH}",
                cookie_name=SESSION_COOKIE,
            )
        await self._warm_up(design, warm)
        await asyncio.sleep(0.5)
        rss_before = monitor.rss()

        opened = await self._open(design, waiting, spares)
        held, failure = opened["open"], opened.get("failure")
        errors: Counter[str] = Counter(opened["errors"])
        open_now = held
        if design.until_failure and held > 1:
            # At the limit the callbacks themselves get no connection (that
            # is how this design fails); latency is measured below it, with
            # room left for the server's pool to grow to its full size.
            keep = max(1, held - POOL_ROOM)
            trimmed = await self.clients[0].command("trim", keep=keep)
            open_now = trimmed["open"]
        if design.mode == "stream" and not design.until_failure:
            await self._wait_subscribed(server, open_now)
        if design.mode == "poll":
            for client in self.clients:
                await client.command("poll")
        await asyncio.sleep(1.0)
        rss_waiting = monitor.rss()
        waiting_connections = await database.connections(memory=True)
        idle = monitor.window()
        await asyncio.sleep(self.args.idle_seconds)
        cpu_waiting = monitor.percent_since(idle)

        late_after = self.args.late_after_ms
        lost_after = LOST_AFTER
        if design.mode == "poll":
            late_after += self.args.poll_interval * 1000
            # A server that cannot keep up answers polls late, not never.
            lost_after = POLL_LOST_AFTER + self.args.poll_interval
        if not self.replacing(design):
            approvals = min(approvals, open_now)
        measured = await self._approve(
            design, server, monitor, database, approvals, late_after, lost_after
        )
        errors.update(measured["errors"])
        open_count = held if design.until_failure else opened["open"]
        per_waiter = (rss_waiting - rss_before) / max(open_now, 1) / 1024
        backend = waiting_connections.backend_bytes
        result: dict[str, Any] = {
            "key": design.key,
            "title": design.title,
            "description": design.description,
            "waiters": self.waiters,
            "waiters_open": open_count,
            "held_before_failure": held if design.until_failure else None,
            "failure": failure,
            "waiters_during_approvals": open_now,
            "rate": self.rate,
            "approvals": {
                "sent": measured["sent"],
                "accepted": measured["accepted"],
                "delivered": measured["delivered"],
                "lost": measured["lost"],
                "late": measured["late"],
                "late_after_ms": late_after,
                # Not seen this long after the last callback left: lost.
                "lost_after_s": lost_after,
            },
            "latency_ms": report.summarize(measured["latencies_ms"]),
            # Latency by the second its callback left: a stall (a garbage
            # collection, a slow commit) shows as one bad second.
            "latency_by_second": report.by_second(
                measured["sent_offsets_s"], measured["latencies_ms"]
            ),
            "callback_response_ms": report.summarize(measured["callback_ms"]),
            # How late callbacks left against their schedule: a busy client
            # would send fewer per second than asked and flatter the server.
            "send_lag_ms": report.summarize(measured["send_lag_ms"]),
            "errors": {"total": sum(errors.values()), "by_kind": dict(errors)},
            "server": {
                "rss_before_mb": rss_before / MB,
                "rss_waiting_mb": rss_waiting / MB,
                "memory_per_waiter_kb": per_waiter,
                "cpu_waiting_percent": cpu_waiting,
                "cpu_approving_percent": measured["cpu_percent"],
            },
            "database": {
                "connections": max(waiting_connections.total, measured["connections"]),
                "connections_while_waiting": waiting_connections.total,
                "listening": waiting_connections.listening,
                "memory_per_waiter_kb": (
                    backend / max(open_now, 1) / 1024 if backend is not None else None
                ),
                "max_connections": await database.max_connections(),
            },
            "client_cpu_percent": measured["client_cpu_percent"],
            "other_programs_cpu_percent": measured["others_cpu_percent"],
            "polling": None,
            "profile": measured.get("profile"),
        }
        if design.mode == "poll":
            result["polling"] = {
                "interval_s": self.args.poll_interval,
                "requests_per_second": measured["polls_per_second"],
                "needed_per_second": open_now / self.args.poll_interval,
                "response_ms": report.summarize(measured["poll_ms"]),
            }
        return result

    async def _warm_up(self, design: Design, warm: list[seed.Login]) -> None:
        self.progress.show(f"warming up with {len(warm)} waiters")
        client = self.clients[0]
        await client.command(
            "open",
            mode=design.mode,
            path=design.path,
            poll_interval=min(self.args.poll_interval, 0.2),
            waiters=[login.as_row() for login in warm],
        )
        if design.mode == "poll":
            await client.command("poll")
        await client.command(
            "approve",
            count=len(warm),
            rate=min(self.rate, 100.0),
            late_after_ms=self.args.late_after_ms,
            lost_after=LOST_AFTER,
            replace=False,
        )
        await client.command("reset")

    async def _open(
        self, design: Design, waiting: list[seed.Login], spares: list[seed.Login]
    ) -> dict[str, Any]:
        clients = self.clients[:1] if design.until_failure else self.clients
        shares = len(clients)
        commands = [
            client.command(
                "open",
                mode=design.mode,
                path=design.path,
                poll_interval=self.args.poll_interval,
                waiters=[login.as_row() for login in waiting[number::shares]],
                spares=[login.as_row() for login in spares[number::shares]],
                concurrency=4 if design.until_failure else 100,
                stop_on_failure=design.until_failure,
            )
            for number, client in enumerate(clients)
        ]
        ticker = asyncio.create_task(self._show_opening(clients))
        try:
            replies = await asyncio.gather(*commands)
        finally:
            ticker.cancel()
        errors: Counter[str] = Counter()
        for reply in replies:
            errors.update(reply["errors"])
        opened = sum(reply["open"] for reply in replies)
        self.progress.say(f"{opened:,} of {len(waiting):,} waiters open")
        failure = None
        if design.until_failure:
            # Reaching the limit is what is measured here, not an error.
            failure = ", ".join(sorted(errors)) or None
            errors = Counter()
        return {"open": opened, "errors": errors, "failure": failure}

    async def _show_opening(self, clients: list[ClientProcess]) -> None:
        while True:
            await asyncio.sleep(0.5)
            opened = sum(c.progress.get("open", 0) for c in clients)
            failed = sum(c.progress.get("failed", 0) for c in clients)
            self.progress.show(f"opening waiters: {opened:,} open, {failed} failed")

    async def _wait_subscribed(self, server: ServerProcess, expected: int) -> None:
        """Wait until the server's bus holds a subscription per open stream."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            waiters = await server.waiters()
            if waiters is None or waiters >= expected:
                return
            self.progress.show(f"subscribed: {waiters:,} of {expected:,}")
            await asyncio.sleep(0.2)
        self.notes.append(
            f"Only some of the {expected} streams were subscribed after 60 s."
        )

    async def _approve(
        self,
        design: Design,
        server: ServerProcess,
        monitor: ProcessMonitor,
        database: DatabaseMonitor,
        count: int,
        late_after: float,
        lost_after: float,
    ) -> dict[str, Any]:
        clients = self.clients[:1] if design.until_failure else self.clients
        shares = len(clients)
        clients_cpu = [ProcessMonitor(client.pid) for client in clients]
        client_windows = [m.window() for m in clients_cpu]
        commands = [
            client.command(
                "approve",
                count=count // shares + (1 if number < count % shares else 0),
                rate=self.rate / shares,
                delay=number / self.rate,
                late_after_ms=late_after,
                lost_after=lost_after,
                replace=self.replacing(design),
            )
            for number, client in enumerate(clients)
        ]
        sending_seconds = count / self.rate
        profiler = None
        if self.args.profile and design is REALTIME:
            from pushgate.bench import profile

            profiler = await profile.start(
                server.pid, Path(self.args.profile), sending_seconds
            )
            if profiler is None:
                self.progress.say(profile.MISSING)
        self.machine.add(*await database.backend_pids())
        window = monitor.window()
        machine_before = self.machine.snapshot()
        peak = [0]
        watcher = asyncio.create_task(
            self._watch_approvals(clients, database, count, peak)
        )
        # CPU is measured while callbacks are sent, not while the last ones
        # are awaited.
        cpu = asyncio.create_task(self._cpu_after(monitor, window, sending_seconds))
        try:
            replies = await asyncio.gather(*commands)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        if not cpu.done():
            cpu.cancel()
            cpu_percent = monitor.percent_since(window)
        else:
            cpu_percent = cpu.result()
        others_percent = self.machine.others_percent(machine_before)
        client_cpu = [
            m.percent_since(w) for m, w in zip(clients_cpu, client_windows, strict=True)
        ]
        merged: dict[str, Any] = {
            "sent": 0,
            "accepted": 0,
            "delivered": 0,
            "lost": 0,
            "late": 0,
            "latencies_ms": [],
            "sent_offsets_s": [],
            "callback_ms": [],
            "send_lag_ms": [],
            "poll_ms": [],
            "polls_per_second": 0.0,
            "errors": Counter(),
        }
        for reply in replies:
            for key in ("sent", "accepted", "delivered", "lost", "late"):
                merged[key] += reply[key]
            for key in (
                "latencies_ms",
                "sent_offsets_s",
                "callback_ms",
                "send_lag_ms",
                "poll_ms",
            ):
                merged[key].extend(reply[key])
            merged["polls_per_second"] += reply["polls_per_second"]
            merged["errors"].update(reply["errors"])
        merged["cpu_percent"] = cpu_percent
        merged["others_cpu_percent"] = others_percent
        merged["client_cpu_percent"] = client_cpu
        merged["connections"] = peak[0]
        if profiler is not None:
            merged["profile"] = await profiler.finish()
        delivered, sent = merged["delivered"], merged["sent"]
        self.progress.say(f"{delivered:,} of {sent:,} approvals delivered")
        return merged

    async def _cpu_after(
        self, monitor: ProcessMonitor, window: CpuWindow, seconds: float
    ) -> float:
        await asyncio.sleep(seconds)
        return monitor.percent_since(window)

    async def _watch_approvals(
        self,
        clients: list[ClientProcess],
        database: DatabaseMonitor,
        count: int,
        peak: list[int],
    ) -> None:
        """Show progress; keep the most database connections seen in ``peak``."""
        while True:
            await asyncio.sleep(0.5)
            connections = await database.connections()
            peak[0] = max(peak[0], connections.total)
            sent = sum(c.progress.get("sent", 0) for c in clients)
            delivered = sum(c.progress.get("delivered", 0) for c in clients)
            errors = sum(c.progress.get("errors", 0) for c in clients)
            self.progress.show(
                f"approving: {sent:,} of {count:,} sent, {delivered:,} "
                f"delivered, {errors} errors, {connections.total} database "
                "connections"
            )

    # -- output -------------------------------------------------------------

    def _document(
        self, results: dict[str, dict[str, Any]], seconds: float
    ) -> dict[str, Any]:
        realtime = results["realtime"]
        return {
            "command": "pushgate bench " + shlex.join(sys.argv[2:])
            if sys.argv[1:2] == ["bench"]
            else shlex.join(sys.argv),
            "settings": {
                "waiters": self.waiters,
                "rate": self.rate,
                "approvals": self.approvals,
                "replace": bool(self.args.replace),
                "baseline_approvals": self.baseline_approvals,
                "poll_interval_s": self.args.poll_interval,
                "clients": self.args.clients,
                "priority": bool(self.args.priority),
                "database": "given URL" if self.args.database_url else "embedded",
            },
            "machine": {
                "cpus": os.cpu_count(),
                "load_average_at_start": self.load_at_start,
                "python": platform.python_version(),
                "system": platform.platform(),
            },
            "seconds": seconds,
            "designs": results,
            "targets": [
                {"target": name, "met": met, "measured": measured}
                for name, met, measured in report.targets(realtime)
            ],
            "notes": self.notes,
        }

    def _say_targets(self, realtime: dict[str, Any]) -> None:
        print("\nTargets for pushgate's design:")
        for name, met, measured in report.targets(realtime):
            mark = "met" if met else "NOT MET"
            print(f"  {mark:8} {name}: {measured}")


@contextlib.contextmanager
def _scratch_database(server_url: str) -> Iterator[tuple[str, bool]]:
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    from pushgate.db.engine import libpq_url

    name = f"pushgate_bench_{secrets.token_hex(6)}"
    admin = libpq_url(server_url)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parsed = make_url(server_url)
    url = parsed.set(database=name).render_as_string(hide_password=False)
    host = parsed.host or parsed.query.get("host") or ""
    local = not host or str(host).startswith("/") or host in _LOCAL_HOSTS
    try:
        yield url, local
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )


_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
