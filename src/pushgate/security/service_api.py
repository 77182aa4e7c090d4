"""Service API for what a person sees on their account page.

``GET  /protected/json/users/{id}/devices``                  enrolled devices
``POST /protected/json/users/{id}/devices/{device_id}/remove``  remove one
``GET  /protected/json/users/{id}/security_events``          the audit trail

These extend the Authy API (which had no such calls); like the rest of it,
they need the application's API key and answer in its shapes. Removing a
device revokes it at once: its answers are refused from then on, and its open
authenticator pages are told to re-read their state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from pushgate import clock
from pushgate.db.models import ServiceDevice
from pushgate.security import audit
from pushgate.service import params, users
from pushgate.service.approvals import user_topic
from pushgate.service.auth import CurrentApp, RuntimeDep
from pushgate.service.errors import GENERIC, ApiError, AuthyRoute, user_not_found

router = APIRouter(prefix="/protected/json/users", route_class=AuthyRoute)

MAX_EVENTS = 50


class DeviceOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    last_seen_at: datetime | None


class DevicesResponse(BaseModel):
    devices: list[DeviceOut]
    success: bool


class RemovedResponse(BaseModel):
    message: str
    success: bool


class EventOut(BaseModel):
    event: str
    description: str
    created_at: datetime
    device_id: str | None
    detail: dict[str, Any]


class EventsResponse(BaseModel):
    events: list[EventOut]
    success: bool


@router.get("/{user_id}/devices", response_model=DevicesResponse)
async def list_devices(
    user_id: str, app: CurrentApp, runtime: RuntimeDep
) -> DevicesResponse:
    async with runtime.sessions() as session:
        user = await users.find(session, app.id, params.user_id(user_id))
        if user is None:
            raise user_not_found()
        enrolled = await users.enrolled_devices(session, user.id)
    return DevicesResponse(
        devices=[
            DeviceOut(
                id=device.id,
                name=device.name,
                created_at=device.created_at,
                last_seen_at=device.last_seen_at,
            )
            for device in enrolled
        ],
        success=True,
    )


@router.post("/{user_id}/devices/{device_id}/remove", response_model=RemovedResponse)
async def remove_device(
    user_id: str, device_id: str, app: CurrentApp, runtime: RuntimeDep
) -> RemovedResponse:
    async with runtime.sessions() as session:
        user = await users.find(session, app.id, params.user_id(user_id))
        if user is None:
            raise user_not_found()
        device = await session.scalar(
            select(ServiceDevice)
            .where(
                ServiceDevice.id == params.path_text("device_id", device_id)[:64],
                ServiceDevice.user_id == user.id,
                ServiceDevice.revoked_at.is_(None),
            )
            .with_for_update()
        )
        if device is None:
            raise ApiError(404, "Device not found.", GENERIC)
        device.revoked_at = clock.now()
        await audit.record_service(
            session,
            audit.DEVICE_REMOVED,
            app_id=app.id,
            user_id=user.id,
            device_id=device.id,
            name=device.name,
        )
        await runtime.bus.publish_in(session, user_topic(user.id))
        await runtime.bus.commit(session)
    return RemovedResponse(message="Device removed.", success=True)


@router.get("/{user_id}/security_events", response_model=EventsResponse)
async def security_events(
    user_id: str, app: CurrentApp, runtime: RuntimeDep
) -> EventsResponse:
    async with runtime.sessions() as session:
        user = await users.find(session, app.id, params.user_id(user_id))
        if user is None:
            raise user_not_found()
        rows = await audit.recent_service_events(session, user.id, MAX_EVENTS)
    return EventsResponse(
        events=[
            EventOut(
                event=row.event,
                description=audit.describe(row.event),
                created_at=row.created_at,
                device_id=row.device_id,
                detail=row.detail,
            )
            for row in rows
        ],
        success=True,
    )
