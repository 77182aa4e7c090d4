"""The account page's security section: devices and recent security events.

Devices come from the approval service (over its API, like everything the
site learns about phones) and can be removed from here. Events merge the
site's own audit trail (logins, failures) with the service's (pushes, their
answers, reports, devices, codes), newest first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from pushgate import clock
from pushgate.db.models import User
from pushgate.runtime import Runtime, get_runtime
from pushgate.security import audit
from pushgate.web._http import redirect, signed_in_form
from pushgate.web.service_client import ServiceError, service_client

logger = logging.getLogger("pushgate")

router = APIRouter(include_in_schema=False)

SHOWN_EVENTS = 30


@dataclass(frozen=True, slots=True)
class EventLine:
    when: str
    at: str
    what: str
    where: str = ""
    flagged: bool = False


@dataclass
class SecurityView:
    devices: list[dict[str, str]] = field(default_factory=list)
    events: list[EventLine] = field(default_factory=list)
    #: Set when something could not be loaded (the section says so).
    problem: str | None = None
    #: Set while pushes are paused after a report.
    paused_until: str | None = None


_FLAGGED = {audit.PUSH_REPORTED, audit.PUSH_WRONG_NUMBER, audit.LOGIN_THROTTLED}


async def load(runtime: Runtime, user: User) -> SecurityView:
    view = SecurityView()
    async with runtime.sessions() as db:
        own = await audit.recent_events(db, user.id, SHOWN_EVENTS)
    lines: list[tuple[datetime, EventLine]] = [
        (row.created_at, _line(row.event, row.created_at, row.ip)) for row in own
    ]

    if user.authy_id is not None:
        client = service_client(runtime)
        devices = await client.devices(user.authy_id)
        events = await client.security_events(user.authy_id)
        if isinstance(devices, ServiceError) or isinstance(events, ServiceError):
            view.problem = "Your phones and their history could not be loaded just now."
        if not isinstance(devices, ServiceError):
            view.devices = [_device(device) for device in devices]
        if not isinstance(events, ServiceError):
            for event in events:
                moment = _parse_time(event.get("created_at"))
                if moment is not None:
                    lines.append((moment, _line(str(event.get("event")), moment)))
                    view.paused_until = view.paused_until or _pause(event)

    lines.sort(key=lambda pair: pair[0], reverse=True)
    view.events = [line for _, line in lines[:SHOWN_EVENTS]]
    return view


def _line(event: str, moment: datetime, ip: str = "") -> EventLine:
    return EventLine(
        when=audit.when(moment),
        at=moment.isoformat(),
        what=audit.describe(event),
        where=ip,
        flagged=event in _FLAGGED,
    )


def _device(device: dict[str, Any]) -> dict[str, str]:
    created = _parse_time(device.get("created_at"))
    seen = _parse_time(device.get("last_seen_at"))
    return {
        "id": str(device.get("id", "")),
        "name": str(device.get("name") or "Phone"),
        "enrolled": audit.when(created) if created else "",
        "last_used": audit.when(seen) if seen else "not yet",
    }


def _pause(event: dict[str, Any]) -> str | None:
    if event.get("event") != audit.PUSH_REPORTED:
        return None
    detail = event.get("detail")
    until = (
        _parse_time(detail.get("paused_until")) if isinstance(detail, dict) else None
    )
    if until is None or until <= clock.now():
        return None
    return audit.when(until)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@router.post("/account/devices/{device_id}/remove")
async def remove_device(device_id: str, request: Request) -> Response:
    runtime = get_runtime(request)
    checked = await signed_in_form(request, runtime)
    if isinstance(checked, Response):
        return checked
    _, _, user = checked
    if user.authy_id is None:
        return redirect("/login")

    # The service records the removal in its audit trail, shown here too.
    failure = await service_client(runtime).remove_device(user.authy_id, device_id)
    if failure is not None:
        logger.warning(
            "Removing device %s of user %s failed: %s",
            device_id[:64],
            user.id,
            failure.message,
        )
    return redirect("/account#security")
