"""What every bus backend promises, run against memory, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import logging
import secrets

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pushgate.events.bus import EventBus
from tests.events.conftest import LISTENING, MakeBus, kill_listener

#: Long enough for a message that is coming to arrive.
ARRIVES = 2.0
#: Long enough to be sure a message that should not come does not.
QUIET = 0.3


def new_topic() -> str:
    return f"test:{secrets.token_hex(8)}"


async def test_publish_reaches_every_subscriber_of_the_topic(bus: EventBus) -> None:
    topic = new_topic()
    with bus.subscribe(topic) as first, bus.subscribe(topic) as second:
        await bus.publish(topic)

        assert await first.wait(ARRIVES)
        assert await second.wait(ARRIVES)


async def test_publish_reaches_subscribers_in_other_processes(
    make_bus: MakeBus,
) -> None:
    publisher, listener = await make_bus(), await make_bus()
    topic = new_topic()
    with listener.subscribe(topic) as subscription:
        await publisher.publish(topic)

        assert await subscription.wait(ARRIVES)


async def test_no_message_leaks_to_another_topic(bus: EventBus) -> None:
    topic, other = new_topic(), new_topic()
    with bus.subscribe(topic) as watched, bus.subscribe(other) as unrelated:
        await bus.publish(topic)

        assert await watched.wait(ARRIVES)
        assert not await unrelated.wait(QUIET)


async def test_repeated_signals_fold_into_one_wake_up(bus: EventBus) -> None:
    topic, marker = new_topic(), new_topic()
    with bus.subscribe(topic) as subscription, bus.subscribe(marker) as last:
        for _ in range(5):
            await bus.publish(topic)
        await bus.publish(marker)
        # Messages arrive in order: once the marker is in, so are the five.
        assert await last.wait(ARRIVES)

        assert await subscription.wait(0)
        assert not await subscription.wait(QUIET)


async def test_wait_times_out_without_a_message(bus: EventBus) -> None:
    with bus.subscribe(new_topic()) as subscription:
        assert not await subscription.wait(QUIET)


async def test_unsubscribing_leaves_nothing_behind(bus: EventBus) -> None:
    before = len(bus.hub)
    topic = new_topic()
    subscriptions = [bus.subscribe(topic) for _ in range(50)]
    subscriptions.append(bus.subscribe(new_topic()))
    assert len(bus.hub) == before + 51

    for subscription in subscriptions:
        subscription.close()
    subscriptions[0].close()  # closing twice is harmless

    assert len(bus.hub) == before
    assert bus.hub.deliver(topic) == 0
    await bus.publish(topic)


async def test_publish_in_delivers_only_on_commit(
    bus: EventBus, sessions: async_sessionmaker[AsyncSession]
) -> None:
    topic = new_topic()
    with bus.subscribe(topic) as subscription:
        async with sessions() as session:
            await session.execute(text("SELECT 1"))
            await bus.publish_in(session, topic)
            assert not await subscription.wait(QUIET)

            await bus.commit(session)

        assert await subscription.wait(ARRIVES)


async def test_publish_in_never_delivers_on_rollback(
    bus: EventBus, sessions: async_sessionmaker[AsyncSession]
) -> None:
    rolled_back, committed = new_topic(), new_topic()
    with bus.subscribe(rolled_back) as lost, bus.subscribe(committed) as kept:
        async with sessions() as session:
            await bus.publish_in(session, rolled_back)
            await session.rollback()
            # The same session goes on: only the new transaction's topic goes.
            await bus.publish_in(session, committed)
            await bus.commit(session)

        assert await kept.wait(ARRIVES)
        assert not await lost.wait(QUIET)


async def test_publish_in_a_failed_transaction_is_never_delivered(
    bus: EventBus, sessions: async_sessionmaker[AsyncSession]
) -> None:
    topic = new_topic()
    with bus.subscribe(topic) as subscription:
        with pytest.raises(ZeroDivisionError):
            async with sessions.begin() as session:
                await bus.publish_in(session, topic)
                raise ZeroDivisionError

        assert not await subscription.wait(QUIET)


@pytest.mark.parametrize("topic", ["", "x" * 201, "nul\x00inside"])
async def test_bad_topics_are_refused(bus: EventBus, topic: str) -> None:
    with pytest.raises(ValueError, match="topic"):
        bus.subscribe(topic)
    with pytest.raises(ValueError, match="topic"):
        await bus.publish(topic)


async def test_status_names_the_backend(bus: EventBus, bus_kind: str) -> None:
    status = bus.status()

    assert status["backend"] == bus_kind
    assert status["ready"] is True


async def wait_until(condition: object, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("bus_kind", LISTENING)
async def test_lost_connection_wakes_every_waiter_to_resync(
    bus: EventBus,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="pushgate")
    topics = [new_topic() for _ in range(3)]
    subscriptions = [bus.subscribe(topic) for topic in topics]

    await kill_listener(bus, database_url)

    # Nothing was published: the wake-up is the resync after reconnecting.
    for subscription in subscriptions:
        assert await subscription.wait(5)
    assert bus.ready
    for subscription in subscriptions:
        subscription.close()
    lost = [r for r in caplog.records if "lost its connection" in r.getMessage()]
    back = [r for r in caplog.records if "again after" in r.getMessage()]
    assert len(lost) == 1 and lost[0].levelno == logging.WARNING
    assert len(back) == 1 and back[0].levelno == logging.INFO


@pytest.mark.parametrize("bus_kind", LISTENING)
async def test_messages_flow_again_after_a_lost_connection(
    make_bus: MakeBus, database_url: str
) -> None:
    publisher, listener = await make_bus(), await make_bus()
    topic = new_topic()
    with listener.subscribe(topic) as subscription:
        await kill_listener(listener, database_url)
        assert await subscription.wait(5)  # the resync
        await wait_until(lambda: listener.ready)

        await publisher.publish(topic)

        assert await subscription.wait(ARRIVES)
    assert listener.status()["losses"] == 1


@pytest.mark.parametrize("bus_kind", LISTENING)
async def test_a_change_committed_while_disconnected_is_not_lost(
    make_bus: MakeBus,
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    publisher, listener = await make_bus(), await make_bus()
    listener.min_backoff = 0.5  # type: ignore[attr-defined]
    topic = new_topic()
    with listener.subscribe(topic) as subscription:
        await kill_listener(listener, database_url)
        await wait_until(lambda: not listener.ready)
        async with sessions() as session:
            await publisher.publish_in(session, topic)
            await publisher.commit(session)

        # The message went nowhere, but the waiter is woken to re-read.
        assert await subscription.wait(5)
