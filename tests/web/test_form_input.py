"""Form fields are read in one place, which refuses control characters; codes
are digits 0-9 only; a refusal from the service is not called unreachable."""

from __future__ import annotations

import re

import httpx
import pytest

from pushgate.web import forms
from pushgate.web.code_client import CodeCheck, CodeClient
from pushgate.web.service_client import (
    UNREACHABLE,
    ServiceClient,
    ServiceError,
    failure_message,
)
from tests.support.server import free_port
from tests.web.conftest import PASSWORD, csrf_from

SIGNUP = {
    "name": "Ada Lovelace",
    "email": "ada-nul@example.com",
    "password": "analytical engine",
    "country_code": "44",
    "phone": "7700900123",
}


def errors_on_page(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-error-for="([a-z_]+)"[^>]*>([^<]*)<', html))


@pytest.mark.parametrize("character", ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\t"])
def test_a_control_character_inside_any_field_is_refused_as_read(character) -> None:
    form = forms.read_form({"email": f"a{character}b@example.com", "other": "fine"})

    assert form.get("email") == ""
    assert form.get("other") == "fine"
    assert set(form.problems) == {"email"}
    assert f"U+{ord(character):04X}" in form.problems["email"]


def test_whitespace_around_a_value_is_left_to_the_parsers() -> None:
    form = forms.read_form({"email": "\tada@example.com\r\n", "password": " pass "})
    assert form.problems == {}
    assert forms.parse_login(form).value == forms.Login(
        email="ada@example.com", password=" pass "
    )


def test_the_form_input_never_shows_its_values() -> None:
    form = forms.read_form({"password": "secret password"})
    assert "secret" not in repr(form)


def test_every_signup_field_with_a_nul_gets_its_message_beside_it(site) -> None:
    with site.client() as client:
        csrf = csrf_from(client.get("/signup").text)
        response = client.post(
            "/signup",
            data={
                "csrf_token": csrf,
                **{
                    name: value[:3] + "\x00" + value[3:]
                    for name, value in SIGNUP.items()
                },
            },
        )

    assert response.status_code == 400
    shown = errors_on_page(response.text)
    assert set(shown) == set(SIGNUP)
    assert all("control character U+0000" in message for message in shown.values())


@pytest.mark.parametrize(
    ("field", "email", "password"),
    [
        ("email", "a\x00@example.com", PASSWORD),
        ("password", "someone@example.com", "pass\x00word words"),
    ],
)
def test_a_login_with_a_nul_is_refused_beside_the_field(
    site, field, email, password
) -> None:
    with site.client() as client:
        csrf = csrf_from(client.get("/login").text)
        response = client.post(
            "/login", data={"csrf_token": csrf, "email": email, "password": password}
        )

    assert response.status_code == 400
    assert "control character U+0000" in errors_on_page(response.text)[field]


def test_an_overlong_login_email_is_refused_before_any_lookup(site) -> None:
    with site.client() as client:
        csrf = csrf_from(client.get("/login").text)
        response = client.post(
            "/login",
            data={"csrf_token": csrf, "email": "a" * 300, "password": PASSWORD},
        )
    assert response.status_code == 400
    assert "at most 254" in errors_on_page(response.text)["email"]


def post_code(site, waiting, code: str) -> httpx.Response:
    with site.client(waiting.token) as client:
        return client.post(
            "/login/code", data={"csrf_token": waiting.csrf, "code": code}
        )


def test_a_code_with_a_nul_is_refused_beside_the_field(site) -> None:
    waiting = site.make_waiting()
    response = post_code(site, waiting, "123\x004567")

    assert response.status_code == 400
    assert "control character U+0000" in errors_on_page(response.text)["code"]


# Arabic-Indic, Extended Arabic-Indic and fullwidth digits.
OTHER_DIGITS = ["\u0661\u0662\u0663\u0664\u0665\u0666", "\u06f1" * 7, "\uff11" * 6]


@pytest.mark.parametrize("code", OTHER_DIGITS)
def test_digits_of_other_scripts_are_refused_as_not_0_to_9(site, code) -> None:
    waiting = site.make_waiting()
    response = post_code(site, waiting, code)

    assert response.status_code == 400
    assert errors_on_page(response.text)["code"] == (
        "Type the code with the digits 0-9 only; your keyboard wrote other digits."
    )
    assert "could not be reached" not in response.text
    # Refused by the site: no wrong code was counted against the login.
    assert "code_failures" not in site.session_row(waiting.token).data


def test_a_send_request_with_a_nul_is_a_clear_refusal(site) -> None:
    waiting = site.make_waiting()
    with site.client(waiting.token) as client:
        sent = client.post(
            "/login/code/send", data={"csrf_token": waiting.csrf, "via": "sms\x00"}
        )
        page = client.get("/login/code")
    assert sent.status_code == 303
    assert "Choose a text message or a call." in page.text


def test_a_nul_in_the_csrf_field_is_a_refused_form(site) -> None:
    token, csrf = site.make_session()
    with site.client(token) as client:
        response = client.post("/logout", data={"csrf_token": csrf + "\x00"})
    assert response.status_code == 403
    assert site.session_row(token) is not None


async def test_the_code_client_never_sends_anything_but_ascii_digits() -> None:
    # No server listens there: a call would come back as unreachable.
    async with httpx.AsyncClient(timeout=2) as http:
        client = CodeClient(http, f"http://127.0.0.1:{free_port()}", "key")
        checked = await client.check_code(1, OTHER_DIGITS[0], action="login:x")
    assert checked == CodeCheck(accepted=False, reason="invalid")


def test_only_an_unanswered_call_is_called_unreachable() -> None:
    assert failure_message(None) == UNREACHABLE
    assert "could not be reached" not in failure_message(400)
    assert "HTTP 404" in failure_message(404)
    assert "could not be reached" not in failure_message(503)


def test_a_refusal_without_a_message_is_not_called_unreachable(site) -> None:
    # The static files answer every service path with a bare 404.
    async def call() -> object:
        async with httpx.AsyncClient(timeout=5) as http:
            client = ServiceClient(
                http, site.base_url + "/static", site.runtime.service_api_key
            )
            return await client.user_status(1)

    result = site.run(call)
    assert isinstance(result, ServiceError)
    assert result.status_code == 404
    assert "could not be reached" not in result.message
    assert "HTTP 404" in result.message
