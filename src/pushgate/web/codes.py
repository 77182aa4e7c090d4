"""Logging in with a code when the push cannot be used.

The code page is offered after the phone denied the push, after the push
expired, and straight away when no phone is enrolled. It works on the login
attempt of the browser's session, so a code finishes only the login it was
asked for: texts and calls are sent tied to that attempt (the service's
``action``), and an accepted code marks that attempt used and rotates the
session, as ``/login/complete`` does for an approval.

Three kinds of code are accepted: the code we text or call (7 digits), the
code of the authenticator (TOTP, 6 digits), and a recovery code. The service
limits each texted code to five wrong tries; the site also ends the login
attempt after ten wrong codes of any kind.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from pushgate import clock
from pushgate.db.models import LoginAttempt, User
from pushgate.runtime import Runtime, get_runtime
from pushgate.security import audit
from pushgate.web import attempts, recovery_codes, sessions
from pushgate.web._http import checked_form, client_ip, redirect
from pushgate.web.code_client import CodeCheck, Via, code_client
from pushgate.web.service_client import ServiceError
from pushgate.web.sessions import SessionState
from pushgate.web.templating import render

router = APIRouter(include_in_schema=False)

#: Seconds between two texts or calls for one login.
RESEND_COOLDOWN_SECONDS = 30
#: How long after the password a login can still be finished with a code.
CODE_LOGIN_WINDOW = timedelta(minutes=15)
#: Wrong codes of any kind before the site ends the login attempt.
MAX_WRONG_CODES = 10
ACTION_MESSAGE = "Your pushgate login code"

_SENT = {
    "sms": "We texted a code to your phone number ending in {last}. "
    "It works for 10 minutes.",
    "call": "We are calling your phone number ending in {last}; "
    "the call reads out your code. It works for 10 minutes.",
}
_WRONG_FORMAT = (
    "Enter the 7-digit code we texted or called, the 6-digit code from your "
    "authenticator, or a recovery code such as abcde-fghjk."
)
_OTHER_DIGITS = (
    "Type the code with the digits 0-9 only; your keyboard wrote other digits."
)
#: A code we text or call (7 digits) or an authenticator's (6); ASCII digits
#: only, never ``\d``, which matches the digits of every script.
_SERVICE_CODE = re.compile(r"[0-9]{6,8}")
_CLOSED = {
    "used": "This login was already finished; log in again if you were signed out.",
    "old": "This login is too old to finish with a code; log in again.",
    "tries": "Too many wrong codes for this login; log in again to start over.",
}


def attempt_action(attempt_id: str) -> str:
    """The service ``action`` that ties a code to one login attempt.

    A digest, so the service never learns the attempt id itself.
    """
    return "login:" + hashlib.sha256(attempt_id.encode()).hexdigest()[:32]


@dataclass(slots=True)
class _CodeLogin:
    session: SessionState
    attempt: LoginAttempt
    user: User


async def _load(runtime: Runtime, request: Request) -> _CodeLogin | None:
    async with runtime.sessions() as db:
        session = await sessions.load(db, request)
        if session is None or session.attempt_id is None:
            return None
        attempt = await db.get(LoginAttempt, session.attempt_id)
        user = await db.get(User, attempt.user_id) if attempt is not None else None
    if attempt is None or user is None:
        return None
    return _CodeLogin(session, attempt, user)


def _closed(login: _CodeLogin, now: datetime) -> str | None:
    """Why this login can no longer be finished with a code, if it cannot."""
    if login.attempt.used_at is not None:
        return _CLOSED["used"]
    if now >= login.attempt.created_at + CODE_LOGIN_WINDOW:
        return _CLOSED["old"]
    if _wrong_codes(login.session) >= MAX_WRONG_CODES:
        return _CLOSED["tries"]
    return None


def _wrong_codes(session: SessionState) -> int:
    value = session.data.get("code_failures", 0)
    return value if isinstance(value, int) else 0


def _cooldown_left(session: SessionState, now: datetime) -> int:
    sent_at = session.data.get("code_sent_at")
    if not isinstance(sent_at, int | float):
        return 0
    left = sent_at + RESEND_COOLDOWN_SECONDS - now.timestamp()
    return max(0, int(left + 0.999))


def _why_a_code(attempt: LoginAttempt, now: datetime) -> str:
    if attempt.approval_uuid is None:
        return (
            "No phone is enrolled to approve your logins, so finish logging in "
            "with a code sent to your phone."
        )
    state = attempts.AttemptState(attempt.status, attempt.expires_at).status_at(now)
    if state == attempts.DENIED:
        return (
            "The login was denied on your phone. If you tapped Deny by mistake, "
            "finish with a code."
        )
    if state == attempts.EXPIRED:
        return "The request to your phone expired. Finish logging in with a code."
    if attempt.replaced_at is not None:
        return (
            "A newer login replaced this request on your phone. Finish this "
            "login with a code."
        )
    return "Finish logging in with a code instead of the push."


def _page(
    request: Request,
    login: _CodeLogin,
    *,
    notice: dict[str, Any] | None = None,
    code_problem: str | None = None,
    status_code: int = 200,
) -> Response:
    now = clock.now()
    closed = _closed(login, now)
    if closed is not None:
        notice = {"kind": "error", "text": closed}
    return render(
        request,
        "web/code.html",
        session=login.session,
        notice=notice,
        errors={"code": code_problem} if code_problem else {},
        closed=closed is not None,
        why=_why_a_code(login.attempt, now),
        can_send=login.user.authy_id is not None,
        phone_end=login.user.phone[-2:],
        cooldown=_cooldown_left(login.session, now),
        status_code=status_code,
    )


async def _save(runtime: Runtime, session: SessionState) -> None:
    async with runtime.sessions.begin() as db:
        await sessions.save_data(db, session)


@router.get("/login/code")
async def code_form(request: Request) -> Response:
    runtime = get_runtime(request)
    login = await _load(runtime, request)
    if login is None:
        return redirect("/login")
    if login.session.user_id is not None:
        return redirect("/account")

    notice = login.session.data.pop("code_notice", None)
    if notice is not None:
        await _save(runtime, login.session)
    return _page(request, login, notice=notice if isinstance(notice, dict) else None)


async def start_code_login(
    request: Request,
    runtime: Runtime,
    session: SessionState,
    user: User,
    notice: str | None = None,
) -> Response:
    """Begin a login that no push can approve (no phone enrolled, or pushes
    refused for now): codes only. ``notice`` tells the person why."""
    now = clock.now()
    async with runtime.sessions.begin() as db:
        attempt = await attempts.create(
            db,
            user,
            now=now,
            seconds=runtime.settings.approval_seconds,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
        )
        session.data["attempt_id"] = attempt.id
        _forget_codes(session)
        if notice is not None:
            session.data["code_notice"] = {"kind": "error", "text": notice}
        await sessions.save_data(db, session)
    return redirect("/login/code")


def _forget_codes(session: SessionState) -> None:
    for key in ("code_sent_at", "code_failures", "code_notice"):
        session.data.pop(key, None)


@router.post("/login/code/send")
async def send_code(request: Request) -> Response:
    runtime = get_runtime(request)
    checked = await checked_form(request, runtime)
    if isinstance(checked, Response):
        return checked
    form, _ = checked
    login = await _load(runtime, request)
    if login is None:
        return redirect("/login")
    session, now = login.session, clock.now()

    notice = await _send(runtime, login, form.get("via"), now)
    session.data["code_notice"] = notice
    await _save(runtime, session)
    return redirect("/login/code")


async def _send(
    runtime: Runtime, login: _CodeLogin, via: object, now: datetime
) -> dict[str, Any]:
    """Ask the service to text or call a code; the notice to show either way."""
    closed = _closed(login, now)
    if closed is not None:
        return {"kind": "error", "text": closed}
    if via not in ("sms", "call"):
        return {"kind": "error", "text": "Choose a text message or a call."}
    wait = _cooldown_left(login.session, now)
    if wait:
        return {
            "kind": "error",
            "text": f"We just sent a code; you can ask for another in {wait} seconds.",
        }
    if login.user.authy_id is None:
        return {
            "kind": "error",
            "text": "This account has no phone registered for codes; use a "
            "recovery code instead.",
        }

    channel: Via = "call" if via == "call" else "sms"
    sent = await code_client(runtime).send_code(
        login.user.authy_id,
        channel,
        action=attempt_action(login.attempt.id),
        action_message=ACTION_MESSAGE,
    )
    if isinstance(sent, ServiceError):
        return {"kind": "error", "text": sent.message}
    login.session.data["code_sent_at"] = now.timestamp()
    return {"kind": "ok", "text": _SENT[channel].format(last=login.user.phone[-2:])}


@router.post("/login/code")
async def enter_code(request: Request) -> Response:
    runtime = get_runtime(request)
    checked = await checked_form(request, runtime)
    if isinstance(checked, Response):
        return checked
    form, _ = checked
    login = await _load(runtime, request)
    if login is None:
        return redirect("/login")
    if _closed(login, clock.now()) is not None:
        return _page(request, login, status_code=409)

    code = re.sub(r"[\s-]", "", form.get("code"))
    if _SERVICE_CODE.fullmatch(code):
        return await _with_service_code(request, runtime, login, code)
    if recovery_codes.looks_like_code(code.lower()):
        return await _with_recovery_code(request, runtime, login, code)
    problem = form.problems.get("code") or _format_problem(code)
    return _page(request, login, code_problem=problem, status_code=400)


def _format_problem(code: str) -> str:
    if code.isdigit():
        # Digits of other scripts (str.isdigit() says yes to ١٢٣ too): the
        # codes we send and the authenticator shows use 0-9 only.
        return _OTHER_DIGITS
    return _WRONG_FORMAT


async def _with_service_code(
    request: Request, runtime: Runtime, login: _CodeLogin, code: str
) -> Response:
    if login.user.authy_id is None:
        return _page(
            request,
            login,
            notice=_error(
                "Codes cannot be checked for this account; use a recovery code."
            ),
            status_code=409,
        )
    checked = await code_client(runtime).check_code(
        login.user.authy_id, code, action=attempt_action(login.attempt.id)
    )
    if isinstance(checked, ServiceError):
        return _page(request, login, notice=_error(checked.message), status_code=502)
    if not checked.accepted:
        await _count_wrong_code(request, runtime, login, "sent or authenticator")
        return _page(request, login, notice=_error(_refusal(checked)), status_code=401)

    async with runtime.sessions() as db:
        finished = await _finish(request, db, runtime, login, via="code")
        if finished is None:
            await db.rollback()
            return _page(request, login, status_code=409)
        await db.commit()
    return _signed_in(runtime, finished)


async def _with_recovery_code(
    request: Request, runtime: Runtime, login: _CodeLogin, code: str
) -> Response:
    now = clock.now()
    secret = runtime.settings.resolved_secret_key()
    async with runtime.sessions() as db:
        # The code is spent only if the login really finishes: one transaction.
        consumed = await recovery_codes.consume(db, secret, login.user.id, code, now)
        finished = (
            await _finish(request, db, runtime, login, via="recovery code")
            if consumed
            else None
        )
        if finished is None:
            await db.rollback()
        else:
            await audit.record(
                db,
                audit.RECOVERY_CODE_USED,
                user_id=login.user.id,
                ip=client_ip(request),
            )
            await db.commit()
    if finished is not None:
        return _signed_in(runtime, finished)
    if consumed:
        return _page(request, login, status_code=409)

    await _count_wrong_code(request, runtime, login, "recovery")
    message = (
        "That recovery code is not right or was already used; each code works "
        "once. Check it, or use another one."
    )
    return _page(request, login, notice=_error(message), status_code=401)


async def _finish(
    request: Request,
    db: AsyncSession,
    runtime: Runtime,
    login: _CodeLogin,
    *,
    via: str,
) -> SessionState | None:
    """Mark the attempt used and rotate the session, in the caller's transaction."""
    now = clock.now()
    user_id = await db.scalar(
        update(LoginAttempt)
        .where(
            LoginAttempt.id == login.attempt.id,
            LoginAttempt.used_at.is_(None),
            LoginAttempt.created_at > now - CODE_LOGIN_WINDOW,
        )
        .values(used_at=now)
        .returning(LoginAttempt.user_id)
    )
    if user_id is None:
        return None
    new_session = await sessions.rotate(db, runtime.settings, login.session, user_id)
    ip = client_ip(request)
    await audit.record(db, audit.CODE_USED, user_id=user_id, ip=ip, via=via)
    await audit.record(
        db, audit.LOGIN_SUCCEEDED, user_id=user_id, ip=ip, attempt=login.attempt.id[:8]
    )
    return new_session


