"""The Authy token endpoints, driven by the official ``authy`` client."""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta

import httpx
import pyotp
from sqlalchemy import select, text

from pushgate import clock
from pushgate.db.models import ServiceSecurityEvent, ServiceToken
from pushgate.service import log_redaction
from pushgate.service.tokens import CODE_LIFETIME, MAX_FAILURES, SEND_LIMIT
from tests.codes.conftest import (
    ServiceApp,
    code_in,
    new_user,
    outbox_messages,
    wait_for_message,
    wrong,
)
from tests.support.server import LiveServer


def _get(
    server: LiveServer, app: ServiceApp, path: str, **params: str
) -> httpx.Response:
    return httpx.get(
        server.base_url + path,
        params=params,
        headers={"X-Authy-API-Key": app.api_key},
    )


def test_sms_code_is_sent_and_verifies_once(
    live_server: LiveServer, service_app: ServiceApp
) -> None:
    user = new_user(live_server, service_app)
    client = service_app.client

    sms = client.users.request_sms(user.id, {"force": True})
    assert sms.ok(), sms.content
    assert sms.content["message"] == "SMS token was sent"
    assert sms.content["cellphone"] == "+1-XXX-XXX-XX" + user.number[-2:]
    assert not sms.ignored()

    message = wait_for_message(live_server, user.number)
    assert message.channel == "sms"
    code = code_in(message.body)
    assert len(code) == 7

    verified = client.tokens.verify(user.id, code)
    assert verified.ok(), verified.content
    assert '"token":"is valid"' in verified.response.text

    again = client.tokens.verify(user.id, code)
    assert not again.ok()
    assert again.response.status_code == 401
    assert again.content["token"] == "is invalid"
    assert again.content["error_code"] == "60020"


def test_voice_code_is_spoken_digit_by_digit(
    live_server: LiveServer, service_app: ServiceApp
) -> None:
    user = new_user(live_server, service_app)

    call = service_app.client.users.request_call(user.id, {"force": True})
    assert call.ok(), call.content
    assert call.content["message"].startswith("Call started")

    message = wait_for_message(live_server, user.number)
    assert message.channel == "call"
    code = code_in(message.body)
    assert service_app.client.tokens.verify(user.id, code).ok()


def test_code_is_stored_hashed_queued_sealed_and_audited(
    live_server: LiveServer, service_app: ServiceApp
) -> None:
    user = new_user(live_server, service_app)
    assert service_app.client.users.request_sms(user.id, {"force": True}).ok()
    code = code_in(wait_for_message(live_server, user.number).body)

    async def stored() -> tuple[list[str], list[str]]:
        async with live_server.runtime.sessions() as session:
            hashes = await session.scalars(
                select(ServiceToken.code_hash).where(ServiceToken.user_id == user.id)
            )
            args = await session.scalars(
                text("SELECT args::text FROM procrastinate_jobs")
            )
            return list(hashes), list(args)

    hashes, job_args = live_server.call(stored)
    assert len(hashes) == 1 and code not in hashes[0]
    assert all(code not in args for args in job_args)

    assert service_app.client.tokens.verify(user.id, code).ok()

    async def events() -> list[tuple[str, str]]:
        async with live_server.runtime.sessions() as session:
            rows = await session.scalars(
                select(ServiceSecurityEvent)
                .where(ServiceSecurityEvent.user_id == user.id)
                .order_by(ServiceSecurityEvent.id)
            )
            return [(row.event, json.dumps(row.detail)) for row in rows]

    recorded = live_server.call(events)
    assert [event for event, _ in recorded] == ["code_sent", "code_verified"]
    assert all(code not in detail for _, detail in recorded)


