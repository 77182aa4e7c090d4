"""Forged, replayed and stale callbacks are refused and change nothing."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import select

from pushgate import clock, webhook_signature
from pushgate.db.models import CallbackNonce
from tests.web.conftest import Site, new_nonce


@pytest.fixture(scope="module")
def site(secure_server) -> Site:
    return Site(secure_server)


def nonce_stored(site: Site, nonce: str) -> bool:
    async def load() -> bool:
        async with site.runtime.sessions() as db:
            found = await db.scalar(
                select(CallbackNonce.nonce).where(CallbackNonce.nonce == nonce)
            )
            return found is not None

    return site.run(load)


def test_a_forged_signature_is_refused(site: Site) -> None:
    waiting = site.make_waiting()
    nonce = new_nonce()
    forged = site.post_callback(
        site.callback_body(waiting), nonce=nonce, key="a-guessed-api-key"
    )
    assert forged.status_code == 401
    assert site.attempt(waiting.attempt_id).status == "pending"
    assert not nonce_stored(site, nonce)


def test_a_replayed_callback_is_refused(site: Site) -> None:
    waiting = site.make_waiting()
    nonce = new_nonce()
    approved = site.callback_body(waiting, "approved")
    assert site.post_callback(approved, nonce=nonce).status_code == 200
    assert site.attempt(waiting.attempt_id).status == "approved"

    # The very same request again, and the nonce with another body.
    assert site.post_callback(approved, nonce=nonce).status_code == 401
    denied = site.callback_body(waiting, "denied")
    replayed = site.post_callback(denied, nonce=nonce)
    assert replayed.status_code == 401
    assert "already used" in replayed.json()["message"]
    assert site.attempt(waiting.attempt_id).status == "approved"


def test_an_old_nonce_is_refused(site: Site) -> None:
    waiting = site.make_waiting()
    max_age = site.runtime.settings.callback_nonce_max_age_seconds
    then = clock.now() - timedelta(seconds=max_age + 30)
    old = f"{int(then.timestamp())}{secrets.randbelow(10**6):06d}"
    response = site.post_callback(site.callback_body(waiting), nonce=old)
    assert response.status_code == 401
    assert "minutes old" in response.json()["message"]
    assert site.attempt(waiting.attempt_id).status == "pending"
    assert not nonce_stored(site, old)


def post_through_proxy(site: Site, body: dict, signed_url: str, headers: dict):
    nonce = new_nonce()
    key = site.runtime.service_api_key
    signature = webhook_signature.sign(key, nonce, "POST", signed_url, body)
    with site.client() as client:
        return client.post(
            "/authy/callback",
            json=body,
            headers={
                "X-Authy-Signature": signature,
                "X-Authy-Signature-Nonce": nonce,
                **headers,
            },
        )


FORWARDED = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "login.example.com",
    "X-Forwarded-For": "198.18.0.9",
}


def test_the_signed_url_is_rebuilt_behind_a_trusted_proxy(site: Site) -> None:
    waiting = site.make_waiting()
    response = post_through_proxy(
        site,
        site.callback_body(waiting),
        "https://login.example.com/authy/callback",
        FORWARDED,
    )
    assert response.status_code == 200, response.text
    assert site.attempt(waiting.attempt_id).status == "approved"


def test_forwarding_headers_from_an_untrusted_peer_are_ignored(live_server) -> None:
    # The shared server trusts no proxy.
    assert live_server.runtime.settings.trusted_proxies == ""
    untrusted = Site(live_server)
    waiting = untrusted.make_waiting()
    response = post_through_proxy(
        untrusted,
        untrusted.callback_body(waiting),
        "https://login.example.com/authy/callback",
        FORWARDED,
    )
    assert response.status_code == 401
    assert untrusted.attempt(waiting.attempt_id).status == "pending"
