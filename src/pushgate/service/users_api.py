"""``/protected/json/users/...``: register, look up, enroll and delete users."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request

from pushgate.logs import security_event
from pushgate.service import devices, enrollments, params, users
from pushgate.service.approvals import user_topic
from pushgate.service.auth import CurrentApp, RuntimeDep
from pushgate.service.errors import (
    USER_NOT_VALID,
    ApiError,
    AuthyRoute,
    user_not_found,
)
from pushgate.service.phone_messages import install_link_text, queue_message

router = APIRouter(prefix="/protected/json/users", route_class=AuthyRoute)


@router.post("/new")
async def create_user(
    request: Request, app: CurrentApp, runtime: RuntimeDep
) -> dict[str, Any]:
    values = await params.read_params(request)
    user_params = values.get("user")
    if not isinstance(user_params, dict):
        user_params = {}
    cleaned, problems = users.validate_user(
        user_params.get("email"),
        user_params.get("cellphone"),
        user_params.get("country_code"),
    )
    if cleaned is None:
        raise ApiError(400, "User was not valid", USER_NOT_VALID, problems)
    send_link = params.boolean(values, "send_install_link_via_sms", default=False)

    async with runtime.sessions.begin() as session:
        user = await users.register(session, app.id, cleaned)
        if send_link and not await users.enrolled_devices(session, user.id):
            token, _ = await enrollments.create(session, user.id)
            link = enrollments.link(runtime.settings.resolved_public_url(), token)
            await queue_message(
                session,
                runtime,
                "sms",
                cleaned.country_code,
                cleaned.cellphone,
                install_link_text(link),
            )
        user_id = user.id

    return {
        "message": "User created successfully.",
        "user": {"id": user_id},
        "success": True,
    }


@router.get("/{user_id}/status")
async def user_status(
    user_id: str, app: CurrentApp, runtime: RuntimeDep
) -> dict[str, Any]:
    async with runtime.sessions() as session:
        user = await users.find(session, app.id, params.user_id(user_id))
        if user is None:
            raise user_not_found()
        enrolled = await users.enrolled_devices(session, user.id)

    registered = bool(enrolled)
    return {
        "status": {
            "authy_id": user.id,
            "confirmed": registered,
            "registered": registered,
            "account_disabled": False,
            "country_code": int(user.country_code),
            "phone_number": users.masked_phone(user.cellphone),
            "email": user.email,
            "devices": sorted({devices.device_kind(d.name) for d in enrolled}),
            "has_hard_token": False,
        },
        "message": "User status.",
        "success": True,
    }


@router.post("/{user_id}/enrollment")
async def create_enrollment(
    user_id: str, app: CurrentApp, runtime: RuntimeDep
) -> dict[str, Any]:
    """A one-time link that enrolls a phone for this user (pushgate's own call)."""
    async with runtime.sessions.begin() as session:
        user = await users.find(session, app.id, params.user_id(user_id))
        if user is None:
            raise user_not_found()
        token, expires_at = await enrollments.create(session, user.id)

    return {
        "success": True,
        "message": "Enrollment link created.",
        "enrollment": {
            "url": enrollments.link(runtime.settings.resolved_public_url(), token),
            "expires_at": expires_at.isoformat().replace("+00:00", "Z"),
        },
    }


@router.post("/{user_id}/delete")
@router.post("/{user_id}/remove")
async def delete_user(
    user_id: str, request: Request, app: CurrentApp, runtime: RuntimeDep
) -> dict[str, Any]:
    await params.read_params(request)
    async with runtime.sessions() as session:
        user = await users.find(session, app.id, params.user_id(user_id))
        if user is None:
            raise user_not_found()
        await users.delete(session, user)
        await runtime.bus.publish_in(session, user_topic(user.id))
        await runtime.bus.commit(session)
    security_event("service.user_deleted", app_id=app.id, user_id=user.id)
    return {"message": "User removed from application", "success": True}
