"""Changing the password: the current one first, then everyone else is out."""

from __future__ import annotations

import re

from pushgate.db.models import User
from pushgate.web.passwords import check_password, hash_password
from tests.web.conftest import PASSWORD, csrf_from

NEW_PASSWORD = "a brand new passphrase"


def errors_on_page(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-error-for="([a-z_]+)"[^>]*>([^<]*)<', html))


def signed_in(site):
    user = site.make_user(password_hash=site.run(lambda: hash_password(PASSWORD)))
    token, _ = site.make_session(user_id=user.id)
    return user, token


def post_change(site, token: str, current: str, new: str):
    with site.client(token) as client:
        csrf = csrf_from(client.get("/account/password").text)
        return client.post(
            "/account/password",
            data={"csrf_token": csrf, "current_password": current, "new_password": new},
        )


def stored_hash(site, user_id: int) -> str:
    async def load() -> str:
        async with site.runtime.sessions() as db:
            user = await db.get(User, user_id)
            assert user is not None
            return user.password_hash

    return site.run(load)


def test_the_page_needs_a_signed_in_person(site) -> None:
    with site.client() as client:
        response = client.get("/account/password", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


def test_the_account_page_links_to_it(site) -> None:
    _, token = signed_in(site)
    with site.client(token) as client:
        account = client.get("/account")
    assert 'href="/account/password"' in account.text


def test_a_wrong_current_password_changes_nothing(site) -> None:
    user, token = signed_in(site)
    before = stored_hash(site, user.id)
    response = post_change(site, token, "not my password", NEW_PASSWORD)

    assert response.status_code == 400
    assert errors_on_page(response.text) == {
        "current_password": "That is not your current password; type it again."
    }
    assert stored_hash(site, user.id) == before
    assert site.session_row(token) is not None


def test_the_new_password_must_be_good_and_new(site) -> None:
    _, token = signed_in(site)
    short = post_change(site, token, PASSWORD, "short")
    same = post_change(site, token, PASSWORD, PASSWORD)

    assert short.status_code == 400
    assert errors_on_page(short.text)["new_password"].startswith(
        "Your password has 5 characters"
    )
    assert errors_on_page(same.text)["new_password"] == (
        "Your new password is the one you have now; choose a different one."
    )


def test_a_change_signs_out_every_other_session_and_renews_this_one(site) -> None:
    user, token = signed_in(site)
    other, _ = site.make_session(user_id=user.id)

    with site.client(token) as client:
        csrf = csrf_from(client.get("/account/password").text)
        response = client.post(
            "/account/password",
            data={
                "csrf_token": csrf,
                "current_password": PASSWORD,
                "new_password": NEW_PASSWORD,
            },
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/account"
        renewed = client.cookies["pushgate_session"]
        account = client.get("/account")
        again = client.get("/account")

    assert renewed != token
    assert site.session_row(token) is None
    assert site.session_row(other) is None
    assert site.session_row(renewed).user_id == user.id
    assert "Your password is changed" in account.text
    assert "Your password is changed" not in again.text
    new_hash = stored_hash(site, user.id)
    assert site.run(lambda: check_password(new_hash, NEW_PASSWORD)).matches
    assert not site.run(lambda: check_password(new_hash, PASSWORD)).matches
