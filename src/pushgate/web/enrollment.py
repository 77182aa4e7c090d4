"""Enrolling a phone: the link, its page, and noticing when the phone is in.

``POST /account/enroll`` asks the service for a one-time enrollment link,
keeps it in the server-side session with the phones enrolled so far, and
redirects to ``GET /account/enroll``, which shows it as a QR code (so a
reload shows the same link instead of making another). The page follows
``GET /account/enroll/events``: subscribe to the person's service-user topic,
then ask the service for the phones, then wait; when a phone that was not
there before appears, the stream says ``enrolled`` and the page moves on to
the account page, which shows the recovery codes.

The bus carries only a topic; what changed is always read from the service
over its API. The service publishes that topic when a phone enrolls; a
service elsewhere (without a shared bus) never wakes the stream, and the
page then waits for the person to go on by the link it shows.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import segno
from fastapi import APIRouter
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from pushgate import clock
from pushgate.db.models import User
from pushgate.logs import security_event
from pushgate.runtime import Runtime, get_runtime
from pushgate.sse import EventStream, ServerSentEvent
from pushgate.web import accounts, sessions
from pushgate.web._http import (
    client_ip,
    redirect,
    signed_in,
    signed_in_form,
)
from pushgate.web.service_client import ServiceError, service_client
from pushgate.web.sessions import SessionState
from pushgate.web.templating import render

router = APIRouter(include_in_schema=False)

#: The session key of the link being shown.
SESSION_KEY = "enrollment"
ENROLLED = "enrolled"
EXPIRED = "expired"
NOT_REGISTERED = (
    "This account is not registered with the approval service, so no phone can "
    "be enrolled for it; create a new account to enroll a phone."
)


def service_user_topic(authy_id: int) -> str:
    """The topic on which the approval service announces a user's changes
    (a phone enrolled, a request made or answered), when it shares our bus."""
    return f"service-user:{authy_id}"


@dataclass(frozen=True, slots=True)
class PendingLink:
    """An enrollment link kept in the session while its page is shown."""

    url: str
    expires_at: datetime
    #: The ids of the phones enrolled when the link was made.
    known_devices: frozenset[str]

    @classmethod
    def from_session(cls, session: SessionState | None) -> PendingLink | None:
        stored = session.data.get(SESSION_KEY) if session is not None else None
        if not isinstance(stored, dict):
            return None
        expires_at = _parse_time(stored.get("expires_at"))
        url, known = stored.get("url"), stored.get("known_devices")
        if expires_at is None or not isinstance(url, str):
            return None
        if not isinstance(known, list):
            return None
        return cls(url, expires_at, frozenset(str(device) for device in known))

    def to_session(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "expires_at": self.expires_at.isoformat(),
            "known_devices": sorted(self.known_devices),
        }

    def live(self, now: datetime) -> bool:
        return now < self.expires_at

    def __repr__(self) -> str:
        # The link holds a one-time token.
        return f"PendingLink(expires_at={self.expires_at.isoformat()})"


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


async def _device_ids(runtime: Runtime, authy_id: int) -> frozenset[str] | ServiceError:
    devices = await service_client(runtime).devices(authy_id)
    if isinstance(devices, ServiceError):
        return devices
    return frozenset(str(device.get("id", "")) for device in devices)


@router.post("/account/enroll")
async def make_link(request: Request) -> Response:
    runtime = get_runtime(request)
    checked = await signed_in_form(request, runtime)
    if isinstance(checked, Response):
        return checked
    _, session, user = checked
    if user.authy_id is None:
        return _page(request, session, user, message=NOT_REGISTERED, status_code=409)

    known = await _device_ids(runtime, user.authy_id)
    if isinstance(known, ServiceError):
        return _page(request, session, user, message=known.message, status_code=502)
    link = await service_client(runtime).enrollment_link(user.authy_id)
    if isinstance(link, ServiceError):
        return _page(request, session, user, message=link.message, status_code=502)
    expires_at = _parse_time(link.expires_at)
    if expires_at is None:
        message = "The approval service sent an enrollment link without its expiry."
        return _page(request, session, user, message=message, status_code=502)

    pending = PendingLink(link.url, expires_at, known)
    session.data[SESSION_KEY] = pending.to_session()
    async with runtime.sessions.begin() as db:
        await sessions.save_data(db, session)
    security_event("enrollment.link_created", user_id=user.id, ip=client_ip(request))
    return redirect("/account/enroll")


@router.get("/account/enroll")
async def link_page(request: Request) -> Response:
    runtime = get_runtime(request)
    signed = await signed_in(request, runtime)
    if isinstance(signed, Response):
        return signed
    session, user = signed

    pending = PendingLink.from_session(session)
    if pending is not None and user.authy_id is not None:
        now_known = await _device_ids(runtime, user.authy_id)
        used = (
            not isinstance(now_known, ServiceError)
            and not now_known <= pending.known_devices
        )
        if used or not pending.live(clock.now()):
            await _forget(runtime, session)
            if used:
                # The phone is in: the account page shows the recovery codes.
                return redirect("/account")
            pending = None
    return _page(request, session, user, pending=pending)


async def _forget(runtime: Runtime, session: SessionState) -> None:
    session.data.pop(SESSION_KEY, None)
    async with runtime.sessions.begin() as db:
        await sessions.save_data(db, session)


def _page(
    request: Request,
    session: SessionState,
    user: User,
    *,
    pending: PendingLink | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    link = None
    if pending is not None:
        link = {
            "url": pending.url,
            "expires_at": pending.expires_at.isoformat(),
            "expires_text": pending.expires_at.astimezone(UTC).strftime("%H:%M UTC"),
            "svg": _qr_svg(pending.url),
        }
    return render(
        request,
        "web/enroll.html",
        session=session,
        user=user,
        link=link,
        message=message,
        status_code=status_code,
    )


def _qr_svg(url: str) -> Markup:
    """The link as an inline SVG QR code (markup, not script)."""
    svg = segno.make(url, error="m").svg_inline(
        scale=5,
        border=2,
        dark="#111",
        light="#fff",
        title="QR code that enrolls your phone",
        svgclass="qr",
        omitsize=True,
    )
    # segno draws the SVG from the link's bits; none of the link's text is in it.
    return Markup(svg)  # noqa: S704


@router.get("/account/enroll/events")
async def enrollment_events(request: Request) -> Response:
    runtime = get_runtime(request)
    # Read once, write never: the stream must not race the session's writers.
    async with runtime.sessions() as db:
        session = await sessions.load(db, request)
        user = await accounts.signed_in_user(db, session)
    pending = PendingLink.from_session(session)
    if user is None or user.authy_id is None or pending is None:
        # A non-200 answer makes EventSource stop instead of reconnecting.
        return PlainTextResponse(
            "No enrollment link is waiting for a phone here; make a new one.",
            status_code=404,
        )
    return EventStream(
        _until_enrolled(runtime, user.authy_id, pending),
        registry=runtime.streams,
        heartbeat_seconds=runtime.settings.sse_heartbeat_seconds,
        retry_ms=runtime.settings.sse_retry_ms,
    )


def _event(name: str) -> ServerSentEvent:
    data = {"next": "/account"} if name == ENROLLED else {}
    return ServerSentEvent(event=name, data=json.dumps(data))


async def _until_enrolled(
    runtime: Runtime, authy_id: int, pending: PendingLink
) -> AsyncIterator[ServerSentEvent]:
    """``enrolled`` once a new phone is in, or ``expired`` when the link is."""
    with runtime.bus.subscribe(service_user_topic(authy_id)) as subscription:
        while True:
            devices = await _device_ids(runtime, authy_id)
            # A service that cannot answer now may answer at the next wake.
            if not isinstance(devices, ServiceError) and not (
                devices <= pending.known_devices
            ):
                yield _event(ENROLLED)
                return
            left = (pending.expires_at - clock.now()).total_seconds()
            if left <= 0:
                yield _event(EXPIRED)
                return
            await subscription.wait(timeout=left)
