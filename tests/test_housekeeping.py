"""Housekeeping deletes what has expired and nothing that is still in use."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from pushgate import clock
from pushgate.db.engine import create_engine, session_factory
from pushgate.db.models import CallbackNonce, LoginAttempt, User, WebSession
from pushgate.housekeeping import Retention, sweep


async def test_sweep_removes_expired_sessions_and_old_attempts(
    database_url: str,
) -> None:
    engine = create_engine(database_url, pool_size=2)
    sessions = session_factory(engine)
    now = clock.now()
    try:
        async with sessions.begin() as db:
            user = User(
                name="Sweep",
                email=f"sweep-{id(now)}@example.com",
                password_hash="x",
                country_code="1",
                phone="5550000",
                created_at=now,
            )
            db.add(user)
            await db.flush()
            db.add_all(
                [
                    WebSession(
                        token_hash="a" * 64,
                        data={},
                        created_at=now,
                        expires_at=now - timedelta(seconds=1),
                    ),
                    WebSession(
                        token_hash="b" * 64,
                        data={},
                        created_at=now,
                        expires_at=now + timedelta(hours=1),
                    ),
                    LoginAttempt(
                        id="old-attempt-" + str(user.id),
                        user_id=user.id,
                        created_at=now - timedelta(days=9),
                        expires_at=now - timedelta(days=8),
                    ),
                    LoginAttempt(
                        id="recent-attempt-" + str(user.id),
                        user_id=user.id,
                        created_at=now - timedelta(hours=1),
                        expires_at=now - timedelta(minutes=58),
                    ),
                ]
            )

        async with sessions.begin() as db:
            removed = await sweep(db, now)

        async with sessions() as db:
            kept_sessions = await db.scalars(
                select(WebSession.token_hash).where(
                    WebSession.token_hash.in_(["a" * 64, "b" * 64])
                )
            )
            kept_attempts = await db.scalars(
                select(LoginAttempt.id).where(LoginAttempt.user_id == user.id)
            )
            assert list(kept_sessions) == ["b" * 64]
            assert list(kept_attempts) == ["recent-attempt-" + str(user.id)]
            assert removed["web_sessions"] >= 1
            assert removed["login_attempts"] >= 1
    finally:
        await engine.dispose()


async def test_sweep_forgets_nonces_only_once_their_age_refuses_them(
    database_url: str,
) -> None:
    engine = create_engine(database_url, pool_size=2)
    sessions = session_factory(engine)
    now = clock.now()
    keep = Retention(callback_nonces=timedelta(minutes=5))
    try:
        async with sessions.begin() as db:
            db.add_all(
                [
                    CallbackNonce(
                        nonce="old-nonce", received_at=now - timedelta(hours=1)
                    ),
                    CallbackNonce(nonce="fresh-nonce", received_at=now),
                ]
            )
        async with sessions.begin() as db:
            removed = await sweep(db, now, keep)
        async with sessions() as db:
            kept = await db.scalars(
                select(CallbackNonce.nonce).where(
                    CallbackNonce.nonce.in_(["old-nonce", "fresh-nonce"])
                )
            )
            assert list(kept) == ["fresh-nonce"]
        assert removed["callback_nonces"] >= 1
    finally:
        await engine.dispose()
