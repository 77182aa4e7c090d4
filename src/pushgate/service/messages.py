"""Sending SMS and voice codes through the job queue, with retries.

The API issues a code and queues :func:`send_code` in one transaction. The job's
arguments are stored in the database, so the text (which holds the code) is
sealed with a key derived from the server secret and stops opening once the
code has expired. The job sends only while the code is still live: a code
that was used or replaced meanwhile is not sent again on a retry.
"""

from __future__ import annotations

import logging

import procrastinate
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pushgate import clock
from pushgate.db.models import ServiceToken, ServiceUser
from pushgate.jobs import current_runtime, tasks
from pushgate.runtime import Runtime
from pushgate.service.senders import Message, create_sender
from pushgate.service.senders.base import Channel, e164, mask_number
from pushgate.service.tokens import CODE_LIFETIME, seal, unseal

logger = logging.getLogger("pushgate")

#: The task's name once the job app has added it under the "pushgate" namespace.
TASK_NAME = "pushgate:send_code"

_LIFETIME_MINUTES = int(CODE_LIFETIME.total_seconds() // 60)


def compose(channel: Channel, code: str, app_name: str, action_message: str) -> str:
    """What the text says, or what the call speaks (digits one by one)."""
    label = action_message or f"Your {app_name} code"
    if channel == "sms":
        return (
            f"{label}: {code}. It expires in {_LIFETIME_MINUTES} minutes; "
            "never share it."
        )
    spoken = ", ".join(code)
    return f"{label} is: {spoken}. Once more: {spoken}."


async def queue_code(
    runtime: Runtime, session: AsyncSession, token_id: int, text: str
) -> None:
    """Queue the message of a code issued in ``session``'s transaction.

    The job is written through the same connection, so the code and its
    message are committed together or not at all.
    """
    sealed = seal(runtime.settings.resolved_secret_key(), text)
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    await runtime.jobs.configure_task(
        TASK_NAME, connection=raw.driver_connection
    ).defer_async(token_id=token_id, sealed_text=sealed)


@tasks.task(
    name="send_code",
    queue="messages",
    retry=procrastinate.RetryStrategy(max_attempts=6, exponential_wait=2),
)
async def send_code(token_id: int, sealed_text: str) -> None:
    runtime = current_runtime()
    text = unseal(runtime.settings.resolved_secret_key(), sealed_text)
    async with runtime.sessions.begin() as session:
        row = (
            await session.execute(
                select(ServiceToken, ServiceUser)
                .join(ServiceUser, ServiceUser.id == ServiceToken.user_id)
                .where(ServiceToken.id == token_id)
            )
        ).one_or_none()
    if row is None or text is None:
        logger.warning("Dropped code message %s: its code is gone or too old", token_id)
        return
    token, user = row
    if token.used_at or token.replaced_at or token.expires_at <= clock.now():
        logger.info("Skipped code message %s: the code is no longer live", token_id)
        return

    channel: Channel = "call" if token.channel == "call" else "sms"
    to = e164(user.country_code, user.cellphone)
    sender = create_sender(runtime)
    reference = await sender.send(Message(channel=channel, to=to, text=text))

    async with runtime.sessions.begin() as session:
        sent = await session.get(ServiceToken, token_id)
        if sent is not None:
            sent.sent_at = clock.now()
    logger.info(
        "Sent a %s code to %s through %s (%s)",
        channel,
        mask_number(to),
        sender.name,
        reference,
    )
