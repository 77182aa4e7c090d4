"""The site's user accounts: finding, creating, and the signed-in user.

Each account holds its own user at the approval service (``authy_id``), and
no two accounts hold the same one: the service answers the same country code
and phone number with the same user, and whoever holds a service user can
enroll a phone for it and approve its logins.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pushgate import clock
from pushgate.db.models import User
from pushgate.web.forms import Signup
from pushgate.web.sessions import SessionState

Taken = Literal["email", "phone"]

#: The unique constraints of ``users``, by what they protect.
_CONSTRAINTS: dict[str, Taken] = {
    "users_email_key": "email",
    "users_authy_id_key": "phone",
}


async def by_email(db: AsyncSession, email: str) -> User | None:
    return await db.scalar(select(User).where(User.email == email.lower()))


async def phone_in_use(db: AsyncSession, country_code: str, phone: str) -> bool:
    """Whether an account already has this number, as the site writes numbers."""
    found = await db.scalar(
        select(User.id)
        .where(User.country_code == country_code, User.phone == phone)
        .limit(1)
    )
    return found is not None


async def service_user_in_use(db: AsyncSession, authy_id: int) -> bool:
    """Whether an account already holds this user of the approval service."""
    found = await db.scalar(select(User.id).where(User.authy_id == authy_id))
    return found is not None


async def signed_in_user(db: AsyncSession, state: SessionState | None) -> User | None:
    if state is None or state.user_id is None:
        return None
    return await db.get(User, state.user_id)


async def create(
    db: AsyncSession, signup: Signup, password_hash: str, authy_id: int
) -> User | Taken:
    """The new user, or what another account took meanwhile (email or phone)."""
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
    except IntegrityError as error:
        constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", "")
        return _CONSTRAINTS.get(constraint or "", "email")
    return user
