"""The benchmark's load client: one process full of waiting browsers.

Run as ``python -m pushgate.bench.client``; the harness talks to it in JSON
lines, commands on standard input and reports on standard output:

``open``
    open waiting browsers (event streams, or pollers) and say how many made it;
``approve``
    send signed approval callbacks for its own waiters at a steady rate and
    time each one until the waiter sees the result; a waiter that finished is
    replaced by a fresh one, so the number waiting stays the same;
``poll``
    let the pollers opened so far start polling;
``trim``
    close all but the first few waiters;
``reset``
    close everything (between designs);
``exit``.

A callback and the event it causes are timed in this same process with one
monotonic clock, so no clock skew enters the latencies.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import random
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from pushgate import clock
from pushgate.bench.wire import (
    EventStreamConnection,
    RequestConnection,
    build_request,
)
from pushgate.webhook_signature import sign


@dataclass(slots=True)
class Waiter:
    """One waiting browser and what happened to its login attempt."""

    token: str
    attempt_id: str
    uuid: str
    authy_id: int
    stream: EventStreamConnection | None = None
    poller: RequestConnection | None = None
    open: bool = False
    sent_at: float | None = None
    received_at: float | None = None
    finished: bool = False


@dataclass(slots=True)
class Approvals:
    """Figures of one approval run."""

    latencies_ms: list[float] = field(default_factory=list)
    #: When each delivered approval's callback left, in seconds from the start.
    sent_offsets_s: list[float] = field(default_factory=list)
    started_perf: float = 0.0
    callback_ms: list[float] = field(default_factory=list)
    #: How late each callback left against its schedule (a busy client).
    send_lag_ms: list[float] = field(default_factory=list)
    sent: int = 0
    accepted: int = 0
    started: float = 0.0
    last_sent: float = 0.0
    outstanding: set[str] = field(default_factory=set)
    #: Callbacks started but not yet answered (or failed).
    in_flight: int = 0
    sending: dict[asyncio.Task[None], Waiter] = field(default_factory=dict)


class Client:
    def __init__(self, config: dict[str, Any]) -> None:
        self.host: str = config["host"]
        self.port: int = config["port"]
        self.index: int = config.get("index", 0)
        self.api_key: str = config["api_key"]
        self.callback_path: str = config["callback_path"]
        self.callback_url: str = config["callback_url"]
        self.cookie_name: str = config["cookie_name"]
        # Enough that a slow server never makes callbacks wait for a
        # connection: the sending rate must not bend to the server's pace.
        self.max_callback_connections: int = config.get("callback_connections", 256)
        self._authority = f"{self.host}:{self.port}"
        self._loop = asyncio.get_running_loop()
        self.mode = "stream"
        self.path = ""
        self.poll_interval = 2.0
        self.polling = False
        self.waiters: list[Waiter] = []
        self.spares: collections.deque[Waiter] = collections.deque()
        self.ready: collections.deque[Waiter] = collections.deque()
        self._ready_signal = asyncio.Event()
        self.errors: collections.Counter[str] = collections.Counter()
        self.open_count = 0
        self.failed_opens = 0
        self.polls = 0
        self.poll_ms: list[float] = []
        self.approvals = Approvals()
        self._idle_callbacks: list[RequestConnection] = []
        self._callback_connections = 0
        self._callback_freed = asyncio.Condition()
        self._last_nonce = 0.0
        self._replacing = False
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- opening ------------------------------------------------------------

    async def open(self, command: dict[str, Any]) -> dict[str, Any]:
        self.mode = command["mode"]
        self.path = command["path"]
        self.poll_interval = float(command.get("poll_interval", 2.0))
        waiters = [Waiter(*row) for row in command["waiters"]]
        self.spares.extend(Waiter(*row) for row in command.get("spares", ()))
        self.waiters.extend(waiters)
        stop_on_failure = bool(command.get("stop_on_failure", False))
        gate = asyncio.Semaphore(int(command.get("concurrency", 200)))
        failed = asyncio.Event()

        async def open_one(waiter: Waiter) -> None:
            async with gate:
                if stop_on_failure and failed.is_set():
                    return
                if not await self._open(waiter):
                    failed.set()

        progress = self._start(self._report_progress("opening"))
        try:
            await asyncio.gather(*(open_one(waiter) for waiter in waiters))
        finally:
            progress.cancel()
        return {"open": self.open_count, "failed": self.failed_opens}

    async def _open(self, waiter: Waiter) -> bool:
        if self.mode == "poll":
            return await self._open_poller(waiter)
        return await self._open_stream(waiter)

    async def _open_stream(self, waiter: Waiter) -> bool:
        headers = {
            "Accept": "text/event-stream",
            "Cookie": f"{self.cookie_name}={waiter.token}",
        }
        request = build_request("GET", self.path, self._authority, headers)
        opened: asyncio.Future[int | str] = self._loop.create_future()

        def on_open(status: int) -> None:
            if not opened.done():
                opened.set_result(status)

        def on_event(name: str, data: str) -> None:
            self._on_event(waiter, name, data)

        def on_close(reason: str | None) -> None:
            if not opened.done():
                opened.set_result(reason or "closed")
            self._on_stream_closed(waiter, reason)

        stream = EventStreamConnection(request, on_open, on_event, on_close)
        waiter.stream = stream
        try:
            await self._loop.create_connection(lambda: stream, self.host, self.port)
            async with asyncio.timeout(60):
                result = await opened
        except (OSError, TimeoutError) as error:
            return self._open_failed(waiter, f"connect: {type(error).__name__}")
        if result != 200:
            return self._open_failed(waiter, f"open: {result}")
        waiter.open = True
        self.open_count += 1
        self._make_ready(waiter)
        return True

    async def _open_poller(self, waiter: Waiter) -> bool:
        try:
            _, connection = await self._loop.create_connection(
                RequestConnection, self.host, self.port
            )
        except OSError as error:
            return self._open_failed(waiter, f"connect: {type(error).__name__}")
        waiter.poller = connection
        waiter.open = True
        self.open_count += 1
        self._make_ready(waiter)
        if self.polling:
            self._start_polling(waiter)
        return True

    def _start_polling(self, waiter: Waiter) -> None:
        # Browsers that started waiting at different moments poll out of step.
        self._loop.call_later(random.uniform(0, self.poll_interval), self._poll, waiter)

    def start_polling(self) -> dict[str, Any]:
        """Let every open poller start; the ones opened from now on start at once.

        Opening ten thousand pages that already poll would measure opening
        against a server busy with polls; they start together instead.
        """
        self.polling = True
        for waiter in self.waiters:
            if waiter.open and waiter.poller is not None:
                self._start_polling(waiter)
        return {"open": self.open_count}

    def _open_failed(self, waiter: Waiter, reason: str) -> bool:
        self.failed_opens += 1
        self.errors[reason] += 1
        waiter.finished = True
        if waiter.stream is not None:
            waiter.stream.close()
        return False

    def _make_ready(self, waiter: Waiter) -> None:
        self.ready.append(waiter)
        self._ready_signal.set()

    # -- what the waiters see -------------------------------------------------

    def _on_event(self, waiter: Waiter, name: str, data: str) -> None:
        if name != "authy_status":
            return
        try:
            status = json.loads(data)["status"]
        except (ValueError, KeyError, TypeError):
            self.errors["event: unreadable data"] += 1
            return
        self._on_status(waiter, status)

    def _on_status(self, waiter: Waiter, status: str) -> None:
        if status == "pending" or waiter.finished:
            return
        now = time.perf_counter()
        if status != "approved":
            self.errors[f"event: unexpected status {status}"] += 1
            return
        if waiter.sent_at is None:
            self.errors["event: approved before any callback"] += 1
            return
        waiter.received_at = now
        waiter.finished = True
        self.approvals.latencies_ms.append((now - waiter.sent_at) * 1000)
        self.approvals.sent_offsets_s.append(
            waiter.sent_at - self.approvals.started_perf
        )
        self.approvals.outstanding.discard(waiter.uuid)
        self._finish(waiter)

    def _finish(self, waiter: Waiter) -> None:
        if waiter.open:
            waiter.open = False
            self.open_count -= 1
        if waiter.stream is not None:
            waiter.stream.close()
        if waiter.poller is not None:
            waiter.poller.close()
        if self._replacing and self.spares:
            self._start(self._open(self.spares.popleft()))

    def _on_stream_closed(self, waiter: Waiter, reason: str | None) -> None:
        if reason is None or waiter.finished:
            return
        # The server ended a stream that still had something to deliver.
        self.errors[f"stream: {reason}"] += 1
        if waiter.open:
            waiter.open = False
            self.open_count -= 1

    def _poll(self, waiter: Waiter) -> None:
        connection = waiter.poller
        if waiter.finished or connection is None or connection.closed:
            return
        headers = {"Cookie": f"{self.cookie_name}={waiter.token}"}
        request = build_request("GET", self.path, self._authority, headers)
        started = time.perf_counter()
        try:
            reply = connection.send(request)
        except ConnectionError:
            self._poller_lost(waiter, "poll: connection closed")
            return
        reply.add_done_callback(lambda done: self._polled(waiter, started, done))

    def _polled(
        self,
        waiter: Waiter,
        started: float,
        reply: asyncio.Future[tuple[int, bytes]],
    ) -> None:
        if reply.cancelled() or reply.exception() is not None:
            if not waiter.finished:
                self._poller_lost(waiter, "poll: connection lost")
            return
        status, body = reply.result()
        self.polls += 1
        self.poll_ms.append((time.perf_counter() - started) * 1000)
        if status != 200:
            self.errors[f"poll: HTTP {status}"] += 1
        else:
            try:
                self._on_status(waiter, json.loads(body)["status"])
            except (ValueError, KeyError, TypeError):
                self.errors["poll: unreadable body"] += 1
        if not waiter.finished:
            # The next poll is timed from this answer, as a page's timer is.
            self._loop.call_later(self.poll_interval, self._poll, waiter)

    def _poller_lost(self, waiter: Waiter, reason: str) -> None:
        self.errors[reason] += 1
        if waiter.open:
            waiter.open = False
            self.open_count -= 1

    # -- approving ----------------------------------------------------------

    async def approve(self, command: dict[str, Any]) -> dict[str, Any]:
        count = int(command["count"])
        rate = float(command["rate"])
        late_after_ms = float(command["late_after_ms"])
        lost_after = float(command["lost_after"])
        self._replacing = bool(command.get("replace", True))
        self.approvals = approvals = Approvals()
        self.polls = 0
        self.poll_ms = []
        progress = self._start(self._report_progress("approving"))
        delay = float(command.get("delay", 0))
        approvals.started = start = self._loop.time() + delay
        approvals.started_perf = time.perf_counter() + delay
        try:
            for number in range(count):
                pause = start + number / rate - self._loop.time()
                if pause > 0:
                    await asyncio.sleep(pause)
                waiter = await self._next_ready()
                if waiter is None:
                    self.errors["approve: no open waiter left"] += count - number
                    break
                approvals.in_flight += 1
                task = self._start(self._send_callback(waiter, start + number / rate))
                approvals.sending[task] = waiter
            approvals.last_sent = self._loop.time()
            await self._drain(lost_after)
            unsent = [
                task
                for task, waiter in approvals.sending.items()
                if not task.done() and waiter.sent_at is None
            ]
            if unsent:
                # Every callback connection was still waiting for an answer:
                # a server this far behind does not get more load from us.
                self.errors["callback: never sent, earlier ones unanswered"] += len(
                    unsent
                )
                for task in unsent:
                    task.cancel()
        finally:
            progress.cancel()
            self._replacing = False
        polled_seconds = max(self._loop.time() - approvals.started, 1e-9)
        return {
            "sent": approvals.sent,
            "accepted": approvals.accepted,
            "delivered": len(approvals.latencies_ms),
            "lost": len(approvals.outstanding),
            "late": sum(1 for ms in approvals.latencies_ms if ms > late_after_ms),
            "latencies_ms": approvals.latencies_ms,
            "sent_offsets_s": approvals.sent_offsets_s,
            "callback_ms": approvals.callback_ms,
            "send_lag_ms": approvals.send_lag_ms,
            "polls": self.polls,
            "polls_per_second": self.polls / polled_seconds,
            "poll_ms": self.poll_ms,
            "open": self.open_count,
        }

    async def _next_ready(self) -> Waiter | None:
        while True:
            while self.ready:
                waiter = self.ready.popleft()
                if waiter.open and not waiter.finished and waiter.sent_at is None:
                    return waiter
            if self.open_count == 0 and not self.spares:
                return None
            self._ready_signal.clear()
            try:
                async with asyncio.timeout(10):
                    await self._ready_signal.wait()
            except TimeoutError:
                return None

    async def _send_callback(self, waiter: Waiter, due: float) -> None:
        try:
            await self._send_signed(waiter, due)
        finally:
            self.approvals.in_flight -= 1

    async def _send_signed(self, waiter: Waiter, due: float) -> None:
        approvals = self.approvals
        body = callback_body(waiter.uuid, waiter.authy_id, waiter.attempt_id)
        nonce = self._nonce()
        signature = sign(self.api_key, nonce, "POST", self.callback_url, body)
        encoded = json.dumps(body).encode()
        request = build_request(
            "POST",
            self.callback_path,
            self._authority,
            {
                "Content-Type": "application/json",
                "X-Authy-Signature": signature,
                "X-Authy-Signature-Nonce": nonce,
            },
            encoded,
        )
        connection = await self._callback_connection()
        if connection is None:
            self.errors["callback: cannot connect"] += 1
            return
        approvals.sent += 1
        approvals.outstanding.add(waiter.uuid)
        approvals.send_lag_ms.append(max(0.0, self._loop.time() - due) * 1000)
        waiter.sent_at = sent_at = time.perf_counter()
        try:
            status, _ = await connection.send(request)
        except (ConnectionError, RuntimeError) as error:
            self.errors[f"callback: {type(error).__name__}"] += 1
            approvals.outstanding.discard(waiter.uuid)
            await self._release_callback(connection)
            return
        approvals.callback_ms.append((time.perf_counter() - sent_at) * 1000)
        await self._release_callback(connection)
        if 200 <= status < 300:
            approvals.accepted += 1
        else:
            self.errors[f"callback: HTTP {status}"] += 1
            # A refused callback delivers nothing; it counts as an error, not
            # as an approval lost on the way to the browser.
            approvals.outstanding.discard(waiter.uuid)

    def _nonce(self) -> str:
        # A unix time, unique per client: the last digit is the client number.
        now = max(clock.now().timestamp(), self._last_nonce + 1e-6)
        self._last_nonce = now
        return f"{now:.6f}{self.index % 10}"

    async def _callback_connection(self) -> RequestConnection | None:
        async with self._callback_freed:
            while True:
                while self._idle_callbacks:
                    connection = self._idle_callbacks.pop()
                    if not connection.closed:
                        return connection
                    self._callback_connections -= 1
                if self._callback_connections < self.max_callback_connections:
                    self._callback_connections += 1
                    break
                await self._callback_freed.wait()
        try:
            _, connection = await self._loop.create_connection(
                RequestConnection, self.host, self.port
            )
        except OSError:
            self._callback_connections -= 1
            return None
        return connection

    async def _release_callback(self, connection: RequestConnection) -> None:
        async with self._callback_freed:
            if connection.closed:
                self._callback_connections -= 1
            else:
                self._idle_callbacks.append(connection)
            self._callback_freed.notify()

    async def _drain(self, lost_after: float) -> None:
        deadline = self._loop.time() + lost_after
        while self.approvals.outstanding or self.approvals.in_flight:
            if self._loop.time() > deadline:
                return
            await asyncio.sleep(0.02)

    # -- housekeeping ---------------------------------------------------------

    async def handle(self, op: str, command: dict[str, Any]) -> dict[str, Any]:
        if op == "open":
            return await self.open(command)
        if op == "approve":
            return await self.approve(command)
        if op == "poll":
            return self.start_polling()
        if op == "trim":
            return self.trim(int(command["keep"]))
        if op == "reset":
            return self.reset()
        raise ValueError(f"Unknown benchmark client command {op!r}.")

    def trim(self, keep: int) -> dict[str, Any]:
        kept = 0
        for waiter in self.waiters:
            if not waiter.open:
                continue
            if kept < keep:
                kept += 1
                continue
            waiter.finished = True
            self._finish(waiter)
        return {"open": self.open_count}

    def reset(self) -> dict[str, Any]:
        self._replacing = False
        self.polling = False
        for waiter in self.waiters:
            waiter.finished = True
            self._finish(waiter)
        for connection in self._idle_callbacks:
            connection.close()
        self._idle_callbacks.clear()
        self._callback_connections = 0
        self.waiters.clear()
        self.spares.clear()
        self.ready.clear()
        self.errors.clear()
        self.open_count = 0
        self.failed_opens = 0
        return {"open": 0}

    def _start(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = self._loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _report_progress(self, stage: str) -> None:
        while True:
            await asyncio.sleep(0.5)
            emit(
                {
                    "type": "progress",
                    "stage": stage,
                    "open": self.open_count,
                    "failed": self.failed_opens,
                    "sent": self.approvals.sent,
                    "delivered": len(self.approvals.latencies_ms),
                    "errors": sum(self.errors.values()),
                }
            )


def callback_body(uuid: str, authy_id: int, attempt_id: str) -> dict[str, Any]:
    """An approval callback as the approval service sends it."""
    return {
        "authy_id": authy_id,
        "device_uuid": "pushgate-bench",
        "callback_action": "approval_request_status",
        "uuid": uuid,
        "status": "approved",
        "approval_request": {
            "transaction": {
                "hidden_details": {"login_attempt_id": attempt_id},
            }
        },
    }


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def serve_commands() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 28)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    client: Client | None = None
    try:
        while line := await reader.readline():
            command = json.loads(line)
            op = command["op"]
            if op == "exit":
                break
            if op == "start":
                client = Client(command)
                emit({"type": "done", "op": op})
                continue
            assert client is not None, "the first command must be start"
            result = await client.handle(op, command)
            # Errors are reported with the command during (or before) which
            # they happened, each once.
            emit({"type": "done", "op": op, **result, "errors": dict(client.errors)})
            client.errors.clear()
    finally:
        if client is not None:
            client.reset()


def main() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency
        asyncio.run(serve_commands())
        return
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve_commands())


if __name__ == "__main__":
    main()
