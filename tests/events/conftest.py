"""Buses of every backend, started in the test's event loop.

``bus_kind`` parametrizes a test over the backends; ``make_bus`` starts as
many buses of that kind as the test wants (several stand for several
processes) and stops them afterwards. Each Redis test gets a channel of its
own, so tests running at the same time on the shared server never meet.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import psycopg
import pytest
import redis.asyncio as redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from pushgate.db.engine import create_engine, session_factory
from pushgate.events.bus import EventBus
from pushgate.events.memory import MemoryBus
from pushgate.events.postgres import PostgresBus
from pushgate.events.redis import RedisBus
from tests.support.processes import REDIS_URL

BACKENDS = ["memory", "postgres", "redis"]
#: The backends that listen on a server connection, which can be lost.
LISTENING = ["postgres", "redis"]

MakeBus = Callable[[], Awaitable[EventBus]]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture(params=BACKENDS)
def bus_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_bus(
    bus_kind: str, engine: AsyncEngine, database_url: str
) -> AsyncIterator[MakeBus]:
    started: list[EventBus] = []
    channel = f"pushgate-test-{secrets.token_hex(6)}"
    shared_memory: list[MemoryBus] = []

    async def make() -> EventBus:
        bus: EventBus
        if bus_kind == "memory":
            # One process only: every "instance" is the same bus.
            if not shared_memory:
                shared_memory.append(MemoryBus())
            bus = shared_memory[0]
        elif bus_kind == "postgres":
            bus = PostgresBus(engine, database_url)
        else:
            bus = RedisBus(REDIS_URL, channel=channel)
        await bus.start()
        started.append(bus)
        return bus

    yield make
    for bus in started:
        await bus.stop()


@pytest.fixture
async def bus(make_bus: MakeBus) -> EventBus:
    return await make_bus()


async def kill_listener(bus: EventBus, database_url: str) -> None:
    """Cut the bus's listening connection from the server side.

    PostgreSQL: ``pg_terminate_backend`` on its backend. Redis: ``CLIENT KILL``
    of exactly its connection, found by the client name it set, so no other
    client of the shared server is touched.
    """
    if isinstance(bus, PostgresBus):
        pid = bus.backend_pid
        assert pid is not None
        async with await psycopg.AsyncConnection.connect(
            database_url, autocommit=True
        ) as connection:
            await connection.execute("SELECT pg_terminate_backend(%s)", [pid])
        return
    assert isinstance(bus, RedisBus)
    admin = redis.Redis.from_url(REDIS_URL)
    try:
        # Only our own connection: found by the name the bus gave it.
        mine = [
            client["id"]
            for client in await admin.client_list()
            if client.get("name") == bus.client_name
        ]
        assert len(mine) == 1, mine
        await admin.client_kill_filter(_id=mine[0])
    finally:
        await admin.aclose()
