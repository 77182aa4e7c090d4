"""Small request helpers shared by the site's routes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pushgate.db.models import User
from pushgate.runtime import Runtime
from pushgate.security.proxy import request_view
from pushgate.web import accounts, csrf, sessions
from pushgate.web.forms import FormInput, read_form
from pushgate.web.sessions import SessionState


def client_ip(request: Request) -> str:
    """The client's address, read through trusted proxies (PUSHGATE_TRUSTED_PROXIES)."""
    return request_view(request).address


def redirect(url: str) -> RedirectResponse:
    """A 303, so the browser follows a form post with a plain GET."""
    return RedirectResponse(url, status_code=303)


async def checked_form(
    request: Request, runtime: Runtime
) -> tuple[FormInput, SessionState] | Response:
    """The posted form and its session, or the refusal when CSRF fails.

    Every form of the site is read here, so none of its fields can carry a
    control character further (see :func:`pushgate.web.forms.read_form`).
    """
    async with request.form() as posted:
        form = read_form(posted)
    async with runtime.sessions() as db:
        session = await sessions.load(db, request)
    if session is None or not csrf.valid(session, form.get(csrf.FIELD_NAME)):
        return csrf.refusal(request)
    return form, session


async def signed_in(
    request: Request, runtime: Runtime
) -> tuple[SessionState, User] | Response:
    """The session and its signed-in person, or a redirect to the login page."""
    async with runtime.sessions() as db:
        session = await sessions.load(db, request)
        user = await accounts.signed_in_user(db, session)
    if session is None or user is None:
        return redirect("/login")
    return session, user


async def signed_in_form(
    request: Request, runtime: Runtime
) -> tuple[FormInput, SessionState, User] | Response:
    """A CSRF-checked form from a signed-in person, or the refusal or redirect."""
    checked = await checked_form(request, runtime)
    if isinstance(checked, Response):
        return checked
    form, session = checked
    async with runtime.sessions() as db:
        user = await accounts.signed_in_user(db, session)
    if user is None:
        return redirect("/login")
    return form, session, user
