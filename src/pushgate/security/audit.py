"""The audit trail: security events kept in a table and logged.

Each event is a row (``security_events`` for the web app's users,
``service_security_events`` for the approval service's) and a line on the
``pushgate.security`` logger. Events say who, what, when and from where;
never a password, code, key, token or signature: detail fields whose names
suggest one are dropped before anything is stored or logged.

The account page shows a person the web app's events and, through the
service API, the service's events for them.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pushgate import clock, logs
from pushgate.db.models import SecurityEvent, ServiceSecurityEvent

logger = logging.getLogger("pushgate.security")

# Web app events.
LOGIN_SUCCEEDED = "login_succeeded"
LOGIN_FAILED = "login_failed"
LOGIN_THROTTLED = "login_throttled"
PUSH_REQUESTED = "push_requested"
CODE_USED = "code_used"
CODE_FAILED = "code_failed"
RECOVERY_CODE_USED = "recovery_code_used"
LOGGED_OUT = "logged_out"
# Approval service events.
PUSH_SENT = "push_sent"
PUSH_SUPERSEDED = "push_superseded"
PUSH_REFUSED = "push_refused"
PUSH_APPROVED = "push_approved"
PUSH_DENIED = "push_denied"
PUSH_WRONG_NUMBER = "push_wrong_number"
PUSH_REPORTED = "push_reported"
DEVICE_ENROLLED = "device_enrolled"
DEVICE_REMOVED = "device_removed"
CODE_SENT = "code_sent"
CODE_VERIFIED = "code_verified"
CODE_REFUSED = "code_refused"

DESCRIPTIONS = {
    LOGIN_SUCCEEDED: "Logged in",
    LOGIN_FAILED: "Wrong password",
    LOGIN_THROTTLED: "Login refused: too many wrong passwords",
    PUSH_REQUESTED: "Approval requested on your phone",
    CODE_USED: "Logged in with a code",
    CODE_FAILED: "Wrong code entered",
    RECOVERY_CODE_USED: "Recovery code used",
    LOGGED_OUT: "Logged out",
    PUSH_SENT: "Push sent to your phone",
    PUSH_SUPERSEDED: "Push replaced by a newer one",
    PUSH_REFUSED: "Push not sent",
    PUSH_APPROVED: "Push approved",
    PUSH_DENIED: "Push denied",
    PUSH_WRONG_NUMBER: "Push denied: the wrong number was picked",
    PUSH_REPORTED: "Push reported as not yours; pushes paused",
    DEVICE_ENROLLED: "Phone enrolled",
    DEVICE_REMOVED: "Phone removed",
    CODE_SENT: "Code sent",
    CODE_VERIFIED: "Code accepted",
    CODE_REFUSED: "Wrong code",
}

_SECRET_NAME = re.compile(
    r"(^|_)(password|passcode|code|codes|token|secret|key|signature|otp|totp)$",
    re.IGNORECASE,
)
#: Names that look secret but hold only a kind or a label.
_HARMLESS = frozenset({"country_code", "error_code", "code_kind"})
_MAX_VALUE = 200


def clean_detail(detail: dict[str, Any]) -> dict[str, Any]:
    """``detail`` without secret-looking fields, values cut to a sane length."""
    cleaned: dict[str, Any] = {}
    for name, value in detail.items():
        if _SECRET_NAME.search(name) and name not in _HARMLESS:
            logger.warning("Dropped field %r from a security event", name)
            continue
        if value is None or isinstance(value, bool | int | float):
            cleaned[name] = value
        else:
            cleaned[name] = str(value)[:_MAX_VALUE]
    return cleaned


def describe(event: str) -> str:
    return DESCRIPTIONS.get(event, event.replace("_", " ").capitalize())


async def record(
    session: AsyncSession,
    event: str,
    *,
    user_id: int | None,
    ip: str = "",
    **detail: Any,
) -> SecurityEvent:
    """Record a web app event in ``session`` (stored when it commits)."""
    cleaned = clean_detail(detail)
    row = SecurityEvent(
        user_id=user_id,
        event=event,
        ip=ip[:64],
        detail=cleaned,
        created_at=clock.now(),
    )
    session.add(row)
    logs.security_event(event, user=user_id, ip=ip, **cleaned)
    return row


async def record_service(
    session: AsyncSession,
    event: str,
    *,
    app_id: int,
    user_id: int | None,
    device_id: str | None = None,
    **detail: Any,
) -> ServiceSecurityEvent:
    """Record an approval service event in ``session``."""
    cleaned = clean_detail(detail)
    row = ServiceSecurityEvent(
        app_id=app_id,
        user_id=user_id,
        event=event,
        device_id=device_id,
        detail=cleaned,
        created_at=clock.now(),
    )
    session.add(row)
    logs.security_event(
        event, app=app_id, service_user=user_id, device=device_id, **cleaned
    )
    return row


async def recent_events(
    session: AsyncSession, user_id: int, limit: int = 50
) -> list[SecurityEvent]:
    rows = await session.scalars(
        select(SecurityEvent)
        .where(SecurityEvent.user_id == user_id)
        .order_by(SecurityEvent.created_at.desc(), SecurityEvent.id.desc())
        .limit(limit)
    )
    return list(rows)


async def recent_service_events(
    session: AsyncSession, user_id: int, limit: int = 50
) -> list[ServiceSecurityEvent]:
    rows = await session.scalars(
        select(ServiceSecurityEvent)
        .where(ServiceSecurityEvent.user_id == user_id)
        .order_by(
            ServiceSecurityEvent.created_at.desc(), ServiceSecurityEvent.id.desc()
        )
        .limit(limit)
    )
    return list(rows)


def when(moment: datetime) -> str:
    """A time as the account page shows it (UTC, to the minute)."""
    return moment.strftime("%Y-%m-%d %H:%M UTC")
