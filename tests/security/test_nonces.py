"""Callback nonces: once only, and only while fresh."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from pushgate.db.models import CallbackNonce
from pushgate.security.nonces import NonceOutcome, claim_nonce, nonce_time

MAX_AGE = timedelta(minutes=5)


def nonce_at(moment: datetime) -> str:
    # A unique fraction keeps tests sharing the database apart.
    return f"{int(moment.timestamp())}.{secrets.randbelow(10**9):09d}"


def test_nonce_time_reads_unix_times_only() -> None:
    assert nonce_time("1455825429") == datetime(2016, 2, 18, 19, 57, 9, tzinfo=UTC)
    # The service's style: seconds, then random digits.
    assert nonce_time("1455825429123456") == nonce_time("1455825429.5")
    for bad in (
        "",
        "abc",
        "1e9",
        "-5",
        "12.5",
        "1" * 40,
        "\uff11" * 10,
        "1455825429 ",
        "1455825429\n",
    ):
        assert nonce_time(bad) is None, bad


async def claim(sessions, nonce: str, now: datetime) -> NonceOutcome:
    async with sessions.begin() as session:
        return await claim_nonce(session, nonce, now, MAX_AGE)


async def test_a_fresh_nonce_is_accepted_once(sessions) -> None:
    now = datetime.now(UTC)
    nonce = nonce_at(now - timedelta(seconds=3))
    assert await claim(sessions, nonce, now) is NonceOutcome.ACCEPTED
    assert (
        await claim(sessions, nonce, now + timedelta(seconds=1))
        is NonceOutcome.REPLAYED
    )


async def test_old_future_and_malformed_nonces_are_refused_and_not_stored(
    sessions,
) -> None:
    now = datetime.now(UTC)
    cases = {
        nonce_at(now - MAX_AGE - timedelta(seconds=1)): NonceOutcome.STALE,
        nonce_at(now + timedelta(minutes=5)): NonceOutcome.FUTURE,
        "not-a-time": NonceOutcome.MALFORMED,
    }
    for nonce, outcome in cases.items():
        assert await claim(sessions, nonce, now) is outcome
    async with sessions() as session:
        stored = await session.scalars(
            select(CallbackNonce.nonce).where(CallbackNonce.nonce.in_(cases))
        )
        assert list(stored) == []


async def test_old_nonces_are_pruned_and_stay_refused(sessions) -> None:
    then = datetime.now(UTC) - timedelta(hours=1)
    old = nonce_at(then)
    assert await claim(sessions, old, then) is NonceOutcome.ACCEPTED
    now = datetime.now(UTC)
    assert await claim(sessions, nonce_at(now), now) is NonceOutcome.ACCEPTED
    async with sessions() as session:
        assert await session.get(CallbackNonce, old) is None
    # Forgotten, yet a replay of it is still refused: it is stale now.
    assert await claim(sessions, old, now) is NonceOutcome.STALE
