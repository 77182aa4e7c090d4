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

    __slots__ = ("_changed", "_hub", "topic")

    def __init__(self, hub: Hub, topic: str) -> None:
        self.topic = topic
        self._hub = hub
        self._changed = asyncio.Event()

    def signal(self) -> None:
        self._changed.set()

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until the topic changes; ``False`` if ``timeout`` passed first."""
        try:
            async with asyncio.timeout(timeout):
                await self._changed.wait()
        except TimeoutError:
            return False
        self._changed.clear()
        return True

    def close(self) -> None:
        self._hub.remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


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
