"""What an authenticator page shows, and the live stream that keeps it current.

A snapshot lists the accounts this browser answers for and their pending,
unexpired approval requests. The stream subscribes to every account's
``service-user:{id}`` topic first, then reads a snapshot, then waits, so a
request created while the page connects is never missed; each wake re-reads
the database. When no account is left (devices revoked, users deleted) the
stream says ``revoked`` and ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import select

from pushgate import clock
from pushgate.db.models import ServiceApp
from pushgate.events.bus import Subscription
from pushgate.runtime import Runtime
from pushgate.service import approvals, devices
from pushgate.sse import HEARTBEAT, ServerSentEvent


async def snapshot(runtime: Runtime, tokens: Sequence[str]) -> dict[str, Any] | None:
    """The page's state for these device tokens; ``None`` if none is enrolled."""
    async with runtime.sessions() as session:
        accounts = await devices.active_for_tokens(session, tokens)
        if not accounts:
            return None
        user_ids = [user.id for _, user in accounts]
        app_ids = {user.app_id for _, user in accounts}
        rows = await session.execute(
            select(ServiceApp.id, ServiceApp.name).where(ServiceApp.id.in_(app_ids))
        )
        names = {app_id: name for app_id, name in rows}
        pending = await approvals.pending_for_users(session, user_ids)

    now = clock.now()
    device_for_user = {user.id: device.id for device, user in accounts}
    return {
        "accounts": [
            {
                "device_id": device.id,
                "user_id": user.id,
                "app_name": names.get(user.app_id, ""),
                "email": user.email,
            }
            for device, user in accounts
        ],
        "requests": [
            {
                "uuid": request.uuid,
                "device_id": device_for_user[request.user_id],
                "app_name": names.get(request.app_id, ""),
                "message": request.message,
                "details": request.details,
                "logos": (request.logos or {}).get("logos", []),
                "created_at": request.created_at.isoformat(),
                "expires_at": request.expires_at.isoformat(),
                "seconds_left": max(0, int((request.expires_at - now).total_seconds())),
                # Three numbers to pick from, one shown on the login page.
                "number_choices": request.number_choices,
            }
            for request in pending
        ],
    }


def _identity(state: dict[str, Any]) -> str:
    """The state without its countdowns, to tell whether anything changed."""
    requests = [
        {key: value for key, value in request.items() if key != "seconds_left"}
        for request in state["requests"]
    ]
    return json.dumps({**state, "requests": requests}, sort_keys=True)


async def _wait_any(subscriptions: Sequence[Subscription], timeout: float) -> bool:
    waits = [asyncio.create_task(sub.wait(timeout)) for sub in subscriptions]
    try:
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        return any(task.result() for task in done)
    finally:
        for task in waits:
            task.cancel()
        for task in waits:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def stream(
    runtime: Runtime, tokens: Sequence[str], user_ids: Sequence[int]
) -> AsyncIterator[ServerSentEvent]:
    heartbeat = runtime.settings.sse_heartbeat_seconds
    subscriptions = [
        runtime.bus.subscribe(approvals.user_topic(user_id)) for user_id in user_ids
    ]
    try:
        last: str | None = None
        while True:
            state = await snapshot(runtime, tokens)
            if state is None:
                yield ServerSentEvent(event="revoked", data="{}")
                return
            if _identity(state) != last:
                last = _identity(state)
                yield ServerSentEvent(event="requests", data=json.dumps(state))
            if not await _wait_any(subscriptions, heartbeat):
                yield HEARTBEAT
    finally:
        for subscription in subscriptions:
            subscription.close()
