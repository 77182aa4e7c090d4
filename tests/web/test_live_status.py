"""GET /authy/live_status: the attempt's status, pushed as it changes."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from httpx_sse import EventSource, connect_sse
from sqlalchemy import select

from pushgate import clock
from pushgate.db.models import LoginAttempt, ServiceDevice, User
from pushgate.web import attempts, sessions
from tests.web.conftest import PASSWORD, csrf_from


@contextmanager
def live_status(site, token: str) -> Iterator[EventSource]:
    with (
        site.client(token) as client,
        connect_sse(client, "GET", "/authy/live_status") as source,
    ):
        yield source


def statuses_from(events, count: int) -> list[str]:
    found = []
    for event in events:
        if event.event == "authy_status":
            found.append(json.loads(event.data)["status"])
            if len(found) == count:
                break
    return found


def next_status(events) -> dict:
    """The data of the next ``authy_status`` event."""
    return next(json.loads(e.data) for e in events if e.event == "authy_status")


def test_it_sends_pending_then_the_answer_then_ends(site) -> None:
    waiting = site.make_waiting()
    with live_status(site, waiting.token) as source:
        response = source.response
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        events = source.iter_sse()
        assert statuses_from(events, 1) == ["pending"]

        answered = site.post_callback(site.callback_body(waiting, "approved"))
        assert answered.status_code == 200
        assert statuses_from(events, 1) == ["approved"]
        # A final status ends the stream.
        assert list(events) == []


def test_an_answer_before_the_stream_opens_is_sent_at_once(site) -> None:
    waiting = site.make_waiting()
    assert site.post_callback(site.callback_body(waiting, "denied")).status_code == 200

    with live_status(site, waiting.token) as source:
        events = list(source.iter_sse())

    assert [json.loads(e.data) for e in events if e.event == "authy_status"] == [
        {"status": "denied"}
    ]


def test_it_says_expired_when_time_runs_out(site) -> None:
    waiting = site.make_waiting(expires_in=0.5)
    started = time.monotonic()
    with live_status(site, waiting.token) as source:
        assert statuses_from(source.iter_sse(), 2) == ["pending", "expired"]
    assert time.monotonic() - started < 5


def test_the_retry_hint_comes_first(site) -> None:
    waiting = site.make_waiting()
    with (
        site.client(waiting.token) as client,
        client.stream("GET", "/authy/live_status") as response,
    ):
        first = next(response.iter_lines())
    expected = site.runtime.settings.sse_retry_ms
    assert first.replace(" ", "") == f"retry:{expected}"


def test_without_a_waiting_login_there_is_no_stream(site) -> None:
    token, _ = site.make_session()
    with site.client() as anonymous, site.client(token) as idle:
        for client in (anonymous, idle):
            response = client.get("/authy/live_status")
            assert response.status_code == 404
            assert "log in again" in response.text


def test_open_streams_hold_no_database_connection_and_write_nothing(site) -> None:
    waitings = [site.make_waiting() for _ in range(5)]
    before = {w.token: site.session_row(w.token).data for w in waitings}
    with ExitStack() as stack:
        for waiting in waitings:
            source = stack.enter_context(live_status(site, waiting.token))
            assert statuses_from(source.iter_sse(), 1) == ["pending"]
        pool = site.runtime.engine.pool
        deadline = time.monotonic() + 2
        while pool.checkedout() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.checkedout() == 0
    assert {w.token: site.session_row(w.token).data for w in waitings} == before


def enrolled_user(site):
    """A user signed up at the service with a phone enrolled there."""
    email = f"replaced-{secrets.token_hex(4)}@example.com"
    with site.client() as client:
        csrf = csrf_from(client.get("/signup").text)
        signed_up = client.post(
            "/signup",
            data={
                "csrf_token": csrf,
                "name": "Two Logins",
                "email": email,
                "password": PASSWORD,
                "country_code": "1",
                "phone": str(4_170_000_000 + secrets.randbelow(10**7)),
            },
        )
    assert signed_up.status_code == 303, signed_up.text

    async def enroll() -> None:
        async with site.runtime.sessions.begin() as db:
            authy_id = await db.scalar(select(User.authy_id).where(User.email == email))
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

    site.run(enroll)
    return email


def log_in(site, email: str) -> str:
    """Log in in a new browser, which then waits for its push; its session token."""
    with site.client() as client:
        csrf = csrf_from(client.get("/login").text)
        response = client.post(
            "/login", data={"csrf_token": csrf, "email": email, "password": PASSWORD}
        )
        assert response.headers["location"] == "/login/waiting", response.text
        return client.cookies[sessions.COOKIE_NAME]


def test_a_newer_login_tells_the_older_waiting_page_at_once(site) -> None:
    email = enrolled_user(site)
    token = log_in(site, email)
    with live_status(site, token) as source:
        events = source.iter_sse()
        assert next_status(events) == {"status": "pending"}
        second_token = log_in(site, email)
        replaced = next_status(events)

    assert replaced == {"status": "pending", "replaced": True}

    first_attempt = site.attempt(site.session_row(token).data["attempt_id"])
    second_attempt = site.attempt(site.session_row(second_token).data["attempt_id"])
    # Still waiting, so a code can finish it; the newer one is not replaced.
    assert first_attempt.status == "pending" and first_attempt.used_at is None
    assert first_attempt.replaced_at is not None
    assert second_attempt.replaced_at is None


def test_a_replaced_login_still_finishes_by_its_own_approval_only(site) -> None:
    user = site.make_user()
    older = site.make_waiting(user)
    newer = site.make_waiting(user)

    async def replace() -> list[str]:
        async with site.runtime.sessions.begin() as db:
            newest = await db.get(LoginAttempt, newer.attempt_id)
            return await attempts.mark_replaced(db, newest, clock.now())

    assert site.run(replace) == [older.attempt_id]
    # Approving the newer one leaves the older one waiting and not signed in.
    assert site.post_callback(site.callback_body(newer)).status_code == 200
    assert site.attempt(older.attempt_id).status == "pending"
    with site.client(older.token) as client:
        refused = client.post("/login/complete", headers={"X-CSRF-Token": older.csrf})
    assert refused.status_code == 409

    # The stream keeps going after "replaced": its own answer still arrives.
    with live_status(site, older.token) as source:
        events = source.iter_sse()
        first = next_status(events)
        assert site.post_callback(site.callback_body(older)).status_code == 200
        assert first == {"status": "pending", "replaced": True}
        assert statuses_from(events, 1) == ["approved"]


def test_an_older_login_never_marks_a_newer_one(site) -> None:
    user = site.make_user()
    older = site.make_waiting(user)
    newer = site.make_waiting(user)

    async def late_replace() -> list[str]:
        async with site.runtime.sessions.begin() as db:
            oldest = await db.get(LoginAttempt, older.attempt_id)
            return await attempts.mark_replaced(db, oldest, clock.now())

    assert site.run(late_replace) == []
    assert site.attempt(newer.attempt_id).replaced_at is None
