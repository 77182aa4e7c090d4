"""``POST /authy/callback``: the approval service reports the phone's answer.

The body follows the Authy OneTouch callback: top-level ``uuid`` (the
approval request), ``status`` (``approved`` or ``denied``) and ``authy_id``,
with the request's details under ``approval_request``. It is accepted only
when ``X-Authy-Signature`` matches the web app's API key and the nonce is
fresh (a few minutes old at most) and has not been seen before. The answer
lands on the attempt that owns the uuid, and the change is published in the
same transaction, so a browser waiting anywhere wakes only once the answer is
committed.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse

from pushgate import clock, safe_json, webhook_signature
from pushgate.logs import security_event
from pushgate.runtime import Runtime, get_runtime
from pushgate.security.nonces import NonceOutcome, claim_nonce
from pushgate.security.proxy import external_url, request_view
from pushgate.web import attempts

logger = logging.getLogger("pushgate")

MAX_BODY_BYTES = 64 * 1024
MAX_NONCE_LENGTH = 128
_UUID = re.compile(r"[\x21-\x7e]{1,64}")

_REFUSED = {
    "unknown": (
        404,
        "No login attempt owns approval request {uuid!r}; nothing changed.",
    ),
    "wrong_user": (
        409,
        "Approval request {uuid!r} belongs to another user than authy_id "
        "{authy_id!r}; nothing changed.",
    ),
    "already_answered": (
        409,
        "Approval request {uuid!r} was already answered differently; the first "
        "answer stands.",
    ),
    "expired": (
        409,
        "Approval request {uuid!r} expired before this answer; it no longer counts.",
    ),
}

router = APIRouter(include_in_schema=False)


def _message(status_code: int, message: str) -> JSONResponse:
    return JSONResponse({"success": False, "message": message}, status_code=status_code)


def _answer_problem(body: dict[str, Any]) -> str | None:
    """What is wrong with a signed body's fields, in one sentence, or ``None``."""
    request_uuid = body.get("uuid")
    # Visible ASCII only: a NUL, for one, could not even be looked up.
    if not isinstance(request_uuid, str) or not _UUID.fullmatch(request_uuid):
        return "The callback's uuid must be the approval request's uuid as a string."
    status = body.get("status")
    if status not in attempts.ANSWERS:
        return f"The callback's status {status!r} must be 'approved' or 'denied'."
    authy_id = body.get("authy_id")
    if authy_id is not None and (
        isinstance(authy_id, bool) or not isinstance(authy_id, int)
    ):
        return f"The callback's authy_id {authy_id!r} must be a whole number."
    return None


@router.post("/authy/callback")
async def authy_callback(request: Request) -> JSONResponse:
    runtime = get_runtime(request)
    # Size, nesting and text are checked before anything else reads the body.
    body = await safe_json.read_object(request, MAX_BODY_BYTES)
    if isinstance(body, safe_json.BodyRefusal):
        return _message(body.status_code, body.message)

    signature = request.headers.get("X-Authy-Signature", "")
    nonce = request.headers.get("X-Authy-Signature-Nonce", "")
    api_key = runtime.service_api_key or ""
    if not (
        signature
        and nonce
        and api_key
        and len(nonce) <= MAX_NONCE_LENGTH
        and any(
            webhook_signature.verify(signature, api_key, nonce, "POST", url, body)
            for url in _signed_urls(request, runtime)
        )
    ):
        security_event("callback.bad_signature", ip=_ip(request))
        return _message(
            401,
            "The X-Authy-Signature header is missing or wrong; sign the callback "
            "with the application's API key.",
        )

    problem = _answer_problem(body)
    if problem is not None:
        return _message(400, problem)
    return await _record(runtime, body, nonce)


async def _record(runtime: Runtime, body: dict[str, Any], nonce: str) -> JSONResponse:
    request_uuid: str = body["uuid"]
    answer: str = body["status"]
    authy_id: int | None = body.get("authy_id")
    now = clock.now()

    max_age = timedelta(seconds=runtime.settings.callback_nonce_max_age_seconds)
    async with runtime.sessions() as db:
        fresh = await claim_nonce(db, nonce, now, max_age)
        if fresh is not NonceOutcome.ACCEPTED:
            await db.rollback()
            security_event(
                "callback.refused_nonce", approval=request_uuid[:8], nonce=str(fresh)
            )
            return _message(401, _NONCE_PROBLEMS[fresh])

        outcome, attempt = await attempts.record_answer(
            db, request_uuid, answer, authy_id, now
        )
        if outcome == "recorded" and attempt is not None:
            await runtime.bus.publish_in(db, attempts.topic(attempt.id))
            await runtime.bus.commit(db)
        else:
            # Keep the nonce even when refusing, so the same message cannot
            # be tried again later.
            await db.commit()

    if outcome in ("recorded", "repeated"):
        if outcome == "recorded":
            security_event(
                "login.push_answered",
                answer=answer,
                attempt=attempt.id[:8] if attempt else "",
            )
        return JSONResponse({"success": True, "status": answer})

    status_code, template = _REFUSED[outcome]
    logger.warning(
        "Refused a callback for approval request %s: %s", request_uuid[:8], outcome
    )
    return _message(status_code, template.format(uuid=request_uuid, authy_id=authy_id))


_NONCE_PROBLEMS = {
    NonceOutcome.REPLAYED: "The callback nonce was already used; sign each "
    "callback with a fresh nonce.",
    NonceOutcome.STALE: "The callback nonce is more than a few minutes old; sign "
    "each delivery with a fresh nonce (the current unix time).",
    NonceOutcome.FUTURE: "The callback nonce is from the future; check the "
    "signer's clock.",
    NonceOutcome.MALFORMED: "The callback nonce must start with the unix time in "
    "seconds (ten digits).",
}


def _signed_urls(request: Request, runtime: Runtime) -> list[str]:
    """The URLs the service may have signed: the configured public address, and
    the one the client used (through trusted proxies only)."""
    configured = runtime.settings.resolved_public_url() + request.url.path
    seen = external_url(request)
    return [configured] if seen == configured else [configured, seen]


def _ip(request: Request) -> str:
    return request_view(request).address
