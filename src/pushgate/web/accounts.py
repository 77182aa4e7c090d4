"""The site's user accounts: finding, creating, and the signed-in user."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pushgate import clock
from pushgate.db.models import User
from pushgate.web.forms import Signup
from pushgate.web.sessions import SessionState


async def by_email(db: AsyncSession, email: str) -> User | None:
    return await db.scalar(select(User).where(User.email == email.lower()))


async def signed_in_user(db: AsyncSession, state: SessionState | None) -> User | None:
    if state is None or state.user_id is None:
        return None
    return await db.get(User, state.user_id)


async def create(
    db: AsyncSession, signup: Signup, password_hash: str, authy_id: int
) -> User | None:
    """The new user, or ``None`` when the email was taken meanwhile."""
    user = User(
        name=signup.name,
        email=signup.email,
        password_hash=password_hash,
        country_code=signup.country_code,
        phone=signup.phone,
        authy_id=authy_id,
        created_at=clock.now(),
    )
    try:
        async with db.begin_nested():
            db.add(user)
    except IntegrityError:
        return None
    return user
