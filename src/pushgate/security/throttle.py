"""Password guessing: growing delays per account and per client address.

Each wrong password counts against the email it was tried for (whether or not
an account has it, so the answer never tells) and against the client address
(an IPv6 client counts by its /64 network, which one person usually holds
whole). After the free failures of a key, each further failure blocks the key
for twice as long as the one before: 1 s, 2 s, 4 s ... up to a maximum. The
counts live in PostgreSQL so every process sees them; they are forgotten once
a key has had no failure for a while, and a right password clears the
account's count (not the address's, so a guesser cannot reset it with an
account of their own).
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pushgate.db.models import LoginThrottle
from pushgate.settings import Settings


@dataclass(frozen=True, slots=True)
class ThrottleLimits:
    free_per_account: int = 5
    free_per_address: int = 20
    max_delay: timedelta = timedelta(minutes=15)
    memory: timedelta = timedelta(hours=1)

    @classmethod
    def from_settings(cls, settings: Settings) -> ThrottleLimits:
        return cls(
            free_per_account=settings.login_free_failures_per_account,
            free_per_address=settings.login_free_failures_per_address,
            max_delay=timedelta(seconds=settings.login_max_delay_seconds),
            memory=timedelta(seconds=settings.login_failure_memory_seconds),
        )


def account_key(email: str) -> str:
    return "account:" + email.strip().lower()[:254]


def address_key(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "address:" + address[:64]
    if ip.version == 6:
        return "address:" + str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return "address:" + str(ip)


def delay_after(failures: int, free: int, max_delay: timedelta) -> timedelta:
    """How long a key is blocked after its ``failures``-th failure."""
    excess = failures - free
    if excess <= 0:
        return timedelta(0)
    seconds = 2.0 ** min(excess - 1, 40)
    return min(timedelta(seconds=seconds), max_delay)


async def seconds_blocked(
    session: AsyncSession, email: str, address: str, now: datetime
) -> int:
    """Seconds until a login for ``email`` from ``address`` may be tried; 0: now."""
    until = await session.scalar(
        select(func.max(LoginThrottle.blocked_until)).where(
            LoginThrottle.key.in_((account_key(email), address_key(address)))
        )
    )
    if until is None or until <= now:
        return 0
    return max(1, math.ceil((until - now).total_seconds()))


async def record_failure(
    session: AsyncSession,
    email: str,
    address: str,
    now: datetime,
    limits: ThrottleLimits,
) -> int:
    """Count a wrong password; returns the seconds the next try must wait.

    Keys with nothing left to remember are dropped on the way, so the table
    holds only recent guessing.
    """
    await prune(session, now, limits)
    keys: Sequence[tuple[str, int]] = (
        (account_key(email), limits.free_per_account),
        (address_key(address), limits.free_per_address),
    )
    longest = timedelta(0)
    for key, free in keys:
        failures = await _count(session, key, now, limits.memory)
        delay = delay_after(failures, free, limits.max_delay)
        if delay:
            await session.execute(
                update(LoginThrottle)
                .where(LoginThrottle.key == key)
                .values(blocked_until=now + delay)
            )
        longest = max(longest, delay)
    return math.ceil(longest.total_seconds())


async def key_blocked_for(session: AsyncSession, key: str, now: datetime) -> int:
    """Seconds until ``key`` (any key, not only login's) is free again; 0: now."""
    until = await session.scalar(
        select(LoginThrottle.blocked_until).where(LoginThrottle.key == key)
    )
    if until is None or until <= now:
        return 0
    return max(1, math.ceil((until - now).total_seconds()))


async def count_try(
    session: AsyncSession, key: str, free: int, now: datetime, limits: ThrottleLimits
) -> int:
    """Count one try against ``key`` and return the seconds it is now blocked.

    The same counting as wrong passwords (``free`` tries, then doubling
    delays up to ``limits.max_delay``, forgotten after ``limits.memory`` of
    quiet), for other things worth slowing down; give each its own key
    prefix, so its counts never mix with the login's.
    """
    await prune(session, now, limits)
    tries = await _count(session, key, now, limits.memory)
    delay = delay_after(tries, free, limits.max_delay)
    if delay:
        await session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == key)
            .values(blocked_until=now + delay)
        )
    return math.ceil(delay.total_seconds())


async def _count(
    session: AsyncSession, key: str, now: datetime, memory: timedelta
) -> int:
    table = LoginThrottle.__table__
    forgotten = table.c.last_failure_at < now - memory
    statement = (
        insert(LoginThrottle)
        .values(key=key, failures=1, last_failure_at=now, blocked_until=None)
        .on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                # A key quiet for longer than the memory starts again at one.
                "failures": case((forgotten, 1), else_=table.c.failures + 1),
                "last_failure_at": now,
            },
        )
        .returning(table.c.failures)
    )
    failures: int = (await session.execute(statement)).scalar_one()
    return failures


async def record_success(session: AsyncSession, email: str) -> None:
    await session.execute(
        delete(LoginThrottle).where(LoginThrottle.key == account_key(email))
    )


async def prune(session: AsyncSession, now: datetime, limits: ThrottleLimits) -> int:
    """Drop keys with nothing to remember; returns how many."""
    result = await session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.last_failure_at < now - limits.memory,
            (LoginThrottle.blocked_until.is_(None))
            | (LoginThrottle.blocked_until < now),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
