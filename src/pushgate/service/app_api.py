"""``/protected/json/app/...``: the calling application's details and statistics."""

from __future__ import annotations

import calendar
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy import extract, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from pushgate import clock
from pushgate.db.models import (
    ServiceApiUsage,
    ServiceApprovalRequest,
    ServicePhoneVerification,
    ServiceToken,
    ServiceUser,
)
from pushgate.service import users
from pushgate.service.auth import CurrentApp, RuntimeDep
from pushgate.service.errors import AuthyRoute

router = APIRouter(prefix="/protected/json/app", route_class=AuthyRoute)


@router.get("/details")
async def app_details(app: CurrentApp) -> dict[str, Any]:
    return {
        "app": {
            "app_id": app.id,
            "name": app.name,
            "plan": "pay_as_you_go",
            "sms_enabled": True,
            "phone_calls_enabled": True,
            "onetouch_enabled": True,
        },
        "message": "Application information.",
        "success": True,
    }


def _last_twelve_months(now: datetime) -> list[tuple[int, int]]:
    months = []
    year, month = now.year, now.month
    for _ in range(12):
        months.append((year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(months))


async def _monthly_counts(
    session: AsyncSession, column: Any, *where: Any
) -> dict[tuple[int, int], int]:
    year = extract("year", column)
    month = extract("month", column)
    rows = await session.execute(
        select(year, month, func.count()).where(*where).group_by(year, month)
    )
    return {(int(y), int(m)): int(count) for y, m, count in rows}


@router.get("/stats")
async def app_stats(app: CurrentApp, runtime: RuntimeDep) -> dict[str, Any]:
    """Monthly counts for the last twelve months, oldest first."""
    async with runtime.sessions() as session:
        new_users = await _monthly_counts(
            session, ServiceUser.created_at, ServiceUser.app_id == app.id
        )
        auths = await _monthly_counts(
            session,
            ServiceApprovalRequest.answered_at,
            ServiceApprovalRequest.app_id == app.id,
            ServiceApprovalRequest.status == "approved",
        )
        tokens_by_channel = {
            channel: await _monthly_counts(
                session,
                ServiceToken.sent_at,
                ServiceToken.user_id == ServiceUser.id,
                ServiceUser.app_id == app.id,
                ServiceToken.channel == channel,
            )
            for channel in ("sms", "call")
        }
        verifications = {
            channel: await _monthly_counts(
                session,
                ServicePhoneVerification.created_at,
                ServicePhoneVerification.app_id == app.id,
                ServicePhoneVerification.via == channel,
            )
            for channel in ("sms", "call")
        }
        usage_rows = await session.execute(
            select(ServiceApiUsage.month, ServiceApiUsage.api_calls).where(
                ServiceApiUsage.app_id == app.id
            )
        )
        usage = {month: int(calls) for month, calls in usage_rows}
        total_users = await users.count(session, app.id)

    stats = []
    for year, month in _last_twelve_months(clock.now()):
        key = (year, month)
        stats.append(
            {
                "api_calls_count": usage.get(f"{year:04d}-{month:02d}", 0),
                "auths_count": auths.get(key, 0),
                "calls_count": tokens_by_channel["call"].get(key, 0)
                + verifications["call"].get(key, 0),
                "month": calendar.month_name[month],
                "sms_count": tokens_by_channel["sms"].get(key, 0)
                + verifications["sms"].get(key, 0),
                "users_count": new_users.get(key, 0),
                "year": year,
            }
        )
    return {
        "app_id": app.id,
        "count": len(stats),
        "message": "Monthly statistics.",
        "stats": stats,
        "success": True,
        "total_users": total_users,
    }
