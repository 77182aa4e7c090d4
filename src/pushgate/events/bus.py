"""The bus interface shared by every backend.

A change is published *inside* the database transaction that makes it when
the backend can (PostgreSQL: ``pg_notify`` is delivered at commit), and right
after the commit otherwise. Either way callers use :meth:`EventBus.publish_in`
then :meth:`EventBus.commit`, and a waiter that wakes always finds the change
already committed.
"""

from __future__ import annotations

import abc
import logging
from typing import TYPE_CHECKING, Any

from pushgate.events._hub import Hub, Subscription

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

    from pushgate.settings import Settings

logger = logging.getLogger("pushgate")

# PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; topics stay far below.
MAX_TOPIC_BYTES = 200
_PENDING = "pushgate.pending_topics"


def check_topic(topic: str) -> str:
    if not topic or len(topic.encode()) > MAX_TOPIC_BYTES or "\x00" in topic:
        raise ValueError(f"Event topic {topic!r} must be 1 to 200 bytes without NUL.")
    return topic


class EventBus(abc.ABC):
    #: True when publish_in sends inside the transaction itself.
    transactional = False

    def __init__(self) -> None:
        self.hub = Hub()

    async def start(self) -> None:  # noqa: B027 - optional for backends
        """Open connections; called once at application start-up."""

    async def stop(self) -> None:  # noqa: B027 - optional for backends
        """Close connections; called once at shutdown."""

    @property
    def ready(self) -> bool:
        """Whether messages published elsewhere currently reach this process."""
        return True

    def status(self) -> dict[str, Any]:
        return {"backend": self.name, "ready": self.ready, "waiters": len(self.hub)}

    name = "abstract"

    def subscribe(self, topic: str) -> Subscription:
        """Register interest in ``topic``; use as a ``with`` block."""
        return self.hub.add(check_topic(topic))

    @abc.abstractmethod
    async def publish(self, topic: str) -> None:
        """Announce a change to ``topic`` that is already committed."""

    async def publish_in(self, session: AsyncSession, topic: str) -> None:
        """Announce a change made in ``session``'s open transaction.

        The default keeps the topic until :meth:`commit`; transactional
        backends override this to send inside the transaction.
        """
        check_topic(topic)
        # Begins the transaction if nothing has yet, so the topic is bound
        # to the transaction it announces.
        await session.connection()
        _pending(session).append(topic)

    async def commit(self, session: AsyncSession) -> None:
        """Commit ``session``, then send what could not travel inside it."""
        pending = _pending(session)
        await session.commit()
        session.info.pop(_PENDING, None)
        for topic in pending:
            await self.publish(topic)


def _pending(session: AsyncSession) -> list[str]:
    """The topics kept for the transaction ``session`` has open now.

    They are bound to that transaction: after a rollback the session begins
    another one, and the topics of the one rolled back are never sent (a
    rolled-back savepoint keeps them: an extra wake-up only costs a read).
    """
    transaction = session.sync_session.get_transaction()
    kept: tuple[object, list[str]] | None = session.info.get(_PENDING)
    if kept is None or kept[0] is not transaction:
        kept = (transaction, [])
        session.info[_PENDING] = kept
    return kept[1]


def create_bus(settings: Settings, engine: AsyncEngine, database_url: str) -> EventBus:
    """The backend named by ``settings.event_backend``."""
    if settings.event_backend == "postgres":
        from pushgate.events.postgres import PostgresBus

        return PostgresBus(engine, database_url)
    if settings.event_backend == "redis":
        from pushgate.events.redis import RedisBus

        return RedisBus(settings.redis_url)
    from pushgate.events.memory import MemoryBus

    return MemoryBus()


__all__ = ["EventBus", "Subscription", "check_topic", "create_bus"]
