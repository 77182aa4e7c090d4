"""The authenticator: phone pages and the JSON endpoints their script calls.

Pages
    ``/authenticator/``        pending requests, live, with Approve and Deny
    ``/authenticator/enroll``  enroll this browser with a link's ``#token``
    ``/authenticator/phone``   enroll by phone number and a texted code

Endpoints (JSON; POSTs need the CSRF header, see :mod:`.cookies`)
    ``POST /authenticator/api/devices``        register a key with a link token
    ``POST /authenticator/api/phone/start``    text or call a code to a number
    ``POST /authenticator/api/phone/devices``  register a key with that code
    ``GET  /authenticator/api/requests``       the current snapshot
    ``GET  /authenticator/api/events``         the snapshot, live (SSE)
    ``POST /authenticator/api/answers``        a signed Approve or Deny
"""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from pushgate import clock, safe_json
from pushgate.authenticator import cookies, feed, pages, phone_limits
from pushgate.db.models import ServiceApp, ServiceDevice, ServiceUser
from pushgate.logs import security_event
from pushgate.runtime import Runtime
from pushgate.security import audit, push_guard
from pushgate.security.proxy import request_view
from pushgate.security.push_limits import PushLimits
from pushgate.service import approvals, devices, enrollments, phone_verification, users
from pushgate.service.auth import RuntimeDep
from pushgate.service.callbacks import queue_callback
from pushgate.service.phone_messages import queue_enrollment_code, verification_text
from pushgate.service.senders.base import Channel
from pushgate.sse import EventStream

logger = logging.getLogger("pushgate")

router = APIRouter(prefix="/authenticator")

MAX_BODY = 8 * 1024


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"success": False, "message": message, **extra}, status)


async def _json_body(request: Request) -> dict[str, Any] | JSONResponse:
    """The request's JSON object, or the response refusing the request."""
    problem = cookies.csrf_problem(request)
    if problem is not None:
        security_event("authenticator.csrf_refused", reason=problem)
        return _error(403, f"Refused because {problem}; reload the page and retry.")
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != "application/json":
        return _error(415, "Send the request as application/json.")
    body = await safe_json.read_object(request, MAX_BODY)
    if isinstance(body, safe_json.BodyRefusal):
        return _error(body.status_code, body.message)
    return body


def _short_text(body: dict[str, Any], name: str, limit: int = 200) -> str | None:
    value = body.get(name)
    if isinstance(value, str) and 0 < len(value) <= limit:
        return value
    return None


# --- pages --------------------------------------------------------------------


@router.get("/", include_in_schema=False)
async def index(request: Request, runtime: RuntimeDep) -> Response:
    return pages.render(request, runtime, "authenticator/index.html")


@router.get("/enroll", include_in_schema=False)
async def enroll_page(request: Request, runtime: RuntimeDep) -> Response:
    return pages.render(request, runtime, "authenticator/enroll.html")


@router.get("/phone", include_in_schema=False)
async def phone_page(request: Request, runtime: RuntimeDep) -> Response:
    return pages.render(request, runtime, "authenticator/phone.html")


# --- enrollment ----------------------------------------------------------------


async def _account(
    runtime: Runtime, user: ServiceUser, device: ServiceDevice, session: Any
) -> dict[str, Any]:
    from pushgate.service import totp

    app_name = await session.scalar(
        select(ServiceApp.name).where(ServiceApp.id == user.app_id)
    )
    secret = await totp.ensure_secret(
        session, runtime.settings.resolved_secret_key(), user.id
    )
    return {
        "device_id": device.id,
        "user_id": user.id,
        "app_name": app_name or "",
        "email": user.email,
        "totp": {
            "secret": secret.secret,
            "digits": secret.digits,
            "period": secret.period,
        },
    }


