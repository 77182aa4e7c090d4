"""Login attempts: a password-checked login waiting for the phone's answer.

An attempt owns exactly one approval request, recorded by the request's
uuid; answers are matched by that uuid alone, so approving one attempt can
never finish another, even for the same person. An attempt is answered at
most once, logs in at most once, and counts as expired once its time is up
while still pending (computed on read, so nothing has to sweep the table).

The service keeps one pending push per person: a newer login's push withdraws
an older one's from the phone. The older attempt stays pending (a code can
still finish it, and it is never finished by the newer one's approval), and
is marked *replaced*, so its waiting page can say so at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from pushgate.db.models import LoginAttempt, User
from pushgate.runtime import Runtime

PENDING = "pending"
APPROVED = "approved"
DENIED = "denied"
EXPIRED = "expired"
#: Statuses after which nothing about the attempt changes any more.
TERMINAL = frozenset({APPROVED, DENIED, EXPIRED})
ANSWERS = frozenset({APPROVED, DENIED})

_STATE_QUERY = text(
    "SELECT status, expires_at, replaced_at IS NOT NULL AS replaced"
    " FROM login_attempts WHERE id = :id"
)


def topic(attempt_id: str) -> str:
    """The event topic that announces changes to one attempt."""
    return f"attempt:{attempt_id}"


@dataclass(frozen=True, slots=True)
class AttemptState:
    stored_status: str
    expires_at: datetime
    #: A newer login of the same person withdrew this one's push.
    replaced: bool = False

    def status_at(self, now: datetime) -> str:
        if self.stored_status == PENDING and now >= self.expires_at:
            return EXPIRED
        return self.stored_status


async def read_state(runtime: Runtime, attempt_id: str) -> AttemptState | None:
    """One small query, holding a pooled connection only while it runs."""
    async with runtime.engine.connect() as connection:
        row = (await connection.execute(_STATE_QUERY, {"id": attempt_id})).first()
    if row is None:
        return None
    return AttemptState(
        stored_status=row.status, expires_at=row.expires_at, replaced=row.replaced
    )


async def create(
    db: AsyncSession,
    user: User,
    *,
    now: datetime,
    seconds: int,
    ip: str,
    user_agent: str,
) -> LoginAttempt:
    attempt = LoginAttempt(
        id=secrets.token_urlsafe(24),
        user_id=user.id,
        status=PENDING,
        created_at=now,
        expires_at=now + timedelta(seconds=seconds),
        ip=ip[:64],
        user_agent=user_agent[:1000],
    )
    db.add(attempt)
    await db.flush()
    return attempt


async def mark_replaced(
    db: AsyncSession, newer: LoginAttempt, now: datetime
) -> list[str]:
    """Mark the person's older waiting logins replaced by ``newer``'s push.

    Only attempts that had a push of their own, still pending and unused, and
    made before ``newer`` (so a late transaction of an older login never
    marks a newer one). Returns their ids; the caller publishes and commits.
    """
    replaced = await db.scalars(
        update(LoginAttempt)
        .where(
            LoginAttempt.user_id == newer.user_id,
            LoginAttempt.id != newer.id,
            LoginAttempt.created_at <= newer.created_at,
            LoginAttempt.status == PENDING,
            LoginAttempt.approval_uuid.is_not(None),
            LoginAttempt.used_at.is_(None),
            LoginAttempt.replaced_at.is_(None),
            LoginAttempt.expires_at > now,
        )
        .values(replaced_at=now)
        .returning(LoginAttempt.id)
    )
    return list(replaced)


AnswerOutcome = Literal[
    "recorded", "repeated", "unknown", "already_answered", "expired", "wrong_user"
]


async def record_answer(
    db: AsyncSession,
    approval_uuid: str,
    answer: str,
    authy_id: int | None,
    now: datetime,
) -> tuple[AnswerOutcome, LoginAttempt | None]:
    """Record the phone's answer on the attempt that owns ``approval_uuid``.

    Locks the attempt's row, so two deliveries of answers cannot both win.
    Only ``recorded`` changed anything; the caller publishes and commits.
    """
    row = (
        await db.execute(
            select(LoginAttempt, User.authy_id)
            .join(User, User.id == LoginAttempt.user_id)
            .where(LoginAttempt.approval_uuid == approval_uuid)
            .with_for_update(of=LoginAttempt)
        )
    ).first()
    if row is None:
        return "unknown", None
    attempt, owner_authy_id = row
    if authy_id is not None and authy_id != owner_authy_id:
        return "wrong_user", attempt
    if attempt.status == answer:
        return "repeated", attempt
    if attempt.status != PENDING:
        return "already_answered", attempt
    if now >= attempt.expires_at:
        return "expired", attempt

    attempt.status = answer
    attempt.answered_at = now
    await db.flush()
    return "recorded", attempt


@dataclass(frozen=True, slots=True)
class Completion:
    """The outcome of finishing a login: who logs in, or why not."""

    user_id: int | None
    status: str

    @property
    def ok(self) -> bool:
        return self.user_id is not None


async def complete(db: AsyncSession, attempt_id: str, now: datetime) -> Completion:
    """Use an approved attempt to log in, at most once.

    The check and the marking are one ``UPDATE``, so two requests racing
    with the same attempt cannot both log in.
    """
    user_id = await db.scalar(
        update(LoginAttempt)
        .where(
            LoginAttempt.id == attempt_id,
            LoginAttempt.status == APPROVED,
            LoginAttempt.used_at.is_(None),
            LoginAttempt.expires_at > now,
        )
        .values(used_at=now)
        .returning(LoginAttempt.user_id)
    )
    if user_id is not None:
        return Completion(user_id=user_id, status=APPROVED)

    attempt = await db.get(LoginAttempt, attempt_id)
    if attempt is None:
        return Completion(user_id=None, status="unknown")
    if attempt.used_at is not None:
        return Completion(user_id=None, status="used")
    state = AttemptState(stored_status=attempt.status, expires_at=attempt.expires_at)
    status = state.status_at(now)
    # Approved but past its time: the approval came too late to use.
    return Completion(user_id=None, status=EXPIRED if status == APPROVED else status)
