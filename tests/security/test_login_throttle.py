"""Password guessing over HTTP: delays per account and per address, and the
same answer, in about the same time, for an unknown email as for a wrong
password."""

from __future__ import annotations

import secrets
import statistics
import time

import httpx
import pytest
from sqlalchemy import select

from pushgate.db.models import SecurityEvent
from pushgate.web.login import WRONG_CREDENTIALS
from pushgate.web.passwords import hash_password
from tests.security.conftest import LIMITS, client_address
from tests.web.conftest import PASSWORD, Site, csrf_from


@pytest.fixture(scope="module")
def site(secure_server) -> Site:
    return Site(secure_server)


def try_login(site: Site, email: str, password: str, address: str) -> httpx.Response:
    headers = {"X-Forwarded-For": address}
    with site.client() as client:
        csrf = csrf_from(client.get("/login", headers=headers).text)
        return client.post(
            "/login",
            data={"csrf_token": csrf, "email": email, "password": password},
            headers=headers,
            follow_redirects=False,
        )


def user_with_password(site: Site):
    return site.make_user(password_hash=site.run(lambda: hash_password(PASSWORD)))


def events_for(site: Site, user_id: int) -> list[SecurityEvent]:
    async def load() -> list[SecurityEvent]:
        async with site.runtime.sessions() as db:
            rows = await db.scalars(
                select(SecurityEvent).where(SecurityEvent.user_id == user_id)
            )
            return list(rows)

    return site.run(load)


def test_an_account_is_blocked_after_its_free_failures(site: Site) -> None:
    user = user_with_password(site)
    free = LIMITS["login_free_failures_per_account"]
    # Each guess from another address: only the account's count grows.
    for _ in range(free + 1):
        response = try_login(site, user.email, "wrong guess", client_address())
        assert response.status_code == 400
        assert WRONG_CREDENTIALS in response.text

    blocked = try_login(site, user.email, PASSWORD, client_address())
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) >= 1
    assert "Too many wrong passwords" in blocked.text
    # The right password waits like any other until the delay has passed.
    time.sleep(int(blocked.headers["Retry-After"]) + 0.2)
    assert try_login(site, user.email, PASSWORD, client_address()).status_code != 429

    failed = [e for e in events_for(site, user.id) if e.event == "login_failed"]
    assert len(failed) == free + 1
    assert all("password" not in e.detail for e in failed)


def test_unknown_emails_are_blocked_the_same_way(site: Site) -> None:
    email = f"nobody-{secrets.token_hex(4)}@example.com"
    for _ in range(LIMITS["login_free_failures_per_account"] + 1):
        assert try_login(site, email, "guess", client_address()).status_code == 400
    blocked = try_login(site, email, "guess", client_address())
    assert blocked.status_code == 429 and "Too many wrong passwords" in blocked.text


def test_an_address_is_blocked_across_emails(site: Site) -> None:
    address = client_address()
    for _ in range(LIMITS["login_free_failures_per_address"] + 1):
        email = f"spray-{secrets.token_hex(4)}@example.com"
        assert try_login(site, email, "guess", address).status_code == 400
    fresh = f"spray-{secrets.token_hex(4)}@example.com"
    assert try_login(site, fresh, "guess", address).status_code == 429
    # Another address is not affected.
    assert try_login(site, fresh, "guess", client_address()).status_code == 400


def test_unknown_email_and_wrong_password_take_about_as_long(site: Site) -> None:
    user = user_with_password(site)

    def timed(email: str) -> float:
        started = time.perf_counter()
        response = try_login(site, email, "not the password", client_address())
        elapsed = time.perf_counter() - started
        assert response.status_code == 400
        return elapsed

    unknown_email = f"nobody-{secrets.token_hex(4)}@example.com"
    # Warm up both paths (the stand-in hash is made on first use).
    timed(unknown_email)
    known, unknown = [], []
    for _ in range(3):
        known.append(timed(user.email))
        unknown.append(timed(unknown_email))
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.6 < ratio < 1.67, (known, unknown)
