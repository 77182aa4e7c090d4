"""Logging in: one message for any wrong credential, and only the completion
request of the approved attempt's own session signs in."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import update

from pushgate import clock
from pushgate.db.models import LoginAttempt
from pushgate.web import login
from pushgate.web.passwords import hash_password
from tests.web.conftest import PASSWORD, csrf_from


def post_login(site, email: str, password: str):
    with site.client() as client:
        csrf = csrf_from(client.get("/login").text)
        return client.post(
            "/login",
            data={"csrf_token": csrf, "email": email, "password": password},
            follow_redirects=False,
        )


def complete(site, waiting, token: str | None = None):
    with site.client(token or waiting.token) as client:
        return client.post("/login/complete", headers={"X-CSRF-Token": waiting.csrf})


def make_user_with_password(site):
    return site.make_user(password_hash=site.run(lambda: hash_password(PASSWORD)))


def test_wrong_email_and_wrong_password_get_the_same_answer(site) -> None:
    user = make_user_with_password(site)

    wrong_password = post_login(site, user.email, PASSWORD + "!")
    unknown_email = post_login(site, "nobody-" + user.email, PASSWORD)

    for response in (wrong_password, unknown_email):
        assert response.status_code == 400
        assert login.WRONG_CREDENTIALS in response.text
    strip = re.compile(r'(value|content)="[^"]*"')
    assert strip.sub("", wrong_password.text) == strip.sub("", unknown_email.text)


def test_missing_fields_are_named(site) -> None:
    response = post_login(site, "", "")
    assert response.status_code == 400
    assert 'data-error-for="email">Enter the email address you signed up with.' in (
        response.text
    )
    assert 'data-error-for="password">Enter your password.' in response.text


def test_a_user_without_an_enrolled_phone_is_told_so_and_offered_codes(site) -> None:
    email = f"nodevice-{secrets.token_hex(4)}@example.com"
    with site.client() as client:
        csrf = csrf_from(client.get("/signup").text)
        signed_up = client.post(
            "/signup",
            data={
                "csrf_token": csrf,
                "name": "No Device",
                "email": email,
                "password": PASSWORD,
                "country_code": "1",
                "phone": str(5_550_000_000 + secrets.randbelow(10**6)),
            },
            follow_redirects=False,
        )
    assert signed_up.status_code == 303, signed_up.text

    with site.client() as client:
        csrf = csrf_from(client.get("/login").text)
        response = client.post(
            "/login",
            data={"csrf_token": csrf, "email": email, "password": PASSWORD},
            follow_redirects=True,
        )

    # Told why, and sent on to the code form: the next step that works.
    assert response.status_code == 200
    assert str(response.url).endswith("/login/code")
    assert "No phone is enrolled to approve your logins" in response.text


def test_a_right_password_renews_the_session_token(site) -> None:
    user = make_user_with_password(site)
    with site.client() as client:
        csrf = csrf_from(client.get("/login").text)
        before = client.cookies["pushgate_session"]
        client.post(
            "/login",
            data={"csrf_token": csrf, "email": user.email, "password": PASSWORD},
        )
        after = client.cookies["pushgate_session"]

    assert after != before
    assert site.session_row(before) is None
    renewed = site.session_row(after)
    assert renewed.user_id is None
    assert renewed.data["csrf"] != csrf


def test_the_waiting_page_needs_a_waiting_login(site) -> None:
    token, _ = site.make_session()
    with site.client(token) as client:
        response = client.get("/login/waiting", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"

    waiting = site.make_waiting()
    with site.client(waiting.token) as client:
        page = client.get("/login/waiting")
    assert page.status_code == 200
    assert 'data-status-url="/authy/live_status"' in page.text
    assert '<script src="/static/login.js" defer></script>' in page.text
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) is None
    assert " on" + "click=" not in page.text


def test_completion_signs_in_an_approved_attempt_once(site) -> None:
    waiting = site.make_waiting()
    assert site.post_callback(site.callback_body(waiting)).status_code == 200

    with site.client(waiting.token) as client:
        response = client.post(
            "/login/complete", headers={"X-CSRF-Token": waiting.csrf}
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"ok": True, "next": "/account"}
        new_token = client.cookies["pushgate_session"]
        account = client.get("/account", follow_redirects=False)

    assert account.status_code == 200
    assert new_token != waiting.token
    assert site.session_row(waiting.token) is None
    row = site.session_row(new_token)
    assert row.user_id == waiting.user_id
    assert "attempt_id" not in row.data
    assert row.data["csrf"] != waiting.csrf
    assert site.attempt(waiting.attempt_id).used_at is not None

    # The old session is gone, so the same request cannot be made again.
    again = complete(site, waiting)
    assert again.status_code == 403


def test_completion_refuses_what_was_not_approved(site) -> None:
    pending = site.make_waiting()
    denied = site.make_waiting()
    site.post_callback(site.callback_body(denied, "denied"))

    for waiting, status in ((pending, "pending"), (denied, "denied")):
        response = complete(site, waiting)
        assert response.status_code == 409
        body = response.json()
        assert body["ok"] is False and body["status"] == status
        assert body["message"]
        assert site.session_row(waiting.token).user_id is None


def test_completion_refuses_an_approval_that_came_too_late(site) -> None:
    waiting = site.make_waiting()
    site.post_callback(site.callback_body(waiting))

    async def expire() -> None:
        async with site.runtime.sessions.begin() as db:
            await db.execute(
                update(LoginAttempt)
                .where(LoginAttempt.id == waiting.attempt_id)
                .values(expires_at=clock.now())
            )

    site.run(expire)
    response = complete(site, waiting)
    assert response.status_code == 409
    assert response.json()["status"] == "expired"


def test_approving_one_attempt_never_signs_in_another(site) -> None:
    user = site.make_user()
    first = site.make_waiting(user)
    second = site.make_waiting(user)
    assert site.post_callback(site.callback_body(first)).status_code == 200

    refused = complete(site, second)
    assert refused.status_code == 409
    assert refused.json()["status"] == "pending"
    assert site.attempt(second.attempt_id).status == "pending"

    assert complete(site, first).status_code == 200
