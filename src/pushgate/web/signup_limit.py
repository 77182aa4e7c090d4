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

import math
from datetime import datetime, timedelta

from sqlalchemy import case, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pushgate.db.models import LoginThrottle
from pushgate.security import throttle
from pushgate.settings import Settings

#: Refused sign-ups from one address before delays start.
FREE_PER_ADDRESS = 10


def address_key(address: str) -> str:
    """Apart from the login counts of the same address (an IPv6 /64 as one)."""
    return "signup-" + throttle.address_key(address)


async def seconds_blocked(db: AsyncSession, address: str, now: datetime) -> int:
    """Seconds until the address may try to sign up again; 0: now."""
    until = await db.scalar(
        select(LoginThrottle.blocked_until).where(
            LoginThrottle.key == address_key(address)
        )
    )
    if until is None or until <= now:
        return 0
    return max(1, math.ceil((until - now).total_seconds()))


async def record_refusal(
    db: AsyncSession, address: str, now: datetime, settings: Settings
) -> int:
    """Count a sign-up that created no account; the seconds the next must wait."""
    limits = throttle.ThrottleLimits.from_settings(settings)
    await throttle.prune(db, now, limits)
    key = address_key(address)
    table = LoginThrottle.__table__
    forgotten = table.c.last_failure_at < now - limits.memory
    refusals: int = (
        await db.execute(
            insert(LoginThrottle)
            .values(key=key, failures=1, last_failure_at=now, blocked_until=None)
            .on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    # Quiet for longer than the memory: start again at one.
                    "failures": case((forgotten, 1), else_=table.c.failures + 1),
                    "last_failure_at": now,
                },
            )
            .returning(table.c.failures)
        )
    ).scalar_one()
    delay = throttle.delay_after(refusals, FREE_PER_ADDRESS, limits.max_delay)
    if delay > timedelta(0):
        await db.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == key)
            .values(blocked_until=now + delay)
        )
    return math.ceil(delay.total_seconds())
