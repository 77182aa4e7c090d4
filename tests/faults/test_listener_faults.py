"""The listening connection survives every kind of loss, and no result is lost.

Each test has a waiter that subscribes, reads, then waits for an answer, a
fault on the listening connection, and an approval committed while (or
right after) the connection is down. The waiter must read the approval.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy.engine import make_url

from pushgate.db.engine import create_engine
from pushgate.events._listener import ListenerState, ListeningBus
from pushgate.events.postgres import PostgresBus
from pushgate.events.redis import RedisBus
from tests.events.conftest import REDIS_URL, kill_listener
from tests.faults.conftest import StateStore, eventually
from tests.faults.proxy import FaultyProxy
from tests.support.processes import PrivatePostgres

pytestmark = pytest.mark.faults

MakeListener = Callable[..., "asyncio.Future[ListeningBus]"]


@pytest.fixture
async def make_listener(
    store: StateStore, fault_database: str
) -> AsyncIterator[Callable[..., object]]:
    """Starts a bus of a kind, optionally through a proxy, with quick timings."""
    started: list[ListeningBus] = []
    channel = f"pushgate-test-{secrets.token_hex(6)}"

    async def make(kind: str, proxy: FaultyProxy | None = None) -> ListeningBus:
        bus: ListeningBus
        if kind == "postgres":
            url = make_url(fault_database)
            if proxy is not None:
                url = url.set(port=proxy.port)
            bus = PostgresBus(store.engine, url.render_as_string(False))
        else:
            url_text = REDIS_URL
            if proxy is not None:
                url_text = f"redis://127.0.0.1:{proxy.port}/0"
            bus = RedisBus(url_text, channel=channel)
        bus.probe_interval = 0.2
        bus.probe_timeout = 0.5
        bus.connect_timeout = 1.0
        bus.max_backoff = 0.5
        await bus.start()
        started.append(bus)
        return bus

    yield make
    for bus in started:
        await bus.stop()


def log_lines(caplog: pytest.LogCaptureFixture, words: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if words in r.getMessage()]


def assert_logged_once_each(caplog: pytest.LogCaptureFixture) -> None:
    lost = log_lines(caplog, "lost its connection")
    back = log_lines(caplog, "again after")
    assert [r.levelno for r in lost] == [logging.WARNING], lost
    assert [r.levelno for r in back] == [logging.INFO], back


@pytest.mark.parametrize("kind", ["postgres", "redis"])
@pytest.mark.parametrize("delay", [0.0, 0.5, 0.95])
async def test_approval_right_after_the_listener_is_killed_still_arrives(
    kind: str,
    delay: float,
    make_listener: Callable[..., object],
    store: StateStore,
    fault_database: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="pushgate")
    listener = await make_listener(kind)  # type: ignore[operator]
    publisher = await make_listener(kind)  # type: ignore[operator]
    key = secrets.token_hex(4)
    await store.set(publisher, key, "pending")
    waiter = asyncio.create_task(store.wait_for_answer(listener, key))
    await asyncio.sleep(0.05)

    await kill_listener(listener, fault_database)
    await asyncio.sleep(delay)
    await store.set(publisher, key, "approved")

    assert await asyncio.wait_for(waiter, 5) == "approved"
    assert_logged_once_each(caplog)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_approval_right_after_a_postgresql_restart_still_arrives(
    mode: str,
    make_listener: Callable[..., object],
    store: StateStore,
    private_pg: PrivatePostgres,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="pushgate")
    listener: PostgresBus = await make_listener("postgres")  # type: ignore[operator]
    key = secrets.token_hex(4)
    await store.set(listener, key, "pending")
    waiter = asyncio.create_task(store.wait_for_answer(listener, key))
    await asyncio.sleep(0.05)

    await asyncio.to_thread(private_pg.stop, mode)
    await eventually(lambda: listener.state == ListenerState.RECONNECTING)
    assert not listener.ready
    assert listener.status()["ready"] is False
    # Several attempts fail while the server is down...
    await eventually(lambda: listener.attempts >= 3)
    assert not waiter.done()
    await asyncio.to_thread(private_pg.start)
    await store.set(listener, key, "approved")

    assert await asyncio.wait_for(waiter, 10) == "approved"
    await eventually(lambda: listener.ready)
    # ...but the loss and the recovery are logged once each.
    assert_logged_once_each(caplog)


@pytest.mark.parametrize("kind", ["postgres", "redis"])
async def test_a_network_error_is_survived(
    kind: str,
    make_listener: Callable[..., object],
    store: StateStore,
    private_pg: PrivatePostgres,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="pushgate")
    proxy = await FaultyProxy(private_pg.port if kind == "postgres" else 6379).start()
    try:
        listener = await make_listener(kind, proxy)  # type: ignore[operator]
        publisher = await make_listener(kind)  # type: ignore[operator]
        key = secrets.token_hex(4)
        await store.set(publisher, key, "pending")
        waiter = asyncio.create_task(store.wait_for_answer(listener, key))
        await asyncio.sleep(0.05)

        proxy.cut()
        await store.set(publisher, key, "approved")

        assert await asyncio.wait_for(waiter, 5) == "approved"
        await eventually(lambda: listener.ready)
        assert listener.losses == 1
        assert_logged_once_each(caplog)
    finally:
        await proxy.stop()


@pytest.mark.parametrize("kind", ["postgres", "redis"])
async def test_a_connection_that_stops_answering_is_noticed_by_the_probe(
    kind: str,
    make_listener: Callable[..., object],
    store: StateStore,
    private_pg: PrivatePostgres,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="pushgate")
    proxy = await FaultyProxy(private_pg.port if kind == "postgres" else 6379).start()
    try:
        listener = await make_listener(kind, proxy)  # type: ignore[operator]
        publisher = await make_listener(kind)  # type: ignore[operator]
        key = secrets.token_hex(4)
        await store.set(publisher, key, "pending")
        waiter = asyncio.create_task(store.wait_for_answer(listener, key))
        await asyncio.sleep(0.05)

        await proxy.freeze()
        await store.set(publisher, key, "approved")
        # PostgreSQL's driver tries to cancel the hung probe for a while.
        await eventually(lambda: listener.state == ListenerState.RECONNECTING, 15)
        assert not waiter.done()
        await proxy.thaw()

        assert await asyncio.wait_for(waiter, 10) == "approved"
        assert_logged_once_each(caplog)
    finally:
        await proxy.stop()


async def test_the_listener_is_exempt_from_idle_session_timeout(
    make_listener: Callable[..., object], fault_database: str, store: StateStore
) -> None:
    engine = create_engine(fault_database, pool_size=1)
    async with engine.connect() as connection:
        name = make_url(fault_database).database
        await connection.exec_driver_sql(
            f"ALTER DATABASE \"{name}\" SET idle_session_timeout = '200ms'"
        )
        await connection.commit()
    await engine.dispose()
    listener = await make_listener("postgres")  # type: ignore[operator]
    listener.probe_interval = 5.0

    await asyncio.sleep(1.0)

    assert listener.ready
    assert listener.losses == 0


async def test_start_fails_with_a_clear_message_when_the_server_is_down() -> None:
    bus = RedisBus("redis://127.0.0.1:1/0")
    bus.start_timeout = 0.5
    tasks_before = len(asyncio.all_tasks())

    with pytest.raises(RuntimeError, match=r"could not listen on Redis 127\.0\.0\.1:1"):
        await bus.start()

    assert bus.state == ListenerState.STOPPED
    assert len(asyncio.all_tasks()) == tasks_before
    await bus.stop()
