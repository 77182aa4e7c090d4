"""The site's pages: landing, sign up, account, log out."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pushgate import clock
from pushgate.db.models import User
from pushgate.logs import security_event
from pushgate.runtime import Runtime, get_runtime
from pushgate.security import account_view
from pushgate.web import (
    accounts,
    forms,
    password_change,
    passwords,
    recovery_codes,
    sessions,
    signup_limit,
)
from pushgate.web._http import (
    checked_form,
    client_ip,
    redirect,
    signed_in,
)
from pushgate.web.service_client import ServiceError, service_client
from pushgate.web.sessions import SessionState
from pushgate.web.templating import render

router = APIRouter(include_in_schema=False)

_EMAIL_TAKEN = "An account with {email} already exists; log in instead."
_TOO_MANY_SIGNUPS = (
    "Too many sign-ups that made no account came from this network; wait "
    "{seconds} seconds, then try again."
)
_PHONE_TAKEN = (
    "This phone number belongs to another account; log in to that account, or "
    "use a different number."
)


@router.get("/")
async def landing(request: Request) -> Response:
    runtime = get_runtime(request)
    async with runtime.sessions() as db:
        session = await sessions.load(db, request)
        user = await accounts.signed_in_user(db, session)
    return render(request, "web/landing.html", session=session, user=user)


@router.get("/favicon.ico")
async def favicon() -> Response:
    # Pages link the SVG; browsers still ask for /favicon.ico on pages that
    # do not (the authenticator's, the outbox) and for bookmarks.
    return RedirectResponse("/static/favicon.svg", status_code=301)


@router.get("/signup")
async def signup_form(request: Request) -> Response:
    runtime = get_runtime(request)
    settings = runtime.settings
    async with runtime.sessions.begin() as db:
        session = await sessions.load_or_start(db, settings, request)
        user = await accounts.signed_in_user(db, session)
    if user is not None:
        return redirect("/account")
    response = render(request, "web/signup.html", session=session)
    sessions.apply_cookie(response, settings, session)
    return response


@router.post("/signup")
async def signup(request: Request) -> Response:
    runtime = get_runtime(request)
    settings = runtime.settings
    checked = await checked_form(request, runtime)
    if isinstance(checked, Response):
        return checked
    form, session = checked

    parsed = forms.parse_signup(form)

    def again(status_code: int, message: str | None = None) -> Response:
        return render(
            request,
            "web/signup.html",
            session=session,
            errors=parsed.errors,
            values=parsed.echo,
            message=message,
            status_code=status_code,
        )

    signup = parsed.value
    if signup is None:
        return again(400)
    ip = client_ip(request)
    async with runtime.sessions() as db:
        wait = await signup_limit.seconds_blocked(db, ip, clock.now())
    if wait:
        security_event("signup.throttled", ip=ip)
        response = again(429, _TOO_MANY_SIGNUPS.format(seconds=wait))
        response.headers["Retry-After"] = str(wait)
        return response

    outcome = await _register(runtime, session, signup)
    if isinstance(outcome, SessionState):
        security_event("signup", user_id=outcome.user_id, ip=ip)
        response = redirect("/account")
        sessions.apply_cookie(response, settings, outcome)
        return response

    if not isinstance(outcome, ServiceError) or outcome.field_errors:
        # No account, and the answer says why (not a failing service): count
        # it, see signup_limit.
        async with runtime.sessions.begin() as db:
            await signup_limit.record_refusal(db, ip, clock.now(), settings)
    if outcome == "email":
        parsed.errors["email"] = _EMAIL_TAKEN.format(email=signup.email)
        return again(400)
    if outcome == "phone":
        security_event("signup.phone_in_use", ip=ip)
        parsed.errors["phone"] = _PHONE_TAKEN
        return again(400)
    parsed.errors.update(outcome.field_errors)
    return again(400 if outcome.field_errors else 502, outcome.message)


async def _register(
    runtime: Runtime, session: SessionState, signup: forms.Signup
) -> SessionState | accounts.Taken | ServiceError:
    """Register the person with the service and create the account, signed in;
    or what another account already has, or the service's refusal."""
    async with runtime.sessions() as db:
        taken = await _taken(db, signup)
    if taken is not None:
        return taken

    authy_id = await service_client(runtime).register_user(
        signup.email, signup.country_code, signup.phone
    )
    if isinstance(authy_id, ServiceError):
        return authy_id
    # The service may write numbers differently from the site (or match more
    # ways of writing one): its user id is what must not be shared.
    async with runtime.sessions() as db:
        if await accounts.service_user_in_use(db, authy_id):
            return "phone"

    password_hash = await passwords.hash_password(signup.password)
    async with runtime.sessions.begin() as db:
        user = await accounts.create(db, signup, password_hash, authy_id)
        if not isinstance(user, User):
            return user
        # Signing up signs in: a new session, so no earlier token carries over.
        return await sessions.rotate(db, runtime.settings, session, user.id)


async def _taken(db: AsyncSession, signup: forms.Signup) -> accounts.Taken | None:
    """What of the sign-up another account already has, checked by the site."""
    if await accounts.by_email(db, signup.email) is not None:
        return "email"
    if await accounts.phone_in_use(db, signup.country_code, signup.phone):
        return "phone"
    return None


@router.get("/account")
async def account(request: Request) -> Response:
    runtime = get_runtime(request)
    signed = await signed_in(request, runtime)
    if isinstance(signed, Response):
        return signed
    session, user = signed
    notice = await _take_notice(runtime, session)

    enrolled: bool | None = None
    if user.authy_id is not None:
        status = await service_client(runtime).user_status(user.authy_id)
        enrolled = None if isinstance(status, ServiceError) else status.registered
    recovery = await recovery_codes.account_view(runtime, user, enrolled=bool(enrolled))
    security = await account_view.load(runtime, user)
    return _account_page(
        request,
        session,
        user,
        enrolled=enrolled,
        recovery=recovery,
        security=security,
        notice=notice,
    )


async def _take_notice(runtime: Runtime, session: SessionState) -> str | None:
    """The account page's one-time notice (such as "password changed")."""
    notice = session.data.pop(password_change.ACCOUNT_NOTICE, None)
    if notice is None:
        return None
    async with runtime.sessions.begin() as db:
        await sessions.save_data(db, session)
    return str(notice)


def _account_page(
    request: Request,
    session: SessionState | None,
    user: User,
    *,
    enrolled: bool | None = None,
    message: str | None = None,
    status_code: int = 200,
    recovery: recovery_codes.RecoveryView | None = None,
    security: account_view.SecurityView | None = None,
    notice: str | None = None,
) -> Response:
    return render(
        request,
        "web/account.html",
        session=session,
        user=user,
        enrolled=enrolled,
        message=message,
        status_code=status_code,
        recovery=recovery,
        security=security,
        notice=notice,
    )


@router.post("/logout")
async def logout(request: Request) -> Response:
    runtime = get_runtime(request)
    checked = await checked_form(request, runtime)
    if isinstance(checked, Response):
        return checked
    _, session = checked

    async with runtime.sessions.begin() as db:
        await sessions.end(db, session)
    if session.user_id is not None:
        security_event("logout", user_id=session.user_id, ip=client_ip(request))

    response = redirect("/")
    sessions.clear_cookie(response, runtime.settings)
    return response
