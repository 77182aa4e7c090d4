"""``/onetouch/json/...``: create approval requests and read their status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request

from pushgate.db.models import ServiceUser
from pushgate.security import push_guard
from pushgate.security.push_limits import PushLimits
from pushgate.service import approvals, params, users
from pushgate.service.auth import CurrentApp, RuntimeDep
from pushgate.service.errors import (
    GENERIC,
    ApiError,
    AuthyRoute,
    invalid_parameter,
    user_not_found,
)

router = APIRouter(prefix="/onetouch/json", route_class=AuthyRoute)

MAX_MESSAGE = 200
LOGO_RESOLUTIONS = ("default", "low", "med", "high")


def _logos(values: dict[str, Any]) -> list[dict[str, str]] | None:
    raw = values.get("logos")
    if raw is None or raw == "" or raw == [] or raw == {}:
        return None
    if isinstance(raw, dict):
        # A form's logos[0][res]=... arrives keyed by index.
        raw = list(raw.values())
    if not isinstance(raw, list) or len(raw) > 8:
        raise invalid_parameter("logos", "must be a list of up to 8 {res, url} objects")
    logos = []
    for logo in raw:
        if not isinstance(logo, dict):
            raise invalid_parameter("logos", "each logo must be an object")
        res, url = logo.get("res"), logo.get("url")
        if res not in LOGO_RESOLUTIONS:
            raise invalid_parameter("logos", "res must be default, low, med or high")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise invalid_parameter("logos", "url must be an http(s) URL")
        logos.append({"res": res, "url": url[:500]})
    return logos


@router.post("/users/{user_id}/approval_requests")
async def create_approval_request(
    user_id: str, request: Request, app: CurrentApp, runtime: RuntimeDep
) -> dict[str, Any]:
    values = await params.read_params(request)
    message = params.text(values, "message", max_length=MAX_MESSAGE)
    assert message is not None
    details = params.mapping(values, "details")
    hidden_details = params.mapping(values, "hidden_details")
    logos = _logos(values)
    seconds = params.integer(
        values,
        "seconds_to_expire",
        default=approvals.DEFAULT_SECONDS_TO_EXPIRE,
        minimum=1,
        maximum=approvals.MAX_SECONDS_TO_EXPIRE,
    )
    assert seconds is not None

    async with runtime.sessions() as session:
        user = await users.find(session, app.id, params.user_id(user_id))
        if user is None:
            raise user_not_found()
        # Prompt bombing: refuse while paused or over the rate, and keep at
        # most one push pending (see pushgate.security.push_limits).
        guard = await push_guard.before_push(
            session, app.id, user.id, PushLimits.from_settings(runtime.settings)
        )
        if isinstance(guard, ApiError):
            await session.commit()
            raise guard
        created = await approvals.create(
            session,
            app,
            user,
            message=message,
            details=details,
            hidden_details=hidden_details,
            logos=logos,
            seconds_to_expire=seconds,
        )
        await push_guard.after_push(session, app.id, created)
        await runtime.bus.publish_in(session, approvals.user_topic(user.id))
        await runtime.bus.commit(session)

    # number_match is an addition to Authy's body; its clients ignore it.
    return {
        "approval_request": {
            "uuid": created.uuid,
            "number_match": created.number_match,
        },
        "success": True,
    }


@router.get("/approval_requests/{uuid}")
async def approval_request_status(
    uuid: str, app: CurrentApp, runtime: RuntimeDep
) -> dict[str, Any]:
    async with runtime.sessions() as session:
        found = await approvals.find(session, app.id, params.path_text("uuid", uuid))
        user = await session.get(ServiceUser, found.user_id) if found else None
    if found is None or user is None:
        raise ApiError(404, "Approval request not found.", GENERIC)
    return approvals.status_body(found, app, user)
