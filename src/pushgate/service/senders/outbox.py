"""The development sender: keeps each message in a table instead of sending it.

The messages are shown on the ``/outbox`` page, to clients on this machine
only. The log says that a message went out and to which (masked) number,
never its text, since the text holds the code.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pushgate import clock
from pushgate.db.models import ServiceOutboxMessage
from pushgate.service.senders.base import Message, Sender


class OutboxSender(Sender):
    name = "outbox"

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def send(self, message: Message) -> str:
        async with self._sessions.begin() as session:
            row = ServiceOutboxMessage(
                channel=message.channel,
                to_number=message.to,
                body=message.text,
                created_at=clock.now(),
            )
            session.add(row)
            await session.flush()
            return f"outbox message {row.id}"
