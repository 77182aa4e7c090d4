"""The Authy token endpoints: send a code by SMS or call, verify a code, TOTP QR.

``GET /protected/json/sms/{id}`` and ``GET /protected/json/call/{id}``
    Send a new code. A user with an enrolled authenticator is not texted or
    called unless ``force=true`` (Authy answered such requests "ignored").
    ``action`` ties the code to one action, such as a login attempt, and
    ``action_message`` replaces the opening words of the message.
``GET /protected/json/verify/{token}/{id}``
    200 with ``"token":"is valid"`` for the live SMS/voice code or a TOTP
    code; otherwise Authy's 401 body with a ``reason`` (``invalid``,
    ``used``) and the ``tries_left``, or 429 when no tries are left.
``POST /protected/json/users/{id}/secret``
    The user's TOTP secret as an ``otpauth://`` URI and its QR code (SVG).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.requests import Request

from pushgate.logs import security_event
from pushgate.security import audit
from pushgate.service import log_redaction, params, totp, users
from pushgate.service.auth import CurrentApp, RuntimeDep
from pushgate.service.errors import ApiError, AuthyRoute, user_not_found
from pushgate.service.messages import compose, queue_code
from pushgate.service.senders.base import Channel, masked_cellphone
from pushgate.service.tokens import (
    MAX_ACTION_LENGTH,
    SEND_WINDOW,
    Verdict,
    issue_code,
    verify_code,
)

router = APIRouter(route_class=AuthyRoute)

# The verify path holds the code, and errors and jobs can quote what a client
# sent: keep both out of the logs.
log_redaction.install()

WRONG_CODE = "60020"
TOO_MANY_REQUESTS = "60003"

_SENT = {"sms": "SMS token was sent", "call": "Call started..."}
_IGNORED = {
    "sms": "Ignored: SMS is not needed for smartphones. "
    "Pass force=true if you want to actually send it anyway.",
    "call": "Ignored: Call is not needed for smartphones. "
    "Pass force=true if you want to actually make it anyway.",
}


@router.get("/protected/json/sms/{user_id}")
async def request_sms(
    user_id: str, request: Request, app: CurrentApp, runtime: RuntimeDep
) -> JSONResponse:
    return await _send(request, runtime, app.id, app.name, user_id, "sms")


@router.get("/protected/json/call/{user_id}")
async def request_call(
    user_id: str, request: Request, app: CurrentApp, runtime: RuntimeDep
) -> JSONResponse:
    return await _send(request, runtime, app.id, app.name, user_id, "call")


async def _send(
    request: Request,
    runtime: RuntimeDep,
    app_id: int,
    app_name: str,
    raw_user_id: str,
    channel: Channel,
) -> JSONResponse:
    uid = params.user_id(raw_user_id)
    values = await params.read_params(request)
    force = params.boolean(values, "force", default=False)
    action = params.text(values, "action", required=False, max_length=MAX_ACTION_LENGTH)
    action_message = params.text(
        values, "action_message", required=False, max_length=MAX_ACTION_LENGTH
    )
    secret = runtime.settings.resolved_secret_key()

    async with runtime.sessions.begin() as session:
        user = await users.find(session, app_id, uid)
        if user is None:
            raise user_not_found()
        cellphone = masked_cellphone(user.country_code, user.cellphone)
        if not force and await users.enrolled_devices(session, uid):
            return JSONResponse(
                {
                    "success": True,
                    "message": _IGNORED[channel],
                    "cellphone": cellphone,
                    "ignored": True,
                }
            )
        issued = await issue_code(session, secret, uid, channel, action or "")
        if issued is None:
            security_event("service.code_throttled", app=app_id, user=uid)
            minutes = int(SEND_WINDOW.total_seconds() // 60)
            raise ApiError(
                429,
                f"Too many codes were sent to this user; wait {minutes} minutes "
                "or use the authenticator.",
                TOO_MANY_REQUESTS,
            )
        token_id = issued.token.id
        text = compose(channel, issued.code, app_name, action_message or "")
        await queue_code(runtime, session, token_id, text)
        await audit.record_service(
            session, audit.CODE_SENT, app_id=app_id, user_id=uid, channel=channel
        )

    return JSONResponse(
        {"success": True, "message": _SENT[channel], "cellphone": cellphone}
    )


@router.get("/protected/json/verify/{token}/{user_id}")
async def verify(
    token: str, user_id: str, request: Request, app: CurrentApp, runtime: RuntimeDep
) -> JSONResponse:
    uid = params.user_id(user_id)
    values = await params.read_params(request)
    action = params.text(values, "action", required=False, max_length=MAX_ACTION_LENGTH)
    secret = runtime.settings.resolved_secret_key()

    async with runtime.sessions.begin() as session:
        user = await users.find(session, app.id, uid)
        if user is None:
            raise user_not_found()
        # 0-9 only: str.isdigit() says yes to other scripts' digits too.
        if not re.fullmatch(r"[0-9]{6,12}", token):
            return _refusal(401, "Token is invalid", "invalid", None)
        result = await verify_code(session, secret, uid, token, action or "")
        if result.ok:
            await audit.record_service(
                session,
                audit.CODE_VERIFIED,
                app_id=app.id,
                user_id=uid,
                method=result.method,
            )
        else:
            await audit.record_service(
                session,
                audit.CODE_REFUSED,
                app_id=app.id,
                user_id=uid,
                reason=result.verdict.value,
            )

    if result.ok:
        return JSONResponse(
            {"message": "Token is valid.", "token": "is valid", "success": "true"}
        )
    if result.verdict is Verdict.USED:
        return _refusal(
            401, "Token is invalid. Token was used recently", "used", result.tries_left
        )
    if result.verdict is Verdict.TOO_MANY_TRIES:
        return _refusal(
            429,
            "Too many wrong codes; request a new code.",
            "too_many_tries",
            0,
            TOO_MANY_REQUESTS,
        )
    return _refusal(401, "Token is invalid", "invalid", result.tries_left)


def _refusal(
    status: int,
    message: str,
    reason: str,
    tries_left: int | None,
    error_code: str = WRONG_CODE,
) -> JSONResponse:
    body: dict[str, Any] = ApiError(status, message, error_code).body()
    body.update({"token": "is invalid", "reason": reason})
    if tries_left is not None:
        body["tries_left"] = tries_left
    return JSONResponse(body, status_code=status)


@router.post("/protected/json/users/{user_id}/secret")
async def totp_secret(
    user_id: str, request: Request, app: CurrentApp, runtime: RuntimeDep
) -> JSONResponse:
    uid = params.user_id(user_id)
    values = await params.read_params(request)
    label = params.text(values, "label", required=False, max_length=100)
    size = params.integer(values, "qr_size", default=300, minimum=64, maximum=1024)
    settings = runtime.settings

    async with runtime.sessions.begin() as session:
        user = await users.find(session, app.id, uid)
        if user is None:
            raise user_not_found()
        secret = await totp.ensure_secret(
            session, settings.resolved_secret_key(), uid, settings.totp_digits
        )
        account = label or user.email

    uri = secret.uri(settings.totp_issuer, account)
    security_event("service.totp_secret_shown", app=app.id, user=uid)
    return JSONResponse(
        {
            "label": account,
            "issuer": settings.totp_issuer,
            "qr_code": totp.qr_svg_data_uri(uri, size),
            "uri": uri,
            "success": True,
        }
    )
