"""In-process fan-out from one incoming message to every local waiter on a topic."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator


class Subscription:
    """One waiter's interest in a topic.

    It carries no data, only the fact that the topic changed since the
    waiter last looked: the waiter then reads the current state from the
    database. Several changes before the waiter wakes fold into one, so a
    slow reader never builds a backlog.
    """

    # A flag and one future made only while waiting: a waiting stream holds
    # a few hundred bytes here instead of an Event with its deque and a
    # timeout context, which adds up over ten thousand open streams.
    __slots__ = ("_changed", "_hub", "_waiter", "topic")

    def __init__(self, hub: Hub, topic: str) -> None:
        self.topic = topic
        self._hub = hub
        self._changed = False
        self._waiter: asyncio.Future[None] | None = None

    def signal(self) -> None:
        self._changed = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until the topic changes; ``False`` if ``timeout`` passed first.

        One task waits on a subscription at a time.
        """
        if not self._changed:
            if self._waiter is not None:
                raise RuntimeError(
                    f"Subscription to {self.topic!r} is already being waited "
                    "on; subscribe once per waiting task."
                )
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            timer = None
            if timeout is not None:
                timer = loop.call_later(max(timeout, 0.0), _wake, waiter)
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
            if not self._changed:
                return False
        self._changed = False
        return True

    def close(self) -> None:
        self._hub.remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Hub:
    def __init__(self) -> None:
        self._topics: dict[str, set[Subscription]] = {}

    def add(self, topic: str) -> Subscription:
        subscription = Subscription(self, topic)
        self._topics.setdefault(topic, set()).add(subscription)
        return subscription

    def remove(self, subscription: Subscription) -> None:
        waiters = self._topics.get(subscription.topic)
        if waiters is None:
            return
        waiters.discard(subscription)
        if not waiters:
            del self._topics[subscription.topic]

    def deliver(self, topic: str) -> int:
        waiters = self._topics.get(topic, ())
        for subscription in waiters:
            subscription.signal()
        return len(waiters)

    def resync_all(self) -> None:
        """Wake every waiter so it re-reads state (after a lost connection)."""
        for subscription in self._all():
            subscription.signal()

    def _all(self) -> Iterator[Subscription]:
        for waiters in self._topics.values():
            yield from waiters

    def __len__(self) -> int:
        return sum(len(waiters) for waiters in self._topics.values())
