"""Service users: people an application registered by email and phone.

A user belongs to one application; the same country code and phone number
registered again in that application is the same user (and keeps its id),
as the Authy API promised. Deleting a user keeps the row, so the id is never
reused, and revokes the user's devices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pushgate import clock
from pushgate.db.models import ServiceDevice, ServiceUser

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_SEPARATORS = re.compile(r"[\s.\-()/]")


@dataclass(frozen=True)
class UserInput:
    email: str
    country_code: str
    cellphone: str


def normalize_country_code(raw: object) -> str | None:
    """``"+1"``, ``"1"`` or ``1`` as ``"1"``; ``None`` when not a calling code."""
    text = str(raw).strip().lstrip("+") if raw is not None else ""
    # 0-9 only: \d would take Arabic-Indic digits, which int() reads too.
    if re.fullmatch(r"[0-9]{1,4}", text) and int(text) > 0:
        return str(int(text))
    return None


def normalize_cellphone(raw: object) -> str | None:
    """Digits only (dashes, dots, spaces allowed in between); 4 to 15 digits."""
    if raw is None or isinstance(raw, bool):
        return None
    digits = _PHONE_SEPARATORS.sub("", str(raw).strip())
    if re.fullmatch(r"[0-9]{4,15}", digits):
        return digits
    return None


def validate_user(
    email: object, cellphone: object, country_code: object
) -> tuple[UserInput, None] | tuple[None, dict[str, str]]:
    """The cleaned user, or the problems by field name (Authy's wording)."""
    problems: dict[str, str] = {}
    email_text = str(email).strip() if isinstance(email, str) else ""
    if not email_text or len(email_text) > 254 or not _EMAIL.match(email_text):
        problems["email"] = "is invalid"
    phone = normalize_cellphone(cellphone)
    if phone is None:
        problems["cellphone"] = "is invalid"
    code = normalize_country_code(country_code)
    if code is None:
        problems["country_code"] = "is invalid"
    if problems or phone is None or code is None:
        return None, problems
    return UserInput(email_text.lower(), code, phone), None


async def register(session: AsyncSession, app_id: int, user: UserInput) -> ServiceUser:
    """The user with this phone in this application, created or brought back.

    Registering a phone that is already registered returns the same user and
    leaves its email alone: whoever registers the number again must not
    rewrite the contact of the person who holds it. A deleted user brought
    back takes the new email.
    """
    now = clock.now()
    values = insert(ServiceUser).values(
        app_id=app_id,
        email=user.email,
        country_code=user.country_code,
        cellphone=user.cellphone,
        created_at=now,
    )
    statement = values.on_conflict_do_update(
        index_elements=["app_id", "country_code", "cellphone"],
        set_={
            "email": case(
                (ServiceUser.deleted_at.is_(None), ServiceUser.email),
                else_=values.excluded.email,
            ),
            "deleted_at": None,
        },
    ).returning(ServiceUser.id)
    user_id = (await session.execute(statement)).scalar_one()
    found = await session.get(ServiceUser, user_id, populate_existing=True)
    assert found is not None
    return found


async def find(session: AsyncSession, app_id: int, user_id: int) -> ServiceUser | None:
    """The application's user by id; deleted users are not found."""
    return await session.scalar(
        select(ServiceUser).where(
            ServiceUser.id == user_id,
            ServiceUser.app_id == app_id,
            ServiceUser.deleted_at.is_(None),
        )
    )


async def enrolled_devices(session: AsyncSession, user_id: int) -> list[ServiceDevice]:
    result = await session.scalars(
        select(ServiceDevice)
        .where(ServiceDevice.user_id == user_id, ServiceDevice.revoked_at.is_(None))
        .order_by(ServiceDevice.created_at)
    )
    return list(result)


async def delete(session: AsyncSession, user: ServiceUser) -> None:
    now = clock.now()
    user.deleted_at = now
    await session.execute(
        update(ServiceDevice)
        .where(ServiceDevice.user_id == user.id, ServiceDevice.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def count(session: AsyncSession, app_id: int) -> int:
    total = await session.scalar(
        select(func.count())
        .select_from(ServiceUser)
        .where(ServiceUser.app_id == app_id, ServiceUser.deleted_at.is_(None))
    )
    return int(total or 0)


def masked_phone(cellphone: str) -> str:
    """``XXX-XXX-1234``: only the last four digits, as Authy showed them."""
    return "XXX-XXX-" + cellphone[-4:]