async def _register_for_users(
    request: Request,
    runtime: Runtime,
    session: Any,
    user_list: list[ServiceUser],
    public_key: str,
) -> JSONResponse:
    """Enroll this browser's key for each user; sets the device cookie."""
    name = devices.describe_user_agent(request.headers.get("user-agent", ""))
    tokens = cookies.device_tokens(request)
    existing = await devices.active_for_tokens(session, tokens)
    live_hashes = {device.token_hash for device, _ in existing}
    now = clock.now()
    accounts, new_tokens = [], []
    for user in user_list:
        # Enrolling this browser again for the same user replaces its device.
        for old_device, old_user in existing:
            if old_user.id == user.id and old_device.revoked_at is None:
                old_device.revoked_at = now
                live_hashes.discard(old_device.token_hash)
        device, token = await devices.register(session, user.id, public_key, name)
        new_tokens.append(token)
        accounts.append(await _account(runtime, user, device, session))
        await runtime.bus.publish_in(session, approvals.user_topic(user.id))
        await audit.record_service(
            session,
            audit.DEVICE_ENROLLED,
            app_id=user.app_id,
            user_id=user.id,
            device_id=device.id,
            name=name,
        )
    await runtime.bus.commit(session)

    response = JSONResponse(
        {
            "success": True,
            "device": {"id": accounts[0]["device_id"]},
            "accounts": accounts,
        }
    )
    # The body carries TOTP secrets: never cache it.
    response.headers["Cache-Control"] = "no-store"
    kept = [token for token in tokens if devices.token_hash(token) in live_hashes]
    cookies.set_device_tokens(
        response, [*kept, *new_tokens], runtime.settings.cookie_secure
    )
    return response


@router.post("/api/devices")
async def register_device(request: Request, runtime: RuntimeDep) -> Response:
    body = await _json_body(request)
    if isinstance(body, JSONResponse):
        return body
    token = _short_text(body, "token")
    public_key = _short_text(body, "public_key", limit=400)
    if public_key is None or devices.load_public_key(public_key) is None:
        return _error(400, "public_key must be a P-256 public key (SPKI, base64).")
    if token is None:
        return _error(400, "The enrollment link has no token; open the whole link.")

    async with runtime.sessions() as session:
        user_id = await enrollments.redeem(session, token)
        user = await session.get(ServiceUser, user_id) if user_id else None
        if user is None or user.deleted_at is not None:
            security_event("authenticator.enrollment_refused")
            return _error(
                400,
                "This enrollment link was already used or has expired; "
                "ask the site for a new one.",
            )
        return await _register_for_users(request, runtime, session, [user], public_key)


def _phone(body: dict[str, Any]) -> tuple[str, str] | None:
    country_code = users.normalize_country_code(body.get("country_code"))
    cellphone = users.normalize_cellphone(body.get("phone_number"))
    if country_code is None or cellphone is None:
        return None
    return country_code, cellphone


async def _users_with_phone(session: Any, phone: tuple[str, str]) -> list[ServiceUser]:
    result = await session.scalars(
        select(ServiceUser)
        .where(
            ServiceUser.country_code == phone[0],
            ServiceUser.cellphone == phone[1],
            ServiceUser.deleted_at.is_(None),
        )
        .order_by(ServiceUser.id)
        .limit(cookies.MAX_DEVICES)
    )
    return list(result)


