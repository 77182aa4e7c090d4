"""The in-process waiter behind every backend: what a wake-up means."""

from __future__ import annotations

import asyncio

import pytest

from pushgate.events._hub import Hub


async def test_a_change_before_the_wait_is_not_missed() -> None:
    with Hub().add("attempt:a") as subscription:
        subscription._hub.deliver("attempt:a")
        assert await subscription.wait(timeout=0) is True
        # Folded into that one wake-up: nothing is left over.
        assert await subscription.wait(timeout=0.01) is False


async def test_a_change_after_a_timeout_wakes_the_next_wait() -> None:
    hub = Hub()
    with hub.add("attempt:a") as subscription:
        assert await subscription.wait(timeout=0.01) is False
        hub.deliver("attempt:a")
        assert await subscription.wait(timeout=1) is True


async def test_a_cancelled_wait_leaves_the_subscription_usable() -> None:
    hub = Hub()
    with hub.add("attempt:a") as subscription:
        waiting = asyncio.create_task(subscription.wait())
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        hub.deliver("attempt:a")
        assert await subscription.wait(timeout=1) is True


async def test_a_wait_wakes_as_soon_as_the_change_lands() -> None:
    hub = Hub()
    with hub.add("attempt:a") as subscription:
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, hub.deliver, "attempt:a")
        started = loop.time()
        assert await subscription.wait(timeout=5) is True
        assert loop.time() - started < 1


async def test_two_tasks_cannot_wait_on_one_subscription() -> None:
    with Hub().add("attempt:a") as subscription:
        first = asyncio.create_task(subscription.wait())
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="subscribe once per waiting task"):
            await subscription.wait()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
