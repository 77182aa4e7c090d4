"""The reconnect loop shared by the buses that listen on a server connection.

A listening bus holds one connection per process. Whatever ends it (a killed
backend, a server restart, an idle timeout, a network error, a probe that got
no answer), the loop waits a growing, jittered delay and connects again. The
loss is logged once and the recovery once, however many attempts it took.

Once listening again it wakes every waiter: a change committed while nobody
was listening sent its message into the void, and the waiter's re-read of
the state is what delivers it.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from pushgate.events.bus import EventBus

logger = logging.getLogger("pushgate")


class ListenerState:
    """Where the listening connection is; reported by ``/readyz``."""

    STOPPED = "stopped"
    CONNECTING = "connecting"
    LISTENING = "listening"
    RECONNECTING = "reconnecting"


class ListeningBus(EventBus):
    #: Reconnect delays double from the first value up to the second.
    min_backoff = 0.05
    max_backoff = 5.0
    #: Seconds without traffic after which the connection is probed, and how
    #: long the probe may take before the connection counts as lost.
    probe_interval = 10.0
    probe_timeout = 5.0
    #: Seconds one connection attempt may take.
    connect_timeout = 5.0
    #: Seconds :meth:`start` waits for the first subscription.
    start_timeout = 15.0

    def __init__(self) -> None:
        super().__init__()
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self.state = ListenerState.STOPPED
        #: Connections lost since start, and failed attempts since the last loss.
        self.losses = 0
        self.attempts = 0
        self.last_error: str | None = None
        self._lost_at: float | None = None

    @property
    @abc.abstractmethod
    def server(self) -> str:
        """Where the bus listens, for log lines (no credentials)."""

    @abc.abstractmethod
    async def _listen(self, listening: Callable[[], None]) -> None:
        """Connect, subscribe, call ``listening``, then deliver until lost.

        Returning or raising both mean the connection is gone.
        """

    @property
    def ready(self) -> bool:
        return self._listening.is_set()

    def status(self) -> dict[str, Any]:
        status = super().status()
        status.update(
            state=self.state,
            server=self.server,
            losses=self.losses,
            last_error=self.last_error,
        )
        return status

    async def start(self) -> None:
        self.state = ListenerState.CONNECTING
        self._task = asyncio.create_task(self._run(), name=f"{self.name}-listener")
        # Waiting for the first subscription means nothing published after
        # start() returns can be missed; later losses are the loop's business.
        try:
            async with asyncio.timeout(self.start_timeout):
                await self._listening.wait()
        except TimeoutError:
            await self.stop()
            raise RuntimeError(
                f"The {self.name} event bus could not listen on {self.server} "
                f"within {self.start_timeout:g} s ({self.last_error}); check that "
                "the server is up and the URL setting is right."
            ) from None

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._listening.clear()
        self.state = ListenerState.STOPPED

    async def _run(self) -> None:
        delay = self.min_backoff
        while True:
            try:
                await self._listen(self._on_listening)
                error = "the server closed the connection"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Whatever the cause, the answer is the same: reconnect. The
                # loop must outlive every error, or waiters would hang.
                error = _describe(exc)
            if self._listening.is_set():
                self._on_lost(error)
                await self._after_loss()
                delay = self.min_backoff
            else:
                self._on_failed_attempt(error)
            await asyncio.sleep(delay * (0.5 + random.random() / 2))
            delay = min(delay * 2, self.max_backoff)

    async def _after_loss(self) -> None:
        """Called once when the connection is lost (not on failed retries)."""

    def _on_listening(self) -> None:
        recovering = self._lost_at is not None
        self._listening.set()
        self.state = ListenerState.LISTENING
        if not recovering:
            logger.debug("Event bus listening on %s", self.server)
            return
        assert self._lost_at is not None
        logger.info(
            "Event bus listening on %s again after %.1f s and %d attempt(s); "
            "waking %d waiter(s) to re-read their state",
            self.server,
            time.monotonic() - self._lost_at,
            self.attempts + 1,
            len(self.hub),
        )
        self._lost_at = None
        self.attempts = 0
        # Changes committed while nobody listened are found by this re-read.
        self.hub.resync_all()

    def _on_lost(self, error: str) -> None:
        self._listening.clear()
        self.state = ListenerState.RECONNECTING
        self.losses += 1
        self.last_error = error
        self._lost_at = time.monotonic()
        logger.warning(
            "Event bus lost its connection to %s (%s); reconnecting",
            self.server,
            error,
        )

    def _on_failed_attempt(self, error: str) -> None:
        self.attempts += 1
        self.last_error = error
        if self._lost_at is None:
            # Failing from the very start counts as a loss, logged once.
            self._lost_at = time.monotonic()
            logger.warning(
                "Event bus cannot connect to %s (%s); retrying", self.server, error
            )
        else:
            logger.debug("Event bus attempt %d failed: %s", self.attempts, error)


def _describe(error: BaseException) -> str:
    message = str(error).strip().splitlines()
    if message:
        return f"{type(error).__name__}: {message[0]}"
    return type(error).__name__
