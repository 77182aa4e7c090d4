"""Logging in to the site with a code, over HTTP: texts, calls, TOTP, recovery."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pyotp
import pytest

from pushgate import clock
from pushgate.service import totp
from pushgate.web.codes import CODE_LOGIN_WINDOW, RESEND_COOLDOWN_SECONDS
from tests.codes.conftest import code_in, outbox_messages, wait_for_message, wrong
from tests.codes.site import (
    Person,
    Visitor,
    enroll_device,
    new_person,
    recovery_codes_on,
    site_user,
)
from tests.support.server import LiveServer


@pytest.fixture
def visitor(site_server: LiveServer) -> Iterator[Visitor]:
    visitor = Visitor(site_server)
    yield visitor
    visitor.close()


@pytest.fixture
def person(visitor: Visitor) -> Person:
    """Signed up (no phone enrolled yet) and logged out again."""
    person = new_person()
    visitor.sign_up(person)
    visitor.log_out()
    return person


def test_without_a_phone_the_login_goes_to_a_texted_code(
    site_server: LiveServer, visitor: Visitor, person: Person
) -> None:
    started = visitor.log_in(person)
    assert started.headers["location"] == "/login/code"
    page = visitor.http.get("/login/code").text
    assert "No phone is enrolled" in page
    assert "Text me a code" in page and "Call me" in page
    cookie_before = visitor.cookie

    sent = visitor.send_code("sms")
    assert sent.status_code == 303
    assert f"ending in {person.phone[-2:]}" in visitor.notice()
    code = code_in(wait_for_message(site_server, person.number).body)

    finished = visitor.enter_code(code)
    assert finished.status_code == 303
    assert finished.headers["location"] == "/account"
    assert visitor.cookie != cookie_before
    account = visitor.http.get("/account")
    assert account.status_code == 200
    assert person.name in account.text


def test_a_call_reads_the_code_out(
    site_server: LiveServer, visitor: Visitor, person: Person
) -> None:
    visitor.log_in(person)
    visitor.send_code("call")
    assert "calling your phone number" in visitor.notice()
    message = wait_for_message(site_server, person.number)
    assert message.channel == "call"

    finished = visitor.enter_code(code_in(message.body))
    assert finished.headers["location"] == "/account"


def test_another_code_waits_for_the_cooldown(
    site_server: LiveServer, visitor: Visitor, person: Person
) -> None:
    visitor.log_in(person)
    visitor.send_code("sms")
    wait_for_message(site_server, person.number)

    visitor.send_code("call")
    assert "you can ask for another in" in visitor.notice()
    page = visitor.http.get("/login/code").text
    assert 'data-role="send-sms" disabled' in page
    assert len(outbox_messages(site_server, person.number)) == 1

    with clock.shifted(timedelta(seconds=RESEND_COOLDOWN_SECONDS + 1)):
        visitor.send_code("call")
        assert "calling" in visitor.notice()
        second = wait_for_message(site_server, person.number, count=2)
        assert second.channel == "call"
        assert visitor.enter_code(code_in(second.body)).status_code == 303


def test_wrong_codes_are_refused_then_a_new_code_is_needed(
    site_server: LiveServer, visitor: Visitor, person: Person
) -> None:
    visitor.log_in(person)
    visitor.send_code("sms")
    code = code_in(wait_for_message(site_server, person.number).body)

    refused = visitor.enter_code(wrong(code))
    assert refused.status_code == 401
    assert "That code is not right. You have 4 more tries" in refused.text
    for _ in range(3):
        visitor.enter_code(wrong(code))
    last = visitor.enter_code(wrong(code))
    assert "Too many wrong codes. Ask for a new code" in last.text

    # The right code no longer helps once its tries are used up.
    late = visitor.enter_code(code)
    assert late.status_code == 401
    assert "Too many wrong codes" in late.text
    assert visitor.http.get("/account").headers.get("location") == "/login"

    with clock.shifted(timedelta(seconds=RESEND_COOLDOWN_SECONDS + 1)):
        visitor.send_code("sms")
        fresh = code_in(wait_for_message(site_server, person.number, count=2).body)
        assert visitor.enter_code(fresh).headers["location"] == "/account"


def test_letters_that_are_no_code_get_a_clear_message(
    visitor: Visitor, person: Person
) -> None:
    visitor.log_in(person)
    refused = visitor.enter_code("12ab")
    assert refused.status_code == 400
    assert "Enter the 7-digit code we texted or called" in refused.text


def test_a_code_finishes_only_the_login_it_was_sent_for(
    site_server: LiveServer, person: Person
) -> None:
    first, second = Visitor(site_server), Visitor(site_server)
    try:
        first.log_in(person)
        second.log_in(person)
        first.send_code("sms")
        code = code_in(wait_for_message(site_server, person.number).body)

        stolen = second.enter_code(code)
        assert stolen.status_code == 401
        assert second.http.get("/account").headers.get("location") == "/login"

        assert first.enter_code(code).headers["location"] == "/account"
    finally:
        first.close()
        second.close()


def test_a_login_too_old_cannot_be_finished_with_a_code(
    visitor: Visitor, person: Person
) -> None:
    visitor.log_in(person)
    with clock.shifted(CODE_LOGIN_WINDOW + timedelta(seconds=1)):
        assert "too old to finish with a code" in visitor.notice()
        refused = visitor.enter_code("1234567")
        assert refused.status_code == 409


def test_the_code_form_needs_the_csrf_token(visitor: Visitor, person: Person) -> None:
    visitor.log_in(person)
    forged = visitor.http.post("/login/code", data={"code": "1234567"})
    assert forged.status_code == 403


def test_the_authenticator_code_logs_in_once(
    site_server: LiveServer, visitor: Visitor, person: Person
) -> None:
    authy_id = site_user(site_server, person).authy_id
    assert authy_id is not None

    async def secret() -> totp.TotpSecret:
        runtime = site_server.runtime
        async with runtime.sessions.begin() as db:
            return await totp.ensure_secret(
                db, runtime.settings.resolved_secret_key(), authy_id
            )

    app = pyotp.parse_uri(site_server.call(secret).uri("pushgate", person.email))
    visitor.log_in(person)
    code = app.at(clock.now())
    assert visitor.enter_code(code).headers["location"] == "/account"

    visitor.log_out()
    visitor.log_in(person)
    replayed = visitor.enter_code(code)
    assert replayed.status_code == 401
    assert "That code was already used" in replayed.text


def test_recovery_codes_are_shown_once_and_each_works_once(
    site_server: LiveServer, visitor: Visitor, person: Person
) -> None:
    enroll_device(site_server, person)
    # With a phone enrolled the login sends a push; the code page works too.
    assert visitor.log_in(person).headers["location"] == "/login/waiting"
    visitor.send_code("sms")
    code = code_in(wait_for_message(site_server, person.number).body)
    assert visitor.enter_code(code).headers["location"] == "/account"

    first_view = visitor.http.get("/account").text
    codes = recovery_codes_on(first_view)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "shown only this once" in first_view
    second_view = visitor.http.get("/account").text
    assert recovery_codes_on(second_view) == []
    assert "10 of 10 recovery" in " ".join(second_view.split())

    visitor.log_out()
    visitor.log_in(person)
    used = visitor.enter_code(codes[3].upper().replace("-", " "))
    assert used.headers["location"] == "/account"
    assert "9 of 10 recovery" in " ".join(visitor.http.get("/account").text.split())

    visitor.log_out()
    visitor.log_in(person)
    again = visitor.enter_code(codes[3])
    assert again.status_code == 401
    assert "not right or was already used" in again.text


def test_new_recovery_codes_replace_the_old_ones(
    site_server: LiveServer, visitor: Visitor, person: Person
) -> None:
    enroll_device(site_server, person)
    visitor.log_in(person)
    visitor.send_code("sms")
    visitor.enter_code(code_in(wait_for_message(site_server, person.number).body))
    old = recovery_codes_on(visitor.http.get("/account").text)
    assert len(old) == 10

    replaced = visitor.post_form("/account", "/account/recovery-codes")
    assert replaced.status_code == 303
    new = recovery_codes_on(visitor.http.get(replaced.headers["location"]).text)
    assert len(new) == 10 and not set(new) & set(old)

    visitor.log_out()
    visitor.log_in(person)
    assert visitor.enter_code(old[0]).status_code == 401
    assert visitor.enter_code(new[0]).headers["location"] == "/account"
