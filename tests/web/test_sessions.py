"""Server-side sessions: random cookie, hashed key, revocable, rotated."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import update
from starlette.responses import Response

from pushgate import clock
from pushgate.db.models import WebSession
from pushgate.web import sessions
from tests.conftest import make_settings


def set_cookie_header(response) -> str:
    headers = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    assert len(headers) == 1, headers
    return headers[0]


def test_a_form_page_starts_a_session_keyed_by_the_token_hash(site) -> None:
    with site.client() as client:
        response = client.get("/login")

    assert response.status_code == 200
    header = set_cookie_header(response)
    assert header.startswith(f"{sessions.COOKIE_NAME}=")
    assert "HttpOnly" in header
    assert "SameSite=lax" in header or "samesite=lax" in header.lower()
    assert "Secure" not in header
    token = response.cookies[sessions.COOKIE_NAME]
    assert len(token) >= 40

    row = site.session_row(token)
    assert row is not None
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.user_id is None
    assert row.data["csrf"] in response.text
    assert f'<meta name="csrf-token" content="{row.data["csrf"]}">' in response.text


def test_an_existing_session_is_kept_without_a_new_cookie(site) -> None:
    token, _ = site.make_session()
    with site.client(token) as client:
        response = client.get("/signup")

    assert response.status_code == 200
    assert "set-cookie" not in response.headers


def test_cookie_is_secure_when_configured(tmp_path) -> None:
    settings = make_settings(tmp_path, cookie_secure=True)
    state = sessions.SessionState(token_hash="x", user_id=None, new_token="token")
    response = Response()

    sessions.apply_cookie(response, settings, state)

    header = response.headers["set-cookie"]
    assert "Secure" in header and "HttpOnly" in header


def test_session_repr_shows_no_token(site) -> None:
    state = sessions.SessionState(
        token_hash="hash-value", user_id=3, data={"csrf": "csrf-value"}, new_token="t"
    )
    assert "hash-value" not in repr(state)
    assert "csrf-value" not in repr(state)


def test_an_unknown_or_expired_token_is_no_session(site) -> None:
    user = site.make_user()
    token, _ = site.make_session(user_id=user.id)

    async def expire() -> None:
        async with site.runtime.sessions.begin() as db:
            await db.execute(
                update(WebSession)
                .where(WebSession.token_hash == sessions.hash_token(token))
                .values(expires_at=clock.now() - timedelta(seconds=1))
            )

    with site.client(token) as client:
        assert client.get("/account").status_code == 200
        site.run(expire)
        response = client.get("/account", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"

    with site.client("made-up-token") as client:
        response = client.get("/account", follow_redirects=False)
    assert response.headers["location"] == "/login"


def test_logging_out_revokes_the_session(site) -> None:
    user = site.make_user()
    token, csrf = site.make_session(user_id=user.id)

    with site.client(token) as client:
        response = client.post(
            "/logout", data={"csrf_token": csrf}, follow_redirects=False
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/"
        assert f'{sessions.COOKIE_NAME}=""' in set_cookie_header(response)

    assert site.session_row(token) is None
    with site.client(token) as client:
        again = client.get("/account", follow_redirects=False)
    assert again.headers["location"] == "/login"
