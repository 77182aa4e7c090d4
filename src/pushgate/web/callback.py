"""``POST /authy/callback``: the approval service reports the phone's answer.

The body follows the Authy OneTouch callback: top-level ``uuid`` (the
approval request), ``status`` (``approved`` or ``denied``) and ``authy_id``,
with the request's details under ``approval_request``. It is accepted only
when ``X-Authy-Signature`` matches the web app's API key and the nonce is
fresh (a few minutes old at most) and has not been seen before. The answer
lands on the attempt that owns the uuid. Claiming the nonce, recording the
answer and (on the PostgreSQL bus) announcing it are one SQL statement, so one
transaction and one round trip; a browser waiting anywhere wakes only once the
answer is committed.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pushgate import clock, safe_json, webhook_signature
from pushgate.db.engine import retrying
from pushgate.events.postgres import CHANNEL, PostgresBus
from pushgate.logs import security_event
from pushgate.runtime import Runtime, get_runtime
from pushgate.security.nonces import NonceOutcome, check_nonce_time
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
    timely = check_nonce_time(nonce, now, max_age)
    if timely is not NonceOutcome.ACCEPTED:
        return _refuse_nonce(request_uuid, timely)

    bus = runtime.bus
    # On the PostgreSQL bus the NOTIFY travels inside the answer's statement.
    channel = CHANNEL if isinstance(bus, PostgresBus) else None

    async def answer_once(connection: AsyncConnection) -> attempts.Answer:
        return await attempts.record_answer(
            connection, request_uuid, answer, authy_id, nonce, now, channel
        )

    # Tried again only when the connection was dead: had the statement
    # committed before that, the retry finds its nonce and says "replayed",
    # and the service's next delivery (a fresh nonce) gets "repeated".
    result = await retrying(runtime.engine, answer_once)
    outcome = result.outcome
    if outcome == "replayed":
        return _refuse_nonce(request_uuid, NonceOutcome.REPLAYED)
    if outcome == "recorded" and result.attempt_id is not None:
        if channel is None:
            await bus.publish(attempts.topic(result.attempt_id))
        security_event(
            "login.push_answered", answer=answer, attempt=result.attempt_id[:8]
        )
    if outcome in ("recorded", "repeated"):
        return JSONResponse({"success": True, "status": answer})

    status_code, template = _REFUSED[outcome]
    logger.warning(
        "Refused a callback for approval request %s: %s", request_uuid[:8], outcome
    )
    return _message(status_code, template.format(uuid=request_uuid, authy_id=authy_id))


#: A plain Starlette route, mounted ahead of the FastAPI routers: FastAPI's
#: request handling was a fifth of this handler's CPU, and it needs none of it.
route = Route("/authy/callback", authy_callback, methods=["POST"])


def _refuse_nonce(request_uuid: str, outcome: NonceOutcome) -> JSONResponse:
    security_event(
        "callback.refused_nonce", approval=request_uuid[:8], nonce=str(outcome)
    )
    return _message(401, _NONCE_PROBLEMS[outcome])


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
