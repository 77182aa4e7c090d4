"""Password guessing meets growing delays per account and per address."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pushgate.security import throttle
from pushgate.security.throttle import ThrottleLimits, delay_after

T0 = datetime(2030, 1, 1, tzinfo=UTC)
LIMITS = ThrottleLimits(
    free_per_account=3,
    free_per_address=5,
    max_delay=timedelta(seconds=60),
    memory=timedelta(hours=1),
)


def fresh_email() -> str:
    return f"guess-{secrets.token_hex(4)}@example.com"


def fresh_address() -> str:
    return f"192.0.2.{secrets.randbelow(250) + 1}"


def test_delays_double_after_the_free_failures_up_to_the_maximum() -> None:
    delays = [
        delay_after(n, 3, timedelta(seconds=60)).total_seconds() for n in range(1, 12)
    ]
    assert delays == [0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60]


def test_ipv6_addresses_count_by_their_64_network() -> None:
    assert throttle.address_key("2001:db8:1:2::1") == throttle.address_key(
        "2001:db8:1:2:ffff::9"
    )
    assert (
        throttle.account_key(" Someone@Example.COM ") == "account:someone@example.com"
    )


async def fail(
    sessions: async_sessionmaker[AsyncSession], email: str, address: str, now: datetime
) -> int:
    async with sessions.begin() as session:
        return await throttle.record_failure(session, email, address, now, LIMITS)


async def blocked(
    sessions: async_sessionmaker[AsyncSession], email: str, address: str, now: datetime
) -> int:
    async with sessions() as session:
        return await throttle.seconds_blocked(session, email, address, now)


async def test_account_is_blocked_with_growing_delays(sessions) -> None:
    email = fresh_email()
    waits = []
    for n in range(6):
        now = T0 + timedelta(minutes=n)
        assert await blocked(sessions, email, fresh_address(), now) == 0
        waits.append(await fail(sessions, email, fresh_address(), now))
    assert waits == [0, 0, 0, 1, 2, 4]
    last = T0 + timedelta(minutes=5)
    # Blocked from any address, for the email, until the delay has passed.
    assert await blocked(sessions, email, fresh_address(), last) == 4
    assert (
        await blocked(sessions, email, fresh_address(), last + timedelta(seconds=4))
        == 0
    )
    # Another email is not affected.
    assert await blocked(sessions, fresh_email(), fresh_address(), last) == 0


async def test_address_is_blocked_across_emails(sessions) -> None:
    address = "198.51.100." + str(secrets.randbelow(250) + 1)
    for n in range(LIMITS.free_per_address + 1):
        await fail(
            sessions, fresh_email(), address, T0 + timedelta(hours=2, seconds=10 * n)
        )
    now = T0 + timedelta(hours=2, seconds=10 * LIMITS.free_per_address)
    assert await blocked(sessions, fresh_email(), address, now) == 1


async def test_success_clears_the_account_and_old_failures_are_forgotten(
    sessions,
) -> None:
    email = fresh_email()
    for n in range(4):
        await fail(
            sessions, email, fresh_address(), T0 + timedelta(days=1, seconds=5 * n)
        )
    async with sessions.begin() as session:
        await throttle.record_success(session, email)
    assert (
        await blocked(
            sessions, email, fresh_address(), T0 + timedelta(days=1, seconds=16)
        )
        == 0
    )

    other = fresh_email()
    for n in range(3):
        await fail(sessions, other, fresh_address(), T0 + timedelta(days=2, seconds=n))
    # After an hour of quiet the count starts again: the next failure is free.
    later = T0 + timedelta(days=2, hours=1, minutes=1)
    assert await fail(sessions, other, fresh_address(), later) == 0


async def test_prune_keeps_what_still_blocks(sessions) -> None:
    email = fresh_email()
    start = T0 + timedelta(days=3)
    for _ in range(LIMITS.free_per_account + 1):
        await fail(sessions, email, fresh_address(), start)
    async with sessions.begin() as session:
        await throttle.prune(session, start + timedelta(minutes=30), LIMITS)
    assert await blocked(sessions, email, fresh_address(), start) == 1
    async with sessions.begin() as session:
        assert await throttle.prune(session, start + timedelta(hours=2), LIMITS) >= 1
    async with sessions() as session:
        assert await throttle.seconds_blocked(session, email, "x", start) == 0
