"""Proving that a person holds a phone number, by a code sent to it.

Used by ``phones/verification/start`` and ``/check`` for an application, and
by the authenticator's enrollment by phone number (no application). A number
has at most one live code per application: starting again replaces it. A code
lives ten minutes and dies after five wrong tries; only a keyed hash of it is
kept (a four-digit code's plain hash would be reversed at a glance). At most
five codes are sent to a number within ten minutes.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pushgate import clock
from pushgate.db.models import ServicePhoneVerification
from pushgate.service._derived_keys import derived_key

LIFETIME = timedelta(minutes=10)
MAX_FAILURES = 5
SEND_LIMIT = 5
SEND_WINDOW = timedelta(minutes=10)
_PURPOSE = "phone verification codes"


def _hash(server_secret: str, verification_id: str, code: str) -> str:
    key = derived_key(server_secret, _PURPOSE)
    message = f"{verification_id}|{code}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _same_app(app_id: int | None) -> object:
    if app_id is None:
        return ServicePhoneVerification.app_id.is_(None)
    return ServicePhoneVerification.app_id == app_id


@dataclass(frozen=True, repr=False)
class Started:
    """A code to send (``code`` is secret) or why none was made."""

    code: str | None
    verification_id: str | None
    throttled: bool = False


async def start(
    session: AsyncSession,
    server_secret: str,
    *,
    app_id: int | None,
    country_code: str,
    cellphone: str,
    via: str,
    code_length: int,
) -> Started:
    now = clock.now()
    recent = await session.scalar(
        select(func.count())
        .select_from(ServicePhoneVerification)
        .where(
            ServicePhoneVerification.country_code == country_code,
            ServicePhoneVerification.cellphone == cellphone,
            ServicePhoneVerification.created_at > now - SEND_WINDOW,
        )
    )
    if int(recent or 0) >= SEND_LIMIT:
        return Started(code=None, verification_id=None, throttled=True)

    await session.execute(
        update(ServicePhoneVerification)
        .where(
            _same_app(app_id),  # type: ignore[arg-type]
            ServicePhoneVerification.country_code == country_code,
            ServicePhoneVerification.cellphone == cellphone,
            ServicePhoneVerification.verified_at.is_(None),
            ServicePhoneVerification.replaced_at.is_(None),
        )
        .values(replaced_at=now)
    )
    code = "".join(secrets.choice("0123456789") for _ in range(code_length))
    verification_id = secrets.token_hex(16)
    session.add(
        ServicePhoneVerification(
            id=verification_id,
            app_id=app_id,
            country_code=country_code,
            cellphone=cellphone,
            via=via,
            code_hash=_hash(server_secret, verification_id, code),
            created_at=now,
            expires_at=now + LIFETIME,
            failures=0,
        )
    )
    await session.flush()
    return Started(code=code, verification_id=verification_id)


class CheckResult(enum.Enum):
    CORRECT = "correct"
    INCORRECT = "incorrect"
    NO_PENDING = "no_pending"


async def check(
    session: AsyncSession,
    server_secret: str,
    *,
    app_id: int | None,
    country_code: str,
    cellphone: str,
    code: str,
) -> CheckResult:
    """Whether ``code`` is the live code of the number; a right code works once."""
    now = clock.now()
    live = await session.scalar(
        select(ServicePhoneVerification)
        .where(
            _same_app(app_id),  # type: ignore[arg-type]
            ServicePhoneVerification.country_code == country_code,
            ServicePhoneVerification.cellphone == cellphone,
            ServicePhoneVerification.verified_at.is_(None),
            ServicePhoneVerification.replaced_at.is_(None),
            ServicePhoneVerification.expires_at > now,
            ServicePhoneVerification.failures < MAX_FAILURES,
        )
        .order_by(ServicePhoneVerification.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    if live is None:
        return CheckResult.NO_PENDING
    expected = _hash(server_secret, live.id, code)
    if hmac.compare_digest(expected.encode(), live.code_hash.encode()):
        live.verified_at = now
        return CheckResult.CORRECT
    live.failures += 1
    return CheckResult.INCORRECT
