"""The PostgreSQL bus: one LISTEN connection per process, fan-out by topic.

Every process listens on the single channel ``pushgate``; the payload is the
topic. Publishing runs ``pg_notify`` inside the publisher's transaction, so
PostgreSQL delivers it exactly when the change commits, and never if the
transaction rolls back.

When the listening connection is lost, the listener reconnects with growing
delays and then wakes every waiter to re-read its state: a change committed
while nobody was listening is found by that read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from pushgate.db.engine import libpq_url
from pushgate.events.bus import EventBus, check_topic

logger = logging.getLogger("pushgate")

CHANNEL = "pushgate"
_NOTIFY = text("SELECT pg_notify(:channel, :topic)")


class PostgresBus(EventBus):
    name = "postgres"
    transactional = True

    #: Seconds without a notification after which the connection is probed.
    probe_interval = 10.0
    #: Reconnect delays grow from the first to the last value.
    min_backoff = 0.05
    max_backoff = 5.0

    def __init__(self, engine: AsyncEngine, database_url: str) -> None:
        super().__init__()
        self._engine = engine
        self._conninfo = libpq_url(database_url)
        self._task: asyncio.Task[None] | None = None
        self._connection: psycopg.AsyncConnection[object] | None = None
        self._listening = asyncio.Event()
        self.reconnects = 0

    @property
    def ready(self) -> bool:
        return self._listening.is_set()

    @property
    def backend_pid(self) -> int | None:
        """The server process of the listening connection, if connected."""
        connection = self._connection
        if connection is None or connection.closed:
            return None
        return connection.info.backend_pid

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="pg-listener")
        # Start-up waits for the first LISTEN so nothing published after
        # start() returns can be missed; later losses are handled in the loop.
        await asyncio.wait_for(self._listening.wait(), timeout=30)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def publish(self, topic: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                _NOTIFY, {"channel": CHANNEL, "topic": check_topic(topic)}
            )

    async def publish_in(self, session: AsyncSession, topic: str) -> None:
        await session.execute(
            _NOTIFY, {"channel": CHANNEL, "topic": check_topic(topic)}
        )

    async def _listen_forever(self) -> None:
        delay = self.min_backoff
        lost = False
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True
                ) as connection:
                    self._connection = connection
                    await connection.execute(
                        sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL))
                    )
                    self._listening.set()
                    if lost:
                        logger.info(
                            "Event listener reconnected after %d attempt(s); "
                            "waking %d waiter(s) to re-read state",
                            self.reconnects,
                            len(self.hub),
                        )
                        lost = False
                        self.reconnects = 0
                        # Anything committed while we were away is read now.
                        self.hub.resync_all()
                    delay = self.min_backoff
                    await self._receive(connection)
            except asyncio.CancelledError:
                self._listening.clear()
                raise
            except (psycopg.Error, OSError) as error:
                if not lost:
                    logger.warning(
                        "Event listener lost its database connection (%s); "
                        "reconnecting",
                        type(error).__name__,
                    )
                lost = True
            finally:
                self._listening.clear()
                self._connection = None
            self.reconnects += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff)

    async def _receive(self, connection: psycopg.AsyncConnection[object]) -> None:
        deliver = self.hub.deliver
        while True:
            received = 0
            async for notify in connection.notifies(timeout=self.probe_interval):
                received += 1
                deliver(notify.payload)
            if not received:
                # A quiet connection may be a dead one the OS has not noticed.
                await connection.execute("SELECT 1")
