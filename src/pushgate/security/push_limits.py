"""Prompt bombing: limits on the pushes one person can be sent.

* One pending push per user. A new request expires the user's older pending
  ones (reason ``superseded``) instead of being refused: a person who closed
  the login tab and tried again gets the new push at once, and the phone never
  shows a stack of prompts to tap through. An older request then reads as
  ``expired`` (reason ``superseded``) when its site asks for its status; no
  callback is sent for it, as callbacks carry only a device's answer.
* A rate per user: at most ``push_limit_per_user`` requests in
  ``push_limit_window_seconds``; more are refused (HTTP 429) until the oldest
  leaves the window.
* "Deny and report" pauses pushes for the user for
  ``push_report_pause_seconds``; requests are refused meanwhile (HTTP 429)
  with a message the site shows the person, who can still log in with a code.

Checks lock the user's row, so concurrent requests for one user are counted
one after another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pushgate.db.models import ServiceApprovalRequest, ServiceUser
from pushgate.security.number_match import picked_right
from pushgate.settings import Settings

SUPERSEDED = "superseded by a newer request"
REPORTED = "reported by the person as not their login"
WRONG_NUMBER = "wrong number picked"


@dataclass(frozen=True, slots=True)
class PushLimits:
    per_user: int = 5
    window: timedelta = timedelta(minutes=15)
    report_pause: timedelta = timedelta(hours=1)

    @classmethod
    def from_settings(cls, settings: Settings) -> PushLimits:
        return cls(
            per_user=settings.push_limit_per_user,
            window=timedelta(seconds=settings.push_limit_window_seconds),
            report_pause=timedelta(seconds=settings.push_report_pause_seconds),
        )


@dataclass(frozen=True, slots=True)
class PushRefusal:
    """Why a push may not be sent now, as the API reports it."""

    reason: str  # "paused" or "rate"
    message: str
    retry_after_seconds: int


async def refusal_for(
    session: AsyncSession, user_id: int, now: datetime, limits: PushLimits
) -> PushRefusal | None:
    """Lock the user and say why a push may not be sent; ``None``: it may."""
    user = await session.scalar(
        select(ServiceUser).where(ServiceUser.id == user_id).with_for_update()
    )
    if user is None:
        return None
    paused_until = user.pushes_paused_until
    if paused_until is not None and paused_until > now:
        wait = _seconds(paused_until - now)
        return PushRefusal(
            reason="paused",
            message="Push approvals to this phone are paused until "
            f"{paused_until:%H:%M} UTC because a login request was reported "
            "with Deny and report; log in with a code meanwhile.",
            retry_after_seconds=wait,
        )

    count, oldest = (
        await session.execute(
            select(func.count(), func.min(ServiceApprovalRequest.created_at)).where(
                ServiceApprovalRequest.user_id == user_id,
                ServiceApprovalRequest.created_at > now - limits.window,
            )
        )
    ).one()
    if count >= limits.per_user and oldest is not None:
        wait = _seconds(oldest + limits.window - now)
        return PushRefusal(
            reason="rate",
            message=f"Too many approval requests for this account ({count} in "
            f"{_seconds(limits.window)} seconds); retry in {wait} seconds or log "
            "in with a code.",
            retry_after_seconds=wait,
        )
    return None


async def supersede_pending(
    session: AsyncSession, user_id: int, now: datetime
) -> list[ServiceApprovalRequest]:
    """Expire the user's pending requests; returns them for their callbacks."""
    result = await session.scalars(
        update(ServiceApprovalRequest)
        .where(
            ServiceApprovalRequest.user_id == user_id,
            ServiceApprovalRequest.status == "pending",
            ServiceApprovalRequest.expires_at > now,
        )
        .values(status="expired", reason=SUPERSEDED, answered_at=now)
        .returning(ServiceApprovalRequest)
    )
    return list(result)


async def pause_pushes(
    session: AsyncSession, user_id: int, now: datetime, limits: PushLimits
) -> datetime:
    until = now + limits.report_pause
    await session.execute(
        update(ServiceUser)
        .where(ServiceUser.id == user_id)
        .values(pushes_paused_until=until)
    )
    return until


@dataclass(frozen=True, slots=True)
class Judgement:
    """What a device's answer does to its request."""

    status: str
    flagged: bool = False
    reason: str = ""
    pause: bool = False


def judge_answer(
    answer: str, number: int | None, picked: int | None, reported: bool
) -> Judgement:
    """Turn a device's answer into the request's outcome.

    ``answer`` is ``approved`` or ``denied``. An approval with the wrong
    number denies and flags the request; a report denies, flags and pauses.
    """
    if reported:
        return Judgement("denied", flagged=True, reason=REPORTED, pause=True)
    if answer == "approved" and not picked_right(number, picked):
        return Judgement("denied", flagged=True, reason=WRONG_NUMBER)
    return Judgement(answer)


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))