def test_push_users_are_not_texted_unless_forced(
    live_server: LiveServer, service_app: ServiceApp
) -> None:
    user = new_user(live_server, service_app, with_device=True)

    sms = service_app.client.users.request_sms(user.id)
    assert sms.ok() and sms.ignored()
    assert "force=true" in sms.content["message"]
    call = service_app.client.users.request_call(user.id)
    assert call.ok() and call.ignored()
    assert outbox_messages(live_server, user.number) == []

    forced = service_app.client.users.request_sms(user.id, {"force": True})
    assert forced.ok() and not forced.ignored()
    wait_for_message(live_server, user.number)


def test_wrong_codes_are_refused_and_limited_to_five(
    live_server: LiveServer, service_app: ServiceApp
) -> None:
    user = new_user(live_server, service_app)
    assert service_app.client.users.request_sms(user.id, {"force": True}).ok()
    code = code_in(wait_for_message(live_server, user.number).body)

    for tries_left in range(MAX_FAILURES - 1, 0, -1):
        refused = _get(
            live_server, service_app, f"/protected/json/verify/{wrong(code)}/{user.id}"
        )
        assert refused.status_code == 401
        body = refused.json()
        assert body["message"] == "Token is invalid"
        assert body["reason"] == "invalid"
        assert body["tries_left"] == tries_left

    fifth = _get(
        live_server, service_app, f"/protected/json/verify/{wrong(code)}/{user.id}"
    )
    assert fifth.status_code == 429
    assert fifth.json()["reason"] == "too_many_tries"
    assert "request a new code" in fifth.json()["message"]

    # The right code no longer helps: a new one is needed.
    late = service_app.client.tokens.verify(user.id, code)
    assert not late.ok()
    assert late.response.status_code == 429

    assert service_app.client.users.request_sms(user.id, {"force": True}).ok()
    fresh = code_in(wait_for_message(live_server, user.number, count=2).body)
    assert service_app.client.tokens.verify(user.id, fresh).ok()


def test_code_expires_after_ten_minutes(
    live_server: LiveServer, service_app: ServiceApp
) -> None:
    user = new_user(live_server, service_app)
    assert service_app.client.users.request_sms(user.id, {"force": True}).ok()
    code = code_in(wait_for_message(live_server, user.number).body)

    with clock.shifted(CODE_LIFETIME + timedelta(seconds=1)):
        expired = service_app.client.tokens.verify(user.id, code)
    assert not expired.ok()
    assert expired.response.status_code == 401

    assert service_app.client.users.request_sms(user.id, {"force": True}).ok()
    fresh = code_in(wait_for_message(live_server, user.number, count=2).body)
    with clock.shifted(CODE_LIFETIME - timedelta(seconds=5)):
        assert service_app.client.tokens.verify(user.id, fresh).ok()


def test_a_new_code_replaces_the_last(
    live_server: LiveServer, service_app: ServiceApp
) -> None:
    user = new_user(live_server, service_app)
    assert service_app.client.users.request_sms(user.id, {"force": True}).ok()
    first = code_in(wait_for_message(live_server, user.number).body)
    assert service_app.client.users.request_call(user.id, {"force": True}).ok()
    second = code_in(wait_for_message(live_server, user.number, count=2).body)

    if first != second:
        assert not service_app.client.tokens.verify(user.id, first).ok()
    assert service_app.client.tokens.verify(user.id, second).ok()


def test_a_code_proves_only_the_action_it_was_sent_for(
    live_server: LiveServer, service_app: ServiceApp
) -> None:
    user = new_user(live_server, service_app)
    sent = service_app.client.users.request_sms(
        user.id,
        {"force": True, "action": "login-A", "action_message": "Sign-in to Example"},
    )
    assert sent.ok()
    message = wait_for_message(live_server, user.number)
    assert message.body.startswith("Sign-in to Example: ")
    code = code_in(message.body)

    other = service_app.client.tokens.verify(user.id, code, {"action": "login-B"})
    assert not other.ok()
    same = service_app.client.tokens.verify(user.id, code, {"action": "login-A"})
    assert same.ok()


