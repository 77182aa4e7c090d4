"""Texts and calls the approval service sends besides login codes.

The enrollment link that ``users/new`` texts with ``send_install_link_via_sms``
and the codes of phone verification go through the configured sender (the
development outbox or Twilio) from the job queue, so a sender that is down
is retried. Job arguments are stored in the database, so the text (which
holds a link or code) is sealed and stops opening after ten minutes, the
lifetime of both.
"""

from __future__ import annotations

import logging

import procrastinate
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from pushgate.db.models import ServiceUser
from pushgate.jobs import current_runtime, tasks
from pushgate.runtime import Runtime
from pushgate.service.senders import Message, create_sender
from pushgate.service.senders.base import Channel, e164, mask_number
from pushgate.service.tokens import seal, unseal

logger = logging.getLogger("pushgate")

TASK_NAME = "pushgate:send_phone_message"
ENROLLMENT_TASK_NAME = "pushgate:send_enrollment_code"


def install_link_text(link: str) -> str:
    return (
        f"Enroll this phone to approve your sign-ins: {link} "
        "(the link works once, within 10 minutes)."
    )


def verification_text(channel: Channel, code: str) -> str:
    if channel == "sms":
        return f"Your phone verification code is {code}. It expires in 10 minutes."
    spoken = ", ".join(code)
    return f"Your phone verification code is: {spoken}. Once more: {spoken}."


async def queue_message(
    session: AsyncSession,
    runtime: Runtime,
    channel: Channel,
    country_code: str,
    cellphone: str,
    text: str,
) -> None:
    """Queue a text or call in ``session``'s transaction (sent once committed)."""
    sealed = seal(runtime.settings.resolved_secret_key(), text)
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    await runtime.jobs.configure_task(
        TASK_NAME, connection=raw.driver_connection
    ).defer_async(channel=channel, to=e164(country_code, cellphone), sealed_text=sealed)


async def queue_enrollment_code(
    session: AsyncSession,
    runtime: Runtime,
    channel: Channel,
    country_code: str,
    cellphone: str,
    text: str,
) -> None:
    """Queue a code for enrolling by phone number, sent only if a site has
    registered the number by the time the job runs.

    The request that asks for the code does the same work for every number,
    so neither its answer nor its timing tells whether the number is known.
    """
    sealed = seal(runtime.settings.resolved_secret_key(), text)
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    await runtime.jobs.configure_task(
        ENROLLMENT_TASK_NAME, connection=raw.driver_connection
    ).defer_async(
        channel=channel,
        country_code=country_code,
        cellphone=cellphone,
        sealed_text=sealed,
    )


@tasks.task(
    name="send_enrollment_code",
    queue="messages",
    retry=procrastinate.RetryStrategy(max_attempts=6, exponential_wait=2),
)
async def send_enrollment_code(
    channel: str, country_code: str, cellphone: str, sealed_text: str
) -> None:
    runtime = current_runtime()
    to = e164(country_code, cellphone)
    async with runtime.sessions() as session:
        registered = await session.scalar(
            select(
                exists().where(
                    ServiceUser.country_code == country_code,
                    ServiceUser.cellphone == cellphone,
                    ServiceUser.deleted_at.is_(None),
                )
            )
        )
    if not registered:
        logger.info(
            "Sent no enrollment code to %s: no site registered it", mask_number(to)
        )
        return
    await _send(channel, to, sealed_text)


@tasks.task(
    name="send_phone_message",
    queue="messages",
    retry=procrastinate.RetryStrategy(max_attempts=6, exponential_wait=2),
)
async def send_phone_message(channel: str, to: str, sealed_text: str) -> None:
    await _send(channel, to, sealed_text)


async def _send(channel: str, to: str, sealed_text: str) -> None:
    runtime = current_runtime()
    text = unseal(runtime.settings.resolved_secret_key(), sealed_text)
    if text is None:
        logger.warning(
            "Dropped a message to %s: it is too old to send", mask_number(to)
        )
        return
    kind: Channel = "call" if channel == "call" else "sms"
    reference = await create_sender(runtime).send(
        Message(channel=kind, to=to, text=text)
    )
    logger.info("Sent a %s to %s (%s)", kind, mask_number(to), reference)
