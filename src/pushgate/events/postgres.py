"""The PostgreSQL bus: one LISTEN connection per process, fan-out by topic.

Every process listens on the single channel ``pushgate``; the payload is the
topic. Publishing runs ``pg_notify`` inside the publisher's transaction, so
PostgreSQL delivers it exactly when the change commits, and never if the
transaction rolls back.

The listening connection is dedicated and in autocommit mode (a NOTIFY only
arrives between transactions), is named ``pushgate-events`` in
``pg_stat_activity``, and is exempt from ``idle_session_timeout``: it is idle
by design. When it is lost anyway, :class:`ListeningBus` reconnects and wakes
every waiter to re-read its state.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import psycopg
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from pushgate.db.engine import libpq_url, retire_pooled_connections
from pushgate.events._listener import ListeningBus
from pushgate.events.bus import check_topic

CHANNEL = "pushgate"
APPLICATION_NAME = "pushgate-events"
_NOTIFY = text("SELECT pg_notify(:channel, :topic)")
# idle_session_timeout exists from PostgreSQL 14 on.
_IDLE_SESSION_TIMEOUT_SINCE = 140000


class PostgresBus(ListeningBus):
    name = "postgres"
    transactional = True

    def __init__(self, engine: AsyncEngine, database_url: str) -> None:
        super().__init__()
        self._engine = engine
        self._conninfo = libpq_url(database_url)
        parsed = make_url(database_url)
        where = f"{parsed.host}:{parsed.port or 5432}" if parsed.host else "socket"
        self._server = f"{where}/{parsed.database}"
        self._connection: psycopg.AsyncConnection[object] | None = None

    @property
    def server(self) -> str:
        return f"PostgreSQL {self._server}"

    @property
    def backend_pid(self) -> int | None:
        """The server process of the listening connection, if connected."""
        connection = self._connection
        if connection is None or connection.closed:
            return None
        return connection.info.backend_pid

    async def publish(self, topic: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                _NOTIFY, {"channel": CHANNEL, "topic": check_topic(topic)}
            )

    async def publish_in(self, session: AsyncSession, topic: str) -> None:
        await session.execute(
            _NOTIFY, {"channel": CHANNEL, "topic": check_topic(topic)}
        )

    async def _after_loss(self) -> None:
        # The server went away (a restart, say), so the pool's idle
        # connections are dead too. The pool does not ping before each
        # checkout (a round trip on every request), so they are retired now
        # and requests after the server is back connect afresh.
        retire_pooled_connections(self._engine)

    async def _listen(self, listening: Callable[[], None]) -> None:
        async with asyncio.timeout(self.connect_timeout):
            connection = await psycopg.AsyncConnection.connect(
                self._conninfo,
                autocommit=True,
                application_name=APPLICATION_NAME,
                connect_timeout=max(1, int(self.connect_timeout)),
                # Keepalives, and a limit on unacknowledged data, let the
                # kernel notice a peer that vanished without a word.
                keepalives=1,
                keepalives_idle=10,
                keepalives_interval=5,
                keepalives_count=3,
                tcp_user_timeout=20_000,
            )
        try:
            self._connection = connection
            async with asyncio.timeout(self.connect_timeout):
                if connection.info.server_version >= _IDLE_SESSION_TIMEOUT_SINCE:
                    await connection.execute("SET idle_session_timeout = 0")
                await connection.execute(
                    sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL))
                )
            listening()
            await self._receive(connection)
        finally:
            self._connection = None
            # close() does not talk to the server, so a dead peer cannot
            # hold it up (leaving with ``async with`` may send a ROLLBACK).
            await connection.close()

    async def _receive(self, connection: psycopg.AsyncConnection[object]) -> None:
        deliver = self.hub.deliver
        while True:
            received = 0
            notifies = connection.notifies(timeout=self.probe_interval)
            async with contextlib.aclosing(notifies):
                async for notify in notifies:
                    received += 1
                    deliver(notify.payload)
            if not received:
                # A quiet connection may be a dead one the OS has not noticed.
                async with asyncio.timeout(self.probe_timeout):
                    await connection.execute("SELECT 1")