def test_sending_is_limited_per_user(
    live_server: LiveServer, service_app: ServiceApp
) -> None:
    user = new_user(live_server, service_app)
    for _ in range(SEND_LIMIT):
        assert service_app.client.users.request_sms(user.id, {"force": True}).ok()
    refused = service_app.client.users.request_sms(user.id, {"force": True})
    assert refused.response.status_code == 429
    assert refused.content["error_code"] == "60003"


def test_totp_from_the_qr_uri_works_once_in_an_independent_implementation(
    live_server: LiveServer, service_app: ServiceApp
) -> None:
    user = new_user(live_server, service_app)

    qr = service_app.client.users.generate_qr(user.id, size=256, label=user.email)
    assert qr.ok(), qr.content
    assert qr.content["qr_code"].startswith("data:image/svg+xml")
    assert qr.content["label"] == user.email
    uri = qr.content["uri"]
    assert uri.startswith("otpauth://totp/")

    independent = pyotp.parse_uri(uri)
    assert isinstance(independent, pyotp.TOTP)
    code = independent.at(clock.now())
    verified = service_app.client.tokens.verify(user.id, code)
    assert verified.ok(), verified.content

    replayed = service_app.client.tokens.verify(user.id, code)
    assert not replayed.ok()
    assert replayed.response.status_code == 401
    assert replayed.content["reason"] == "used"
    assert "used recently" in replayed.content["message"]

    # The same secret comes back: enrolled authenticator apps keep working.
    again = service_app.client.users.generate_qr(user.id)
    assert pyotp.parse_uri(again.content["uri"]).secret == independent.secret


def test_totp_code_from_the_next_step_is_accepted_once(
    live_server: LiveServer, service_app: ServiceApp
) -> None:
    user = new_user(live_server, service_app)
    uri = service_app.client.users.generate_qr(user.id).content["uri"]
    independent = pyotp.parse_uri(uri)

    # A phone whose clock runs up to one step ahead.
    ahead = independent.at(clock.now() + timedelta(seconds=30))
    assert service_app.client.tokens.verify(user.id, ahead).ok()
    # After that, the current step's code is older than the one used: refused.
    current = independent.at(clock.now())
    if current != ahead:
        assert not service_app.client.tokens.verify(user.id, current).ok()


def test_unknown_users_and_keys_are_refused(
    live_server: LiveServer, service_app: ServiceApp
) -> None:
    missing = _get(live_server, service_app, "/protected/json/sms/999999999")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "60026"

    user = new_user(live_server, service_app)
    no_key = httpx.get(
        f"{live_server.base_url}/protected/json/verify/1234567/{user.id}"
    )
    assert no_key.status_code == 401
    assert no_key.json()["error_code"] == "60001"

    malformed = _get(
        live_server, service_app, f"/protected/json/verify/12ab56/{user.id}"
    )
    assert malformed.status_code == 401
    assert malformed.json()["token"] == "is invalid"


def test_codes_in_verify_paths_stay_out_of_request_logs(
    live_server: LiveServer, service_app: ServiceApp
) -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    loggers = [logging.getLogger(name) for name in log_redaction.REQUEST_LOGGERS]
    levels = [target.level for target in loggers]
    for target in loggers:
        target.addHandler(handler)
        target.setLevel(logging.INFO)
    try:
        user = new_user(live_server, service_app)
        with httpx.Client(base_url=live_server.base_url) as client:
            client.get(
                f"/protected/json/verify/9876543/{user.id}",
                headers={"X-Authy-API-Key": service_app.api_key},
            )
        # uvicorn writes its access line after the response went out.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(
            r.name == "uvicorn.access" for r in records
        ):
            time.sleep(0.02)
    finally:
        for target, level in zip(loggers, levels, strict=True):
            target.removeHandler(handler)
            target.setLevel(level)

    lines = [record.getMessage() for record in records]
    assert any("/protected/json/verify/[code]/" in line for line in lines), lines
    assert not any("9876543" in line for line in lines)
