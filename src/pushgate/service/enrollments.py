"""One-time enrollment links that let a phone become a user's device.

The token is random and shown once, in the link's fragment (``#token``), so
it never appears in a server or proxy log; only its SHA-256 hash is stored.
A token works once, within :data:`LIFETIME`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from pushgate import clock
from pushgate.db.models import ServiceEnrollment

LIFETIME = timedelta(minutes=10)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create(session: AsyncSession, user_id: int) -> tuple[str, datetime]:
    """A new token for ``user_id`` and when it expires."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    expires_at = now + LIFETIME
    session.add(
        ServiceEnrollment(
            token_hash=token_hash(token),
            user_id=user_id,
            created_at=now,
            expires_at=expires_at,
        )
    )
    await session.flush()
    return token, expires_at


async def redeem(session: AsyncSession, token: str) -> int | None:
    """Use the token once; the user it enrolls, or ``None`` if it is spent.

    One conditional UPDATE, so two phones racing with the same link cannot
    both enroll.
    """
    if not token or len(token) > 200:
        return None
    now = clock.now()
    result = await session.execute(
        update(ServiceEnrollment)
        .where(
            ServiceEnrollment.token_hash == token_hash(token),
            ServiceEnrollment.used_at.is_(None),
            ServiceEnrollment.expires_at > now,
        )
        .values(used_at=now)
        .returning(ServiceEnrollment.user_id)
    )
    return result.scalar_one_or_none()


def link(public_url: str, token: str) -> str:
    return f"{public_url}/authenticator/enroll#{token}"
