"""Every state-changing request must carry the session's CSRF token."""

from __future__ import annotations

import pytest

from pushgate.web import csrf
from pushgate.web.sessions import SessionState

FORMS = [
    "/signup",
    "/login",
    "/logout",
    "/account/enroll",
    "/account/recovery-codes",
    "/account/password",
]


@pytest.mark.parametrize("path", FORMS)
def test_a_form_post_without_the_token_is_refused(site, path) -> None:
    user = site.make_user()
    token, _ = site.make_session(user_id=user.id)
    with site.client(token) as client:
        response = client.post(path, data={"email": "a@example.com"})

    assert response.status_code == 403
    assert "reload the page and try again" in response.text
    assert site.session_row(token) is not None


@pytest.mark.parametrize("path", FORMS)
def test_a_token_from_another_session_is_refused(site, path) -> None:
    user = site.make_user()
    token, _ = site.make_session(user_id=user.id)
    _, other_csrf = site.make_session()
    with site.client(token) as client:
        response = client.post(path, data={"csrf_token": other_csrf})

    assert response.status_code == 403


def test_a_post_without_any_session_is_refused(site) -> None:
    with site.client() as client:
        response = client.post("/login", data={"csrf_token": "anything"})
    assert response.status_code == 403


def test_logout_with_the_wrong_token_leaves_the_session_alone(site) -> None:
    user = site.make_user()
    token, _ = site.make_session(user_id=user.id)
    with site.client(token) as client:
        refused = client.post("/logout", data={"csrf_token": "wrong"})
        assert refused.status_code == 403
        assert client.get("/account", follow_redirects=False).status_code == 200


def test_login_completion_needs_the_token_in_its_header(site) -> None:
    waiting = site.make_waiting()
    with site.client(waiting.token) as client:
        missing = client.post("/login/complete")
        wrong = client.post("/login/complete", headers={"X-CSRF-Token": "nope"})
        in_form = client.post("/login/complete", data={"csrf_token": waiting.csrf})

    for response in (missing, wrong, in_form):
        assert response.status_code == 403
        assert response.json()["ok"] is False


def test_token_comparison() -> None:
    state = SessionState(token_hash="h", user_id=None, data={"csrf": "abc"})
    assert csrf.valid(state, "abc")
    assert not csrf.valid(state, "abd")
    assert not csrf.valid(state, "")
    assert not csrf.valid(state, None)
    assert not csrf.valid(None, "abc")
    assert not csrf.valid(SessionState(token_hash="h", user_id=None), "")