@router.post("/api/phone/start")
async def phone_start(request: Request, runtime: RuntimeDep) -> Response:
    body = await _json_body(request)
    if isinstance(body, JSONResponse):
        return body
    phone = _phone(body)
    if phone is None:
        return _error(400, "Enter the country code and phone number, digits only.")
    channel: Channel = "call" if body.get("via") == "call" else "sms"
    address = request_view(request).address
    now = clock.now()

    # The same work for every number, registered or not (see phone_limits).
    async with runtime.sessions.begin() as session:
        wait = await phone_limits.seconds_blocked(session, address, now)
        started = None
        if not wait:
            await phone_limits.count_request(session, address, now, runtime.settings)
            started = await phone_verification.start(
                session,
                runtime.settings.resolved_secret_key(),
                app_id=None,
                country_code=phone[0],
                cellphone=phone[1],
                via=channel,
                code_length=6,
            )
        if started is not None and started.code is not None:
            await queue_enrollment_code(
                session,
                runtime,
                channel,
                phone[0],
                phone[1],
                verification_text(channel, started.code),
            )

    if wait:
        security_event("authenticator.phone_start_throttled", scope="address")
        response = _error(
            429, f"Too many codes were asked for from here; wait {wait} seconds."
        )
        response.headers["Retry-After"] = str(wait)
        return response
    if started is not None and started.throttled:
        security_event("authenticator.phone_start_throttled", scope="number")
        return _error(
            429, "Too many codes were asked for this number; wait 10 minutes."
        )
    return JSONResponse(
        {
            "success": True,
            "message": "If this number is registered, a code is on its way.",
        }
    )


@router.post("/api/phone/devices")
async def phone_register(request: Request, runtime: RuntimeDep) -> Response:
    body = await _json_body(request)
    if isinstance(body, JSONResponse):
        return body
    phone = _phone(body)
    code = _short_text(body, "code", limit=10)
    public_key = _short_text(body, "public_key", limit=400)
    if public_key is None or devices.load_public_key(public_key) is None:
        return _error(400, "public_key must be a P-256 public key (SPKI, base64).")
    if phone is None or code is None or not re.fullmatch(r"[0-9]{4,10}", code):
        return _error(400, "Enter the phone number and the code you received.")

    async with runtime.sessions() as session:
        result = await phone_verification.check(
            session,
            runtime.settings.resolved_secret_key(),
            app_id=None,
            country_code=phone[0],
            cellphone=phone[1],
            code=code,
        )
        if result is not phone_verification.CheckResult.CORRECT:
            await session.commit()
            security_event("authenticator.phone_code_refused", result=result.value)
            return _error(400, "That code is wrong or has expired; ask for a new one.")
        found = await _users_with_phone(session, phone)
        if not found:
            await session.commit()
            return _error(400, "No site has registered this number.")
        return await _register_for_users(request, runtime, session, found, public_key)


# --- requests and answers ----------------------------------------------------------


def _not_enrolled() -> JSONResponse:
    return _error(401, "This browser is not enrolled; open an enrollment link first.")


@router.get("/api/requests")
async def current_requests(request: Request, runtime: RuntimeDep) -> Response:
    state = await feed.snapshot(runtime, cookies.device_tokens(request))
    if state is None:
        return _not_enrolled()
    response = JSONResponse({"success": True, **state})
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/api/events")
async def request_events(request: Request, runtime: RuntimeDep) -> Response:
    tokens = cookies.device_tokens(request)
    async with runtime.sessions() as session:
        accounts = await devices.active_for_tokens(session, tokens)
    if not accounts:
        return _not_enrolled()
    user_ids = sorted({user.id for _, user in accounts})
    return EventStream(
        feed.stream(runtime, tokens, user_ids),
        registry=runtime.streams,
        retry_ms=runtime.settings.sse_retry_ms,
    )


_REFUSALS = {
    approvals.AnswerOutcome.NOT_FOUND: (404, "That request does not exist."),
    approvals.AnswerOutcome.WRONG_DEVICE: (
        403,
        "This device is not enrolled for that request's account.",
    ),
    approvals.AnswerOutcome.ALREADY_ANSWERED: (
        409,
        "That request was already answered.",
    ),
    approvals.AnswerOutcome.EXPIRED: (410, "That request has expired."),
    approvals.AnswerOutcome.SUPERSEDED: (
        410,
        "This request was replaced by a newer one; answer the newest request.",
    ),
    approvals.AnswerOutcome.STALE_SIGNATURE: (
        400,
        "The answer was signed too long ago or with a wrong clock; check the "
        "phone's time and answer again.",
    ),
}


