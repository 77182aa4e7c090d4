"""The in-memory bus: one process only, for development and tests."""

from __future__ import annotations

from pushgate.events.bus import EventBus, check_topic


class MemoryBus(EventBus):
    name = "memory"

    async def publish(self, topic: str) -> None:
        self.hub.deliver(check_topic(topic))
