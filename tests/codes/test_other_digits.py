"""Codes, ids and phone numbers are the digits 0-9 only.

``str.isdigit()`` and ``\\d`` also accept the digits of other scripts (here
Arabic-Indic, ``\\u0661\\u0662...``), which ``int()`` reads as numbers and
``hmac.compare_digest`` refuses with a ``TypeError`` when given as ``str``.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushgate.service import params, totp, users
from pushgate.service.errors import ApiError
from tests.codes.conftest import ServiceApp, code_in, new_user, wait_for_message
from tests.support.server import LiveServer

ARABIC_INDIC = "".join(chr(0x0660 + digit) for digit in range(10))  # 0 to 9
SIX = ARABIC_INDIC[1:7]  # 1 to 6
SEVEN = ARABIC_INDIC[1:8]
FULLWIDTH_SEVEN = "".join(chr(0xFF10 + digit) for digit in range(1, 8))


def _get(server: LiveServer, app: ServiceApp, path: str, **query: str):
    return httpx.get(
        server.base_url + path, params=query, headers={"X-Authy-API-Key": app.api_key}
    )


def test_totp_takes_no_other_digits() -> None:
    secret = totp.TotpSecret(secret=totp.new_secret(), digits=6)
    now = datetime.now(UTC)

    assert totp.matching_step(secret, SIX, now) is None
    assert totp.matching_step(secret, "12345\u0666", now) is None


@pytest.mark.parametrize("raw", [ARABIC_INDIC[1], SIX, FULLWIDTH_SEVEN])
def test_ids_and_numbers_take_no_other_digits(raw: str) -> None:
    assert users.normalize_country_code(raw) is None
    assert users.normalize_cellphone(raw + ARABIC_INDIC) is None
    with pytest.raises(ApiError) as refused:
        params.user_id(raw)
    assert refused.value.status_code == 404
    with pytest.raises(ApiError) as refused:
        params.integer({"seconds": raw}, "seconds")
    assert refused.value.status_code == 400


def test_verify_refuses_other_digits_for_a_user_with_totp_and_a_live_code(
    live_server: LiveServer, service_app: ServiceApp
) -> None:
    user = new_user(live_server, service_app)
    secret = httpx.post(
        f"{live_server.base_url}/protected/json/users/{user.id}/secret",
        headers={"X-Authy-API-Key": service_app.api_key},
    )
    assert secret.status_code == 200
    assert service_app.client.users.request_sms(user.id, {"force": True}).ok()
    code = code_in(wait_for_message(live_server, user.number).body)

    for token in (SIX, SEVEN, FULLWIDTH_SEVEN, "12345" + ARABIC_INDIC[6]):
        response = _get(
            live_server, service_app, f"/protected/json/verify/{token}/{user.id}"
        )
        assert response.status_code == 401, response.text
        assert response.json()["token"] == "is invalid"

    # The right code with an action in another script: wrong action, no crash.
    response = _get(
        live_server,
        service_app,
        f"/protected/json/verify/{code}/{user.id}",
        action="\u00e9t\u00e9",
    )
    assert response.status_code == 401, response.text

    response = _get(
        live_server, service_app, f"/protected/json/verify/{code}/{user.id}"
    )
    assert response.status_code == 200, response.text


def test_user_ids_in_other_digits_are_not_users(
    live_server: LiveServer, service_app: ServiceApp
) -> None:
    user = new_user(live_server, service_app)
    other = "".join(ARABIC_INDIC[int(digit)] for digit in str(user.id))

    response = _get(live_server, service_app, f"/protected/json/users/{other}/status")

    assert response.status_code == 404
    assert response.json()["message"] == "User not found."


def test_phone_verification_takes_no_other_digits(
    live_server: LiveServer, service_app: ServiceApp
) -> None:
    start = httpx.post(
        f"{live_server.base_url}/protected/json/phones/verification/start",
        json={"via": "sms", "phone_number": ARABIC_INDIC, "country_code": 1},
        headers={"X-Authy-API-Key": service_app.api_key},
    )
    assert start.status_code == 400
    assert start.json()["error_code"] == "60033"

    check = _get(
        live_server,
        service_app,
        "/protected/json/phones/verification/check",
        phone_number="2025550100",
        country_code="1",
        verification_code=ARABIC_INDIC[1:5],
    )
    assert check.status_code == 401
    assert check.json()["message"] == "Verification code is incorrect"


def test_authenticator_phone_codes_take_no_other_digits(
    live_server: LiveServer,
) -> None:
    with httpx.Client(base_url=live_server.base_url) as client:
        client.get("/authenticator/phone")
        csrf = client.cookies["pushgate_authenticator_csrf"]
        response = client.post(
            "/authenticator/api/phone/devices",
            json={
                "country_code": "1",
                "phone_number": "2025550100",
                "code": SIX,
                "public_key": _public_key(),
            },
            headers={"X-CSRF-Token": csrf},
        )

    assert response.status_code == 400
    assert response.json()["message"] == (
        "Enter the phone number and the code you received."
    )


def _public_key() -> str:
    der = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
    )
    return base64.b64encode(der).decode()
