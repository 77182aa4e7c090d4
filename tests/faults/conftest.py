"""A private PostgreSQL the fault tests may stop, and a tiny state store.

The store stands for the application's tables: a waiter subscribes, reads
the state, then waits, and re-reads at every wake-up, exactly as the login
page's stream does. A result is delivered when the waiter reads it, whether
a message or a resync woke it.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from pushgate.db.engine import create_engine, session_factory
from pushgate.events.bus import EventBus
from tests.support.processes import PrivatePostgres, private_postgres


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


@pytest.fixture
def fault_database(private_pg: PrivatePostgres) -> str:
    url = private_pg.create_database(f"faults_{secrets.token_hex(6)}")
    return url


class StateStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(engine)

    async def create(self) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                text("CREATE TABLE states (key text PRIMARY KEY, status text)")
            )

    async def set(self, bus: EventBus, key: str, status: str) -> None:
        """Change the state and announce it in one transaction."""
        async with self.sessions() as session:
            await session.execute(
                text(
                    "INSERT INTO states VALUES (:key, :status) ON CONFLICT (key) "
                    "DO UPDATE SET status = excluded.status"
                ),
                {"key": key, "status": status},
            )
            await bus.publish_in(session, f"state:{key}")
            await bus.commit(session)

    async def read(self, key: str) -> str | None:
        async with self.sessions() as session:
            status: str | None = await session.scalar(
                text("SELECT status FROM states WHERE key = :key"), {"key": key}
            )
            return status

    async def wait_for_answer(self, bus: EventBus, key: str) -> str:
        """Subscribe, read, wait: returns the first status that is not pending."""
        with bus.subscribe(f"state:{key}") as subscription:
            while True:
                try:
                    status = await self.read(key)
                except Exception:
                    # The database is restarting: the resync after the
                    # listener is back wakes us to read again.
                    status = None
                if status not in (None, "pending"):
                    return status
                # No timeout: only a message or a resync may wake the waiter.
                await subscription.wait()


@pytest.fixture
async def store(fault_database: str) -> AsyncIterator[StateStore]:
    engine = create_engine(fault_database, pool_size=2)
    store = StateStore(engine)
    await store.create()
    yield store
    await engine.dispose()


async def eventually(condition: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition {condition} not met in {timeout} s")
        await asyncio.sleep(0.01)
