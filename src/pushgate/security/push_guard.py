"""The approval service's side of the push limits and number matching.

``before_push`` runs before a request is created, with the user's row locked:
it refuses (an Authy-shaped 429, error code 60003 as Authy's "DoS
protection") while the user's pushes are paused or over the rate, and
expires the user's pending requests. ``after_push`` gives the new request its
number and choices and records it in the audit trail.

When a device answers, ``judge`` turns its answer, pick and report into the
request's outcome (a wrong pick denies and flags; a report denies, flags and
pauses), and ``after_answer`` stores the flag, the pause and the event.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pushgate import clock
from pushgate.db.models import ServiceApprovalRequest
from pushgate.security import audit, number_match
from pushgate.security.push_limits import (
    WRONG_NUMBER,
    Judgement,
    PushLimits,
    judge_answer,
    pause_pushes,
    refusal_for,
    supersede_pending,
)
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


# --- answers ------------------------------------------------------------------

_ANSWER_EVENTS = {
    "approved": audit.PUSH_APPROVED,
    "denied": audit.PUSH_DENIED,
}


def answer_text(
    uuid: str,
    status: str,
    device_id: str,
    signed_at: int,
    picked: int | None,
    report: bool,
) -> bytes:
    """What a device signs when it answers with a pick or a report.

    The plain form (without the last two fields) stays valid for requests
    that carry no number, but a numbered request approved that way counts as
    a wrong pick, so the pick can never be left out or altered unsigned.
    """
    fields = [
        "pushgate-answer",
        uuid,
        status,
        device_id,
        str(signed_at),
        "" if picked is None else str(picked),
        "report" if report else "",
    ]
    return "|".join(fields).encode()


async def judge(
    session: AsyncSession,
    uuid: str,
    status: str,
    picked: int | None,
    report: bool,
) -> Judgement:
    """What a device's answer does, given the request's number."""
    number = await session.scalar(
        select(ServiceApprovalRequest.number_match).where(
            ServiceApprovalRequest.uuid == uuid
        )
    )
    return judge_answer(status, number, picked, report)


async def after_answer(
    session: AsyncSession,
    request: ServiceApprovalRequest,
    judgement: Judgement,
    device_id: str,
    limits: PushLimits,
) -> None:
    """Flag, pause and record, in the transaction that records the answer."""
    request.flagged = judgement.flagged
    request.reason = judgement.reason
    event = _ANSWER_EVENTS.get(judgement.status, audit.PUSH_DENIED)
    if judgement.reason == WRONG_NUMBER:
        event = audit.PUSH_WRONG_NUMBER
    detail: dict[str, object] = {"approval": request.uuid[:8]}
    if judgement.pause:
        event = audit.PUSH_REPORTED
        until = await pause_pushes(session, request.user_id, clock.now(), limits)
        detail["paused_until"] = until.isoformat()
    await session.flush()
    await audit.record_service(
        session,
        event,
        app_id=request.app_id,
        user_id=request.user_id,
        device_id=device_id,
        **detail,
    )
