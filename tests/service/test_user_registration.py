"""Registering a phone again never rewrites the email of the person who holds it."""

from __future__ import annotations

from sqlalchemy import select

from pushgate.db.engine import create_engine, session_factory
from pushgate.db.models import ServiceUser
from pushgate.service import users
from pushgate.service.apps import create_application


async def test_a_second_registration_keeps_the_holders_email(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=2)
    sessions = session_factory(engine)
    try:
        async with sessions.begin() as db:
            app, _key = await create_application(db, "s" * 32, "registration", None)
            first = await users.register(
                db, app.id, users.UserInput("holder@example.com", "1", "2015550177")
            )
            again = await users.register(
                db, app.id, users.UserInput("intruder@example.com", "1", "2015550177")
            )

        assert again.id == first.id
        async with sessions() as db:
            email = await db.scalar(
                select(ServiceUser.email).where(ServiceUser.id == first.id)
            )
        assert email == "holder@example.com"
    finally:
        await engine.dispose()


async def test_a_deleted_user_brought_back_takes_the_new_email(
    database_url: str,
) -> None:
    engine = create_engine(database_url, pool_size=2)
    sessions = session_factory(engine)
    try:
        async with sessions.begin() as db:
            app, _key = await create_application(db, "s" * 32, "revival", None)
            first = await users.register(
                db, app.id, users.UserInput("old@example.com", "1", "2015550178")
            )
            await users.delete(db, first)
            back = await users.register(
                db, app.id, users.UserInput("new@example.com", "1", "2015550178")
            )

        assert back.id == first.id
        assert back.email == "new@example.com"
        assert back.deleted_at is None
    finally:
        await engine.dispose()