def _signed_in(runtime: Runtime, new_session: SessionState) -> Response:
    response = redirect("/account")
    sessions.apply_cookie(response, runtime.settings, new_session)
    return response


async def _count_wrong_code(
    request: Request, runtime: Runtime, login: _CodeLogin, kind: str
) -> None:
    login.session.data["code_failures"] = _wrong_codes(login.session) + 1
    async with runtime.sessions.begin() as db:
        await sessions.save_data(db, login.session)
        await audit.record(
            db,
            audit.CODE_FAILED,
            user_id=login.user.id,
            ip=client_ip(request),
            kind=kind,
        )


def _refusal(checked: CodeCheck) -> str:
    if checked.reason == "used":
        return (
            "That code was already used. Wait for your authenticator to show the "
            "next one, or ask for a code by text or call."
        )
    if checked.reason == "too_many_tries":
        return (
            "Too many wrong codes. Ask for a new code by text or call, then "
            "enter the new one."
        )
    if checked.tries_left:
        tries = "try" if checked.tries_left == 1 else "tries"
        return (
            f"That code is not right. You have {checked.tries_left} more {tries} "
            "before you need a new code."
        )
    return "That code is not right. Check it, or ask for a new code by text or call."


def _error(text: str) -> dict[str, Any]:
    return {"kind": "error", "text": text}
