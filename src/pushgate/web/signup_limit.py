"""Slowing down sign-up as a way to learn who has an account.

Sign-up has to say when an email or a phone number already belongs to an
account: the person needs to know to log in instead. Anyone can ask it the
same about any email, so sign-ups that end without a new account (taken
email, taken phone, a number the service refuses) are counted per client
address, as wrong passwords are (:mod:`pushgate.security.throttle`: the same
table, key scheme, doubling delays and forgetting). After the free ones,
each such sign-up blocks the address for twice as long as the one before,
so looking up addresses in bulk is slow while a person who mistypes twice is
not held up. A sign-up that creates an account is not counted: it takes a
phone number no account has, which is not to be had in bulk.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from pushgate.security import throttle
from pushgate.settings import Settings

#: Refused sign-ups from one address before delays start.
FREE_PER_ADDRESS = 10


def address_key(address: str) -> str:
    """Apart from the login counts of the same address (an IPv6 /64 as one)."""
    return "signup-" + throttle.address_key(address)


async def seconds_blocked(db: AsyncSession, address: str, now: datetime) -> int:
    """Seconds until the address may try to sign up again; 0: now."""
    return await throttle.key_blocked_for(db, address_key(address), now)


async def record_refusal(
    db: AsyncSession, address: str, now: datetime, settings: Settings
) -> int:
    """Count a sign-up that created no account; the seconds the next must wait."""
    limits = throttle.ThrottleLimits.from_settings(settings)
    return await throttle.count_try(
        db, address_key(address), FREE_PER_ADDRESS, now, limits
    )
