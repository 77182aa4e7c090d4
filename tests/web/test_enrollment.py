"""Enrolling a phone: POST makes a link and redirects, GET shows it (a reload
shows the same one), and a stream says when the phone is in."""

from __future__ import annotations

import json
import re
import secrets
from datetime import timedelta

from httpx_sse import connect_sse
from sqlalchemy import func, select

from pushgate import clock
from pushgate.db.models import ServiceDevice, ServiceEnrollment, User, WebSession
from pushgate.web import enrollment, sessions
from tests.web.conftest import PASSWORD, csrf_from


def signed_up(site) -> tuple[str, User]:
    """A new account registered with the service, signed in; its session token."""
    email = f"enroll-{secrets.token_hex(4)}@example.com"
    with site.client() as client:
        csrf = csrf_from(client.get("/signup").text)
        response = client.post(
            "/signup",
            data={
                "csrf_token": csrf,
                "name": "Enrolling Person",
                "email": email,
                "password": PASSWORD,
                "country_code": "1",
                "phone": str(4_180_000_000 + secrets.randbelow(10**7)),
            },
        )
        assert response.status_code == 303, response.text
        token = client.cookies["pushgate_session"]

    async def load() -> User:
        async with site.runtime.sessions() as db:
            return await db.scalar(select(User).where(User.email == email))

    return token, site.run(load)


def make_link(site, token: str):
    with site.client(token) as client:
        csrf = csrf_from(client.get("/account").text)
        return client.post("/account/enroll", data={"csrf_token": csrf})


def link_on(html: str) -> str | None:
    found = re.search(r'data-role="enrollment-link"[^>]*>([^<]+)<', html)
    return found.group(1) if found else None


def links_made(site, authy_id: int) -> int:
    async def count() -> int:
        async with site.runtime.sessions() as db:
            return int(
                await db.scalar(
                    select(func.count())
                    .select_from(ServiceEnrollment)
                    .where(ServiceEnrollment.user_id == authy_id)
                )
                or 0
            )

    return site.run(count)


def enroll_device(site, authy_id: int) -> None:
    """A phone enrolls, as the service records it: the device and its topic."""

    async def create() -> None:
        async with site.runtime.sessions() as db:
            db.add(
                ServiceDevice(
                    id=secrets.token_hex(16),
                    user_id=authy_id,
                    name="test phone",
                    public_key="unused",
                    token_hash=secrets.token_hex(32),
                    created_at=clock.now(),
                )
            )
            await site.runtime.bus.publish_in(
                db, enrollment.service_user_topic(authy_id)
            )
            await site.runtime.bus.commit(db)

    site.run(create)


def test_making_a_link_redirects_to_a_page_that_shows_it(site) -> None:
    token, user = signed_up(site)
    made = make_link(site, token)
    assert made.status_code == 303
    assert made.headers["location"] == "/account/enroll"

    with site.client(token) as client:
        first = client.get("/account/enroll")
        again = client.get("/account/enroll")

    assert first.status_code == 200
    link = link_on(first.text)
    assert link and link.startswith(site.base_url + "/authenticator/enroll#")
    assert re.search(r'<svg [^>]*class="qr"', first.text)
    assert 'data-events-url="/account/enroll/events"' in first.text
    # A reload shows the same link and makes none.
    assert link_on(again.text) == link
    assert links_made(site, user.authy_id) == 1


def test_the_enroll_page_without_a_link_offers_to_make_one(site) -> None:
    token, _ = signed_up(site)
    with site.client(token) as client:
        page = client.get("/account/enroll")
    assert page.status_code == 200
    assert link_on(page.text) is None
    assert 'action="/account/enroll"' in page.text
    assert "Make an enrollment link" in page.text


def test_the_enroll_page_needs_a_signed_in_person(site) -> None:
    with site.client() as client:
        response = client.get("/account/enroll", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


def test_once_the_phone_is_in_the_page_goes_to_the_account(site) -> None:
    token, user = signed_up(site)
    make_link(site, token)
    enroll_device(site, user.authy_id)

    with site.client(token) as client:
        response = client.get("/account/enroll", follow_redirects=False)
        account = client.get(response.headers["location"])
    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    assert 'data-role="recovery-list"' in account.text
    assert enrollment.SESSION_KEY not in site.session_row(token).data


def test_the_stream_says_enrolled_when_a_new_phone_appears(site) -> None:
    token, user = signed_up(site)
    make_link(site, token)
    with (
        site.client(token) as client,
        connect_sse(client, "GET", "/account/enroll/events") as source,
    ):
        assert source.response.headers["content-type"].startswith("text/event-stream")
        events = source.iter_sse()
        first = next(events)  # the retry hint: nothing has happened yet
        assert first.event == "message" and first.data == ""
        enroll_device(site, user.authy_id)
        said = [(e.event, e.data) for e in events]

    assert said == [("enrolled", json.dumps({"next": "/account"}))]


def test_a_phone_enrolled_before_the_stream_opens_is_seen_at_once(site) -> None:
    token, user = signed_up(site)
    make_link(site, token)
    enroll_device(site, user.authy_id)
    with (
        site.client(token) as client,
        connect_sse(client, "GET", "/account/enroll/events") as source,
    ):
        said = [e.event for e in source.iter_sse() if e.event != "message"]
    assert said == ["enrolled"]


def test_the_stream_says_expired_when_the_link_runs_out(site) -> None:
    token, _ = signed_up(site)
    make_link(site, token)

    async def shorten() -> None:
        async with site.runtime.sessions.begin() as db:
            row = await db.scalar(
                select(WebSession).where(
                    WebSession.token_hash == sessions.hash_token(token)
                )
            )
            data = dict(row.data)
            data[enrollment.SESSION_KEY] = {
                **data[enrollment.SESSION_KEY],
                "expires_at": (clock.now() + timedelta(seconds=0.5)).isoformat(),
            }
            row.data = data

    site.run(shorten)
    with (
        site.client(token) as client,
        connect_sse(client, "GET", "/account/enroll/events") as source,
    ):
        said = [e.event for e in source.iter_sse() if e.event != "message"]
    assert said == ["expired"]


def test_no_stream_without_a_link_waiting(site) -> None:
    token, _ = signed_up(site)
    with site.client(token) as client:
        response = client.get("/account/enroll/events")
    assert response.status_code == 404
