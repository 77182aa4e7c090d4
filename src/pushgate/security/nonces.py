"""Callbacks that are forged, stale or replayed are refused.

A callback is signed over its nonce, and the nonce begins with the unix time
it was signed at, in seconds (as Authy's were), followed by digits that make
it unique. The web app accepts a callback only when its
signature is right (compared in constant time), its nonce is at most a few
minutes old and not from the future, and that nonce has not been accepted
before. Accepted nonces are remembered in ``callback_nonces`` just long enough
for them to turn stale; older ones are pruned (by the hourly housekeeping
job, not by each callback), since the age check alone refuses them then.

The signed URL is the one the service posted to. Behind a reverse proxy it is
rebuilt from the forwarding headers, but only when the proxy is trusted.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from pushgate import webhook_signature
from pushgate.db.models import CallbackNonce
from pushgate.security.proxy import external_url

logger = logging.getLogger("pushgate.security")

#: Ten digits of unix time in seconds, then optionally more digits (with or
#: without a decimal point) that make the nonce unique.
_NONCE = re.compile(r"([0-9]{10})\.?[0-9]{0,12}")

#: How far a signer's clock may run ahead of ours.
CLOCK_SKEW = timedelta(seconds=60)


class NonceOutcome(enum.StrEnum):
    ACCEPTED = "accepted"
    MALFORMED = "malformed"
    STALE = "stale"
    FUTURE = "from the future"
    REPLAYED = "replayed"


def nonce_time(nonce: str) -> datetime | None:
    """The time a nonce names, or ``None`` when it is not a unix time."""
    match = _NONCE.fullmatch(nonce)
    if match is None:
        return None
    return datetime.fromtimestamp(int(match.group(1)), UTC)


def check_nonce_time(nonce: str, now: datetime, max_age: timedelta) -> NonceOutcome:
    """Whether ``nonce`` names a time that may still be accepted (``ACCEPTED``)
    or why not; whether it was used before is for the database to say."""
    signed_at = nonce_time(nonce)
    if signed_at is None:
        return NonceOutcome.MALFORMED
    if signed_at < now - max_age:
        return NonceOutcome.STALE
    if signed_at > now + CLOCK_SKEW:
        return NonceOutcome.FUTURE
    return NonceOutcome.ACCEPTED


async def claim_nonce(
    session: AsyncSession, nonce: str, now: datetime, max_age: timedelta
) -> NonceOutcome:
    """Accept ``nonce`` once (recorded in ``session``'s transaction)."""
    timely = check_nonce_time(nonce, now, max_age)
    if timely is not NonceOutcome.ACCEPTED:
        return timely

    await prune_nonces(session, now, max_age)
    inserted = await session.scalar(
        insert(CallbackNonce)
        .values(nonce=nonce, received_at=now)
        .on_conflict_do_nothing(index_elements=[CallbackNonce.nonce])
        .returning(CallbackNonce.nonce)
    )
    return NonceOutcome.ACCEPTED if inserted is not None else NonceOutcome.REPLAYED


async def prune_nonces(session: AsyncSession, now: datetime, max_age: timedelta) -> int:
    """Forget nonces that the age check refuses by now anyway."""
    result = await session.execute(
        delete(CallbackNonce).where(
            CallbackNonce.received_at < now - max_age - CLOCK_SKEW
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True)
class CallbackVerdict:
    """Whether a callback may be acted on; ``reason`` says why not."""

    accepted: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.accepted


async def check_callback(
    session: AsyncSession,
    request: Request,
    body: Mapping[str, Any],
    api_key: str,
    now: datetime,
    max_age: timedelta,
) -> CallbackVerdict:
    """Check a callback's signature, then claim its nonce in ``session``.

    The signature comes first, so a forged request never records a nonce.
    """
    signature = request.headers.get("x-authy-signature", "")
    nonce = request.headers.get("x-authy-signature-nonce", "")
    if not signature or not nonce:
        return _refused("missing X-Authy-Signature or X-Authy-Signature-Nonce")
    url = external_url(request)
    if not webhook_signature.verify(
        signature, api_key, nonce, request.method, url, body
    ):
        return _refused(f"signature does not match for {url}")
    outcome = await claim_nonce(session, nonce, now, max_age)
    if outcome is not NonceOutcome.ACCEPTED:
        return _refused(f"nonce {nonce[:32]!r} is {outcome}")
    return CallbackVerdict(accepted=True)


def _refused(reason: str) -> CallbackVerdict:
    logger.warning("Refused a callback: %s", reason)
    return CallbackVerdict(accepted=False, reason=reason)
