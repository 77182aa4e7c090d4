"""Sign-up: each bad field gets its own clear message beside it."""

from __future__ import annotations

import re
import secrets
import time

import pytest
from sqlalchemy import select

from pushgate import clock
from pushgate.db.models import LoginThrottle, User
from pushgate.security import throttle
from pushgate.web import forms, signup_limit
from tests.web.conftest import client_address, csrf_from

GOOD = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "password": "analytical engine",
    "country_code": "+44",
    "phone": "(020) 7946-0000",
}


def errors_on_page(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-error-for="([a-z_]+)">([^<]*)<', html))


def test_good_values_are_cleaned() -> None:
    parsed = forms.parse_signup({**GOOD, "email": " Ada@Example.COM "})
    assert parsed.errors == {}
    assert parsed.value == forms.Signup(
        name="Ada Lovelace",
        email="ada@example.com",
        password="analytical engine",
        country_code="44",
        phone="02079460000",
    )


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("name", "", "Enter your name."),
        ("name", "x" * 101, "Your name has 101 characters; use at most 100."),
        ("email", "", "Enter your email address."),
        ("email", "ada.example.com", "'ada.example.com' is not an email address"),
        ("password", "", "Choose a password."),
        ("password", "short", "Your password has 5 characters; use at least 10."),
        ("country_code", "", "Enter your country calling code"),
        ("country_code", "uk", "'uk' is not a country calling code"),
        ("phone", "", "Enter your mobile phone number."),
        ("phone", "12ab", "'12ab' is not a phone number; enter 6 to 15 digits"),
    ],
)
def test_each_bad_field_gets_its_message(field, value, expected) -> None:
    parsed = forms.parse_signup({**GOOD, field: value})
    assert parsed.value is None
    assert list(parsed.errors) == [field]
    assert parsed.errors[field].startswith(expected)


def test_the_page_shows_every_message_beside_its_field(site) -> None:
    with site.client() as client:
        page = client.get("/signup")
        csrf = csrf_from(page.text)
        response = client.post(
            "/signup",
            data={
                "csrf_token": csrf,
                "name": "",
                "email": "nope",
                "password": "short",
                "country_code": "x",
                "phone": "1",
            },
        )

    assert response.status_code == 400
    shown = errors_on_page(response.text)
    assert set(shown) == {"name", "email", "password", "country_code", "phone"}
    assert shown["name"] == "Enter your name."
    # Entered values come back, except the password.
    assert 'value="nope"' in response.text
    assert "short" not in response.text.replace(shown["password"], "")


def test_an_email_already_used_is_refused(site) -> None:
    user = site.make_user()
    with site.client() as client:
        page = client.get("/signup")
        csrf = csrf_from(page.text)
        response = client.post(
            "/signup", data={**GOOD, "email": user.email.upper(), "csrf_token": csrf}
        )

    assert response.status_code == 400
    assert errors_on_page(response.text)["email"] == (
        f"An account with {user.email} already exists; log in instead."
    )


def test_signing_up_registers_with_the_service_and_signs_in(site) -> None:
    email = f"new-{id(object())}@example.com"
    with site.client() as client:
        page = client.get("/signup")
        before = client.cookies["pushgate_session"]
        csrf = csrf_from(page.text)
        response = client.post(
            "/signup",
            data={**GOOD, "email": email, "phone": "7700900123", "csrf_token": csrf},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/account"
        after = client.cookies["pushgate_session"]
        account = client.get("/account")

    assert after != before
    assert site.session_row(before) is None
    assert account.status_code == 200
    assert "Ada Lovelace" in account.text

    async def load() -> User:
        async with site.runtime.sessions() as db:
            return await db.scalar(select(User).where(User.email == email))

    user = site.run(load)
    assert user.authy_id is not None
    assert user.password_hash.startswith("$argon2id$")
    assert user.phone == "7700900123" and user.country_code == "44"


def post_signup(site, email: str, headers: dict[str, str]):
    with site.client() as client:
        csrf = csrf_from(client.get("/signup").text)
        return client.post(
            "/signup",
            headers=headers,
            data={
                **GOOD,
                "email": email,
                "phone": str(4_190_000_000 + secrets.randbelow(10**7)),
                "csrf_token": csrf,
            },
            follow_redirects=False,
        )


def test_refused_signups_from_one_address_are_slowed_down(site) -> None:
    taken = site.make_user().email
    address = client_address()
    for _ in range(signup_limit.FREE_PER_ADDRESS):
        assert post_signup(site, taken, address).status_code == 400
    # The first one past the free ones blocks for 1 s (the next, 2 s ...).
    answers = [post_signup(site, taken, address).status_code for _ in range(3)]
    assert answers[0] == 400 and 429 in answers

    # Blocked now, even for an email no account has; elsewhere nothing changed.
    blocked = post_signup(site, f"new-{secrets.token_hex(4)}@example.com", address)
    assert blocked.status_code == 429
    assert blocked.headers["retry-after"] in ("1", "2")
    assert "Too many sign-ups that made no account came from this network" in (
        blocked.text
    )
    assert post_signup(site, taken, client_address()).status_code == 400

    # The address's login count is its own, apart from this.
    async def login_wait() -> int:
        async with site.runtime.sessions() as db:
            ip = address["X-Forwarded-For"]
            return await throttle.seconds_blocked(db, "x@example.com", ip, clock.now())

    assert site.run(login_wait) == 0

    time.sleep(int(blocked.headers["retry-after"]) + 0.1)
    signed_up = post_signup(site, f"new-{secrets.token_hex(4)}@example.com", address)
    assert signed_up.status_code == 303


def test_a_successful_signup_is_not_counted(site) -> None:
    address = client_address()
    for _ in range(2):
        email = f"counted-{secrets.token_hex(4)}@example.com"
        assert post_signup(site, email, address).status_code == 303

    async def count() -> object:
        async with site.runtime.sessions() as db:
            return await db.get(
                LoginThrottle, signup_limit.address_key(address["X-Forwarded-For"])
            )

    assert site.run(count) is None
