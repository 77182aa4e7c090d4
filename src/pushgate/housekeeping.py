"""Deleting what has outlived its use: old sessions, attempts, links, jobs,
and callback nonces old enough that their age alone refuses them.

Everything here is already ignored when read (expiry is always checked at
read time); this only keeps the tables from growing without end. It runs as
a periodic job, so with several processes exactly one of them does it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncSession

from pushgate import clock
from pushgate.db.models import (
    LoginAttempt,
    ServiceEnrollment,
    ServiceOutboxMessage,
    WebSession,
)
from pushgate.jobs import current_runtime, tasks
from pushgate.security.nonces import prune_nonces

logger = logging.getLogger("pushgate")


@dataclass(frozen=True)
class Retention:
    #: Login attempts are kept a while after they expire, for support questions.
    login_attempts: timedelta = timedelta(days=7)
    #: Outbox messages hold codes (development only); they go soon.
    outbox_messages: timedelta = timedelta(days=1)
    #: Finished jobs; each callback's outcome stays in its deliveries table.
    finished_jobs: timedelta = timedelta(days=7)
    #: ``callback_nonce_max_age_seconds``: a nonce older than that (and the
    #: clock skew) is refused for its age, so its row is no longer needed.
    callback_nonces: timedelta = timedelta(seconds=300)


async def sweep(
    session: AsyncSession, now: datetime, keep: Retention = Retention()
) -> dict[str, int]:
    """Delete expired rows; returns how many went from each table."""
    statements = {
        "web_sessions": delete(WebSession).where(WebSession.expires_at < now),
        "login_attempts": delete(LoginAttempt).where(
            LoginAttempt.expires_at < now - keep.login_attempts
        ),
        "service_enrollments": delete(ServiceEnrollment).where(
            ServiceEnrollment.expires_at < now
        ),
        "service_outbox_messages": delete(ServiceOutboxMessage).where(
            ServiceOutboxMessage.created_at < now - keep.outbox_messages
        ),
    }
    removed = {}
    for table, statement in statements.items():
        result = await session.execute(statement)
        removed[table] = result.rowcount  # type: ignore[attr-defined]

    jobs = await session.execute(
        text(
            "DELETE FROM procrastinate_jobs WHERE status IN "
            "('succeeded', 'failed', 'cancelled', 'aborted') AND id IN ("
            " SELECT job_id FROM procrastinate_events"
            " GROUP BY job_id HAVING max(at) < :before)"
        ),
        {"before": now - keep.finished_jobs},
    )
    removed["procrastinate_jobs"] = jobs.rowcount  # type: ignore[attr-defined]
    removed["callback_nonces"] = await prune_nonces(session, now, keep.callback_nonces)
    return removed


@tasks.periodic(cron="17 * * * *", periodic_id="housekeeping")
@tasks.task(name="housekeeping", queue="maintenance")
async def housekeeping(timestamp: int) -> None:
    runtime = current_runtime()
    async with runtime.sessions.begin() as session:
        keep = Retention(
            callback_nonces=timedelta(
                seconds=runtime.settings.callback_nonce_max_age_seconds
            )
        )
        removed = await sweep(session, clock.now(), keep)
    if any(removed.values()):
        logger.info(
            "Housekeeping removed %s",
            ", ".join(f"{count} from {table}" for table, count in removed.items()),
        )
