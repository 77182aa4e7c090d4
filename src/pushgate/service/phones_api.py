"""``/protected/json/phones/...``: phone verification and phone information.

``POST phones/verification/start`` (``phone_number``, ``country_code``,
``via`` sms or call, ``code_length`` 4 to 10, ``locale``) sends a code;
``GET phones/verification/check`` (``verification_code``) checks it;
``GET phones/info`` says what can be told about a number without a carrier
lookup service: whether it is well formed.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.requests import Request

from pushgate import clock
from pushgate.logs import security_event
from pushgate.service import params, phone_verification, users
from pushgate.service.auth import CurrentApp, RuntimeDep
from pushgate.service.errors import (
    NO_PENDING_VERIFICATION,
    PHONE_INVALID,
    VERIFICATION_INCORRECT,
    ApiError,
    AuthyRoute,
    invalid_parameter,
)
from pushgate.service.phone_messages import queue_message, verification_text
from pushgate.service.senders.base import Channel, masked_cellphone

router = APIRouter(prefix="/protected/json/phones", route_class=AuthyRoute)

TOO_MANY = "60003"


def phone_from(values: dict[str, Any]) -> tuple[str, str]:
    """The normalized ``(country_code, cellphone)``, or a 400 naming the field."""
    country_code = users.normalize_country_code(values.get("country_code"))
    if country_code is None:
        raise invalid_parameter("country_code", "must be a calling code such as 1")
    cellphone = users.normalize_cellphone(values.get("phone_number"))
    if cellphone is None:
        raise ApiError(
            400,
            "Phone number is invalid",
            PHONE_INVALID,
            {"phone_number": "is invalid"},
        )
    return country_code, cellphone


@router.post("/verification/start")
async def verification_start(
    request: Request, app: CurrentApp, runtime: RuntimeDep
) -> dict[str, Any]:
    values = await params.read_params(request)
    country_code, cellphone = phone_from(values)
    via = params.text(values, "via", required=False, max_length=10) or "sms"
    if via not in ("sms", "call"):
        raise invalid_parameter("via", "must be sms or call")
    code_length = params.integer(
        values, "code_length", default=4, minimum=4, maximum=10
    )
    assert code_length is not None

    channel: Channel = "call" if via == "call" else "sms"
    async with runtime.sessions.begin() as session:
        started = await phone_verification.start(
            session,
            runtime.settings.resolved_secret_key(),
            app_id=app.id,
            country_code=country_code,
            cellphone=cellphone,
            via=via,
            code_length=code_length,
        )
        if started.code is not None:
            await queue_message(
                session,
                runtime,
                channel,
                country_code,
                cellphone,
                verification_text(channel, started.code),
            )
    if started.code is None:
        raise ApiError(
            429,
            "Too many verification codes were sent to this number; try again "
            "in 10 minutes.",
            TOO_MANY,
        )
    shown = masked_cellphone(country_code, cellphone)
    message = (
        f"Text message sent to {shown}."
        if via == "sms"
        else f"Call to {shown} initiated."
    )
    return {
        "carrier": "",
        "is_cellphone": True,
        "is_ported": False,
        "message": message,
        "seconds_to_expire": int(phone_verification.LIFETIME.total_seconds()),
        "uuid": started.verification_id,
        "success": True,
    }


@router.get("/verification/check")
async def verification_check(
    request: Request, app: CurrentApp, runtime: RuntimeDep
) -> JSONResponse:
    values = await params.read_params(request)
    country_code, cellphone = phone_from(values)
    code = params.text(values, "verification_code", max_length=10)
    assert code is not None
    if not re.fullmatch(r"[0-9]{4,10}", code):
        raise ApiError(401, "Verification code is incorrect", VERIFICATION_INCORRECT)

    async with runtime.sessions.begin() as session:
        result = await phone_verification.check(
            session,
            runtime.settings.resolved_secret_key(),
            app_id=app.id,
            country_code=country_code,
            cellphone=cellphone,
            code=code,
        )
    if result is phone_verification.CheckResult.NO_PENDING:
        shown = masked_cellphone(country_code, cellphone)
        raise ApiError(
            404, f"No pending verifications for {shown} found.", NO_PENDING_VERIFICATION
        )
    if result is phone_verification.CheckResult.INCORRECT:
        security_event("service.phone_code_wrong", app_id=app.id)
        raise ApiError(401, "Verification code is incorrect", VERIFICATION_INCORRECT)
    return JSONResponse({"message": "Verification code is correct.", "success": True})


@router.get("/info")
async def phone_info(request: Request, app: CurrentApp) -> dict[str, Any]:
    values = await params.read_params(request)
    phone_from(values)
    when = clock.now().strftime("%Y-%m-%d %H:%M:%S UTC")
    return {
        "message": f"Phone number information as of {when}",
        "type": "unknown",
        "provider": None,
        "ported": False,
        "success": True,
    }
