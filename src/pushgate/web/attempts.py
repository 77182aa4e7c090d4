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
from typing import Any, Literal

from sqlalchemy import Row, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from pushgate.db.engine import retrying
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
    """One small query, holding a pooled connection only while it runs.

    Autocommit: one round trip, without ``BEGIN`` and ``ROLLBACK`` around it.
    """

    async def read(connection: AsyncConnection) -> Row[Any] | None:
        return (await connection.execute(_STATE_QUERY, {"id": attempt_id})).first()

    row = await retrying(runtime.engine, read)
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
    "recorded",
    "repeated",
    "unknown",
    "already_answered",
    "expired",
    "wrong_user",
    "replayed",
]

# The whole answer in one statement, run on its own (autocommit), so it is
# one transaction and one round trip: claim the nonce (a conflict means a
# replay, and then nothing else changes), record the answer only on a pending,
# unexpired attempt of the right person, announce it (PostgreSQL bus: the
# NOTIFY is delivered when the statement commits), and return what a refusal
# needs to say why. Concurrent answers serialise on the attempt's row: the
# loser's UPDATE re-checks ``status = 'pending'`` after the winner commits.
_ANSWER_SQL = """
WITH claimed AS (
    INSERT INTO callback_nonces (nonce, received_at) VALUES (:nonce, :now)
    ON CONFLICT (nonce) DO NOTHING
    RETURNING 1
), target AS (
    SELECT a.id, a.status, a.expires_at, u.authy_id
    FROM login_attempts AS a JOIN users AS u ON u.id = a.user_id
    WHERE a.approval_uuid = :uuid
), answered AS (
    UPDATE login_attempts AS a SET status = :answer, answered_at = :now
    FROM users AS u
    WHERE a.approval_uuid = :uuid AND u.id = a.user_id
      AND a.status = 'pending' AND a.expires_at > :now
      AND (CAST(:authy_id AS bigint) IS NULL
           OR u.authy_id = CAST(:authy_id AS bigint))
      AND EXISTS (SELECT 1 FROM claimed)
    RETURNING a.id
), notified AS (
    SELECT {notify} FROM answered
)
SELECT EXISTS (SELECT 1 FROM claimed) AS fresh,
       (SELECT id FROM answered) AS answered_id,
       (SELECT count(*) FROM notified) AS notified,
       t.id, t.status, t.expires_at, t.authy_id
FROM (SELECT 1) AS one LEFT JOIN target AS t ON true
"""
_ANSWER_NOTIFYING = text(
    _ANSWER_SQL.format(notify="pg_notify(:channel, 'attempt:' || answered.id)")
)
_ANSWER_SILENT = text(_ANSWER_SQL.format(notify="1"))
_STATUS_BY_UUID = text("SELECT status FROM login_attempts WHERE approval_uuid = :uuid")


@dataclass(frozen=True, slots=True)
class Answer:
    outcome: AnswerOutcome
    attempt_id: str | None = None


async def record_answer(
    connection: AsyncConnection,
    approval_uuid: str,
    answer: str,
    authy_id: int | None,
    nonce: str,
    now: datetime,
    notify_channel: str | None,
) -> Answer:
    """Claim ``nonce`` and record the phone's answer on the attempt that owns
    ``approval_uuid``, in one statement on an autocommit ``connection``.

    With ``notify_channel`` the statement also announces the change there
    (``pg_notify``); without, the caller publishes a ``recorded`` answer.
    The nonce is kept whatever the outcome, so a message cannot be retried.
    """
    statement = _ANSWER_SILENT if notify_channel is None else _ANSWER_NOTIFYING
    params: dict[str, object] = {
        "nonce": nonce,
        "now": now,
        "uuid": approval_uuid,
        "answer": answer,
        "authy_id": authy_id,
    }
    if notify_channel is not None:
        params["channel"] = notify_channel
    row = (await connection.execute(statement, params)).one()
    if not row.fresh:
        return Answer("replayed")
    if row.answered_id is not None:
        return Answer("recorded", row.answered_id)
    if row.id is None:
        return Answer("unknown")
    if authy_id is not None and authy_id != row.authy_id:
        return Answer("wrong_user", row.id)
    status = row.status
    if status == PENDING and now < row.expires_at:
        # Pending when the statement began, yet not updated: another answer
        # was committed meanwhile. Its status decides between the two below.
        status = await connection.scalar(_STATUS_BY_UUID, {"uuid": approval_uuid})
    if status == answer:
        return Answer("repeated", row.id)
    if status != PENDING:
        return Answer("already_answered", row.id)
    return Answer("expired", row.id)


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
