"""Changing the password: the current one first, then everywhere signed out.

Someone who finds a login they did not make (a denied or reported push) is
told to change their password; this is where. The current password is
checked as a login checks it, wrong tries count against the same throttle,
and a change ends every session of the account, this one included, then
signs this browser in again under a new token: whoever else held a session
is out at once.
"""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import update
from starlette.requests import Request
from starlette.responses import Response

from pushgate import clock
from pushgate.db.models import User
from pushgate.logs import security_event
from pushgate.runtime import Runtime, get_runtime
from pushgate.security import audit, throttle
from pushgate.web import forms, passwords, sessions
from pushgate.web._http import (
    client_ip,
    redirect,
    signed_in,
    signed_in_form,
)
from pushgate.web.sessions import SessionState
from pushgate.web.templating import render

router = APIRouter(include_in_schema=False)

#: Audit events (the account page describes them from their names).
PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an event name
PASSWORD_CHANGE_FAILED = "password_change_failed"  # noqa: S105 - an event name
#: The session key of a one-time notice for the account page.
ACCOUNT_NOTICE = "account_notice"
DONE = (
    "Your password is changed, and every other browser signed in to this "
    "account is signed out."
)
WRONG_CURRENT = "That is not your current password; type it again."
TOO_MANY_TRIES = (
    "Too many wrong passwords for this account or from this network; wait "
    "{seconds} seconds, then try again."
)


@router.get("/account/password")
async def form_page(request: Request) -> Response:
    runtime = get_runtime(request)
    signed = await signed_in(request, runtime)
    if isinstance(signed, Response):
        return signed
    session, user = signed
    return render(request, "web/password.html", session=session, user=user)


@router.post("/account/password")
async def change(request: Request) -> Response:
    runtime = get_runtime(request)
    checked = await signed_in_form(request, runtime)
    if isinstance(checked, Response):
        return checked
    form, session, user = checked
    parsed = forms.parse_password_change(form)

    def again(status_code: int, message: str | None = None) -> Response:
        return render(
            request,
            "web/password.html",
            session=session,
            user=user,
            errors=parsed.errors,
            message=message,
            status_code=status_code,
        )

    change = parsed.value
    if change is None:
        return again(400)
    ip = client_ip(request)
    async with runtime.sessions() as db:
        wait = await throttle.seconds_blocked(db, user.email, ip, clock.now())
    if wait:
        response = again(429, TOO_MANY_TRIES.format(seconds=wait))
        response.headers["Retry-After"] = str(wait)
        return response

    check = await passwords.check_password(user.password_hash, change.current)
    if not check.matches:
        await _count_failure(runtime, user, ip)
        parsed.errors["current_password"] = WRONG_CURRENT
        return again(400)

    new_hash = await passwords.hash_password(change.new)
    new_session = await _replace(runtime, session, user, new_hash, ip)
    security_event("password.changed", user_id=user.id, ip=ip)
    response = redirect("/account")
    sessions.apply_cookie(response, runtime.settings, new_session)
    return response


async def _count_failure(runtime: Runtime, user: User, ip: str) -> None:
    limits = throttle.ThrottleLimits.from_settings(runtime.settings)
    async with runtime.sessions.begin() as db:
        await throttle.record_failure(db, user.email, ip, clock.now(), limits)
        await audit.record(db, PASSWORD_CHANGE_FAILED, user_id=user.id, ip=ip)


async def _replace(
    runtime: Runtime, session: SessionState, user: User, new_hash: str, ip: str
) -> SessionState:
    """Store the new hash, end every session of the user, start this one anew."""
    async with runtime.sessions.begin() as db:
        await db.execute(
            update(User).where(User.id == user.id).values(password_hash=new_hash)
        )
        await throttle.record_success(db, user.email)
        await sessions.end_all(db, user.id)
        await sessions.end(db, session)
        await audit.record(db, PASSWORD_CHANGED, user_id=user.id, ip=ip)
        return await sessions.start(
            db,
            runtime.settings,
            user_id=user.id,
            data={ACCOUNT_NOTICE: DONE},
        )