def _parse_answer(body: dict[str, Any]) -> approvals.Answer | None:
    uuid = _short_text(body, "uuid", limit=64)
    status = body.get("status")
    device_id = _short_text(body, "device_id", limit=64)
    signature = _short_text(body, "signature", limit=200)
    signed_at = body.get("signed_at")
    if (
        uuid is None
        or device_id is None
        or signature is None
        or status not in devices.ANSWER_STATUSES
        or isinstance(signed_at, bool)
        or not isinstance(signed_at, int)
        or not 0 < signed_at < 2**40
    ):
        return None
    return approvals.Answer(uuid, str(status), device_id, signed_at, signature)


@router.post("/api/answers")
async def answer_request(request: Request, runtime: RuntimeDep) -> Response:
    body = await _json_body(request)
    if isinstance(body, JSONResponse):
        return body
    answer = _parse_answer(body)
    pick = _parse_pick(body)
    if answer is None or pick is None:
        return _error(
            400,
            "An answer needs uuid, status (approved or denied), device_id, "
            "signed_at (Unix seconds) and signature, and optionally "
            "picked_number (two digits) and report (true or false).",
        )
    picked, report, extended = pick

    async with runtime.sessions() as session:
        accounts = await devices.active_for_tokens(
            session, cookies.device_tokens(request)
        )
        device = next((d for d, _ in accounts if d.id == answer.device_id), None)
        if device is None:
            security_event("authenticator.answer_unknown_device", uuid=answer.uuid)
            return _error(403, "This browser holds no enrolled device with that id.")
        message = (
            push_guard.answer_text(
                answer.uuid,
                answer.status,
                answer.device_id,
                answer.signed_at,
                picked,
                report,
            )
            if extended
            else devices.canonical_answer(
                answer.uuid, answer.status, answer.device_id, answer.signed_at
            )
        )
        if not devices.signature_is_valid(device.public_key, message, answer.signature):
            security_event(
                "authenticator.answer_bad_signature", uuid=answer.uuid, device=device.id
            )
            return _error(400, "The answer's signature does not verify.")

        # Number matching and "Deny and report" decide what the answer does.
        judgement = await push_guard.judge(
            session, answer.uuid, answer.status, picked, report
        )
        answer = dataclasses.replace(answer, status=judgement.status)
        outcome, found = await approvals.record_answer(session, answer, device)
        if outcome is not approvals.AnswerOutcome.ACCEPTED or found is None:
            await session.rollback()
            security_event(
                "authenticator.answer_refused",
                uuid=answer.uuid,
                device=answer.device_id,
                reason=outcome.value,
            )
            status, text = _REFUSALS.get(outcome, (400, "The answer was refused."))
            return _error(status, text, reason=outcome.value)

        device.last_seen_at = found.answered_at
        await push_guard.after_answer(
            session,
            found,
            judgement,
            device.id,
            PushLimits.from_settings(runtime.settings),
        )
        await queue_callback(session, runtime.jobs, found.uuid)
        await runtime.bus.publish_in(session, approvals.user_topic(found.user_id))
        await runtime.bus.commit(session)

    # The answer is in the audit trail (and the security log) already.
    return JSONResponse(
        {
            "success": True,
            "status": answer.status,
            "uuid": answer.uuid,
            "flagged": judgement.flagged,
            "reason": judgement.reason,
        }
    )


def _parse_pick(body: dict[str, Any]) -> tuple[int | None, bool, bool] | None:
    """The picked number, the report flag, and whether either was sent."""
    picked = body.get("picked_number")
    report = body.get("report", False)
    if picked is not None and (
        isinstance(picked, bool) or not isinstance(picked, int) or not 0 <= picked < 100
    ):
        return None
    if not isinstance(report, bool):
        return None
    return picked, report, "picked_number" in body or "report" in body
