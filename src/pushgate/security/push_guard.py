"""The approval service's side of the push limits and number matching.

``before_push`` runs before a request is created, with the user's row locked:
it refuses (an Authy-shaped 429, error code 60003 as Authy's "DoS
protection") while the user's pushes are paused or over the rate, and
expires the user's pending requests. ``after_push`` gives the new request its
number and choices and records it in the audit trail.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from pushgate import clock
from pushgate.db.models import ServiceApprovalRequest
from pushgate.security import audit, number_match
from pushgate.security.push_limits import PushLimits, refusal_for, supersede_pending
from pushgate.service.errors import ApiError

#: Authy's code for "too many requests for this endpoint and client".
DOS_PROTECTION = "60003"


async def before_push(
    session: AsyncSession, app_id: int, user_id: int, limits: PushLimits
) -> ApiError | None:
    """The refusal to raise, or ``None`` once older pending pushes are expired."""
    now = clock.now()
    refusal = await refusal_for(session, user_id, now, limits)
    if refusal is not None:
        await audit.record_service(
            session,
            audit.PUSH_REFUSED,
            app_id=app_id,
            user_id=user_id,
            reason=refusal.reason,
            retry_after_seconds=refusal.retry_after_seconds,
        )
        return ApiError(429, refusal.message, DOS_PROTECTION)

    for older in await supersede_pending(session, user_id, now):
        await audit.record_service(
            session,
            audit.PUSH_SUPERSEDED,
            app_id=older.app_id,
            user_id=user_id,
            approval=older.uuid[:8],
        )
    return None


async def after_push(
    session: AsyncSession, app_id: int, created: ServiceApprovalRequest
) -> None:
    number = number_match.new_number()
    created.number_match = number
    created.number_choices = number_match.choices_for(number)
    await session.flush()
    await audit.record_service(
        session,
        audit.PUSH_SENT,
        app_id=app_id,
        user_id=created.user_id,
        approval=created.uuid[:8],
    )
