"""Logging in: the password, the push to the phone, the wait, the completion.

``POST /login`` checks the password and sends the push; the browser then
waits on ``/login/waiting``, whose script follows ``/authy/live_status``.
Only ``POST /login/complete`` signs the person in, and only with an approved,
unexpired, unused attempt that belongs to the same session.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from sqlalchemy import update
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pushgate import clock
from pushgate.db.models import LoginAttempt, User
from pushgate.logs import security_event
from pushgate.runtime import Runtime, get_runtime
from pushgate.security import audit, throttle
from pushgate.web import accounts, attempts, codes, csrf, forms, passwords, sessions
from pushgate.web._http import checked_form, client_ip, redirect
from pushgate.web.details import login_details
from pushgate.web.service_client import ServiceError, service_client
from pushgate.web.sessions import SessionState
from pushgate.web.templating import render

router = APIRouter(include_in_schema=False)

TOO_MANY_TRIES = (
    "Too many wrong passwords for this email or from this network; wait "
    "{seconds} seconds, then try again."
)
WRONG_CREDENTIALS = (
    "That email and password do not match an account; check both and try again."
)
NO_DEVICE = (
    "This account has no phone registered with the approval service, so this "
    "login cannot be approved or finished with a code; sign up again."
)
PUSH_MESSAGE = "Log in to pushgate"

_NOT_COMPLETED = {
    attempts.PENDING: "The login has not been approved yet; approve it on your phone.",
    attempts.DENIED: "The login was denied on your phone; log in again to retry.",
    attempts.EXPIRED: "The approval request expired; log in again to send a new one.",
    "used": "This login was already completed; log in again if you were signed out.",
    "unknown": "No login is waiting in this browser; log in again.",
}


@router.get("/login")
async def login_form(request: Request) -> Response:
    runtime = get_runtime(request)
    settings = runtime.settings
    async with runtime.sessions.begin() as db:
        session = await sessions.load_or_start(db, settings, request)
        user = await accounts.signed_in_user(db, session)
    if user is not None:
        return redirect("/account")
    response = render(request, "web/login.html", session=session)
    sessions.apply_cookie(response, settings, session)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    runtime = get_runtime(request)
    checked = await checked_form(request, runtime)
    if isinstance(checked, Response):
        return checked
    form, session = checked
    parsed = forms.parse_login(form)

    def again(status_code: int, message: str | None = None) -> Response:
        return render(
            request,
            "web/login.html",
            session=session,
            errors=parsed.errors,
            values=parsed.echo,
            message=message,
            status_code=status_code,
        )

    credentials = parsed.value
    if credentials is None:
        return again(400)
    ip = client_ip(request)
    async with runtime.sessions() as db:
        wait = await throttle.seconds_blocked(db, credentials.email, ip, clock.now())
    if wait:
        async with runtime.sessions.begin() as db:
            await audit.record(
                db, audit.LOGIN_THROTTLED, user_id=None, ip=ip, email=credentials.email
            )
        response = again(429, TOO_MANY_TRIES.format(seconds=wait))
        response.headers["Retry-After"] = str(wait)
        return response
    user = await _authenticate(runtime, credentials)
    if user is None:
        await _count_failure(runtime, credentials.email, ip)
        return again(400, WRONG_CREDENTIALS)

    # A new token as soon as the password is right: a cookie planted or copied
    # before this point can neither follow this login nor finish it.
    async with runtime.sessions.begin() as db:
        session = await sessions.renew(db, runtime.settings, session)
    response = await _second_factor(request, runtime, session, user, again)
    sessions.apply_cookie(response, runtime.settings, session)
    return response


async def _second_factor(
    request: Request,
    runtime: Runtime,
    session: SessionState,
    user: User,
    again: Callable[[int, str], Response],
) -> Response:
    """Send the push and wait for it, or go to the code form when none can go."""
    if user.authy_id is None:
        return again(409, NO_DEVICE)
    status = await service_client(runtime).user_status(user.authy_id)
    if isinstance(status, ServiceError):
        return again(502, status.message)
    if not status.registered:
        security_event("login.no_device", user_id=user.id, ip=client_ip(request))
        return await codes.start_code_login(request, runtime, session, user)

    failure = await _send_push(request, runtime, session, user)
    if failure is not None and failure.status_code == 429:
        # Pushes are paused (the person reported one) or came too often: say
        # so, and let a code finish the login instead.
        return await codes.start_code_login(
            request, runtime, session, user, notice=failure.message
        )
    if failure is not None:
        return again(502, failure.message)
    return redirect("/login/waiting")


async def _count_failure(runtime: Runtime, email: str, ip: str) -> None:
    """Count a wrong password (or unknown email) and record it for the account."""
    limits = throttle.ThrottleLimits.from_settings(runtime.settings)
    async with runtime.sessions.begin() as db:
        await throttle.record_failure(db, email, ip, clock.now(), limits)
        known = await accounts.by_email(db, email)
        await audit.record(
            db,
            audit.LOGIN_FAILED,
            user_id=known.id if known else None,
            ip=ip,
            email=email,
        )


async def _authenticate(runtime: Runtime, credentials: forms.Login) -> User | None:
    async with runtime.sessions() as db:
        user = await accounts.by_email(db, credentials.email)
    check = await passwords.check_password(
        user.password_hash if user else None, credentials.password
    )
    if user is None or not check.matches:
        return None
    async with runtime.sessions.begin() as db:
        await throttle.record_success(db, credentials.email)
    if check.new_hash is not None:
        async with runtime.sessions.begin() as db:
            await db.execute(
                update(User)
                .where(User.id == user.id)
                .values(password_hash=check.new_hash)
            )
    return user


async def _send_push(
    request: Request, runtime: Runtime, session: SessionState, user: User
) -> ServiceError | None:
    """Create the attempt, ask the service for its push, remember both."""
    assert user.authy_id is not None
    settings = runtime.settings
    now = clock.now()
    ip = client_ip(request)
    user_agent = request.headers.get("user-agent", "")

    # The attempt exists before the push does, so an answer can never arrive
    # for an attempt the database does not know yet.
    async with runtime.sessions.begin() as db:
        attempt = await attempts.create(
            db,
            user,
            now=now,
            seconds=settings.approval_seconds,
            ip=ip,
            user_agent=user_agent,
        )
    created = await service_client(runtime).request_approval(
        user.authy_id,
        message=PUSH_MESSAGE,
        details=login_details(user.email, ip, user_agent, now),
        hidden_details={"login_attempt_id": attempt.id},
        seconds_to_expire=settings.approval_seconds,
    )
    if isinstance(created, ServiceError):
        return created

    session.data["attempt_id"] = attempt.id
    async with runtime.sessions() as db:
        await db.execute(
            update(LoginAttempt)
            .where(LoginAttempt.id == attempt.id)
            .values(approval_uuid=created.uuid, number_match=created.number_match)
        )
        # This push withdrew any older one of the person's from the phone:
        # tell the pages still waiting on those, in this same transaction.
        for older in await attempts.mark_replaced(db, attempt, clock.now()):
            await runtime.bus.publish_in(db, attempts.topic(older))
        await sessions.save_data(db, session)
        await audit.record(
            db, audit.PUSH_REQUESTED, user_id=user.id, ip=ip, attempt=attempt.id[:8]
        )
        await runtime.bus.commit(db)
    return None


@router.get("/login/waiting")
async def waiting(request: Request) -> Response:
    runtime = get_runtime(request)
    async with runtime.sessions() as db:
        session = await sessions.load(db, request)
        attempt = (
            await db.get(LoginAttempt, session.attempt_id)
            if session is not None and session.attempt_id is not None
            else None
        )
    if session is None or session.attempt_id is None:
        return redirect("/login")
    if session.user_id is not None:
        return redirect("/account")
    return render(
        request,
        "web/waiting.html",
        session=session,
        approval_seconds=runtime.settings.approval_seconds,
        number_match=attempt.number_match if attempt is not None else None,
    )


@router.post("/login/complete")
async def complete(request: Request) -> Response:
    runtime = get_runtime(request)
    settings = runtime.settings
    async with runtime.sessions.begin() as db:
        session = await sessions.load(db, request)
        if session is None or not csrf.valid(session, csrf.header_token(request)):
            return csrf.refusal(request, json=True)
        attempt_id = session.attempt_id
        if attempt_id is None:
            return _not_completed("unknown")

        completion = await attempts.complete(db, attempt_id, clock.now())
        if completion.user_id is None:
            return _not_completed(completion.status)
        new_session = await sessions.rotate(db, settings, session, completion.user_id)
        await audit.record(
            db,
            audit.LOGIN_SUCCEEDED,
            user_id=completion.user_id,
            ip=client_ip(request),
            attempt=attempt_id[:8],
        )

    response = JSONResponse({"ok": True, "next": "/account"})
    sessions.apply_cookie(response, settings, new_session)
    return response


def _not_completed(status: str) -> JSONResponse:
    message = _NOT_COMPLETED.get(status, _NOT_COMPLETED["unknown"])
    return JSONResponse(
        {"ok": False, "status": status, "message": message}, status_code=409
    )
