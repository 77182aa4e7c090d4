"""Enrolling by phone number, install links by SMS, phone verification."""

from __future__ import annotations

import re
import time

from sqlalchemy import select

from pushgate.db.models import ServiceOutboxMessage


def _outbox(live_server, number: str, timeout: float = 20.0) -> list[str]:
    """Texts the development outbox kept for ``number`` (E.164)."""

    async def read() -> list[str]:
        async with live_server.runtime.sessions() as session:
            rows = await session.scalars(
                select(ServiceOutboxMessage.body)
                .where(ServiceOutboxMessage.to_number == number)
                .order_by(ServiceOutboxMessage.id)
            )
            return list(rows)

    deadline = time.monotonic() + timeout
    while True:
        found = live_server.call(read)
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_install_link_is_texted(service_app, make_device, live_server) -> None:
    response = service_app.client.post(
        "/protected/json/users/new",
        json={
            "user": {
                "email": "sms@example.com",
                "cellphone": "2025550101",
                "country_code": 1,
            },
            "send_install_link_via_sms": True,
        },
    )
    assert response.status_code == 200

    [text] = _outbox(live_server, "+12025550101")
    link = re.search(r"(http://\S+/authenticator/enroll#\S+)", text).group(1)
    device = make_device()
    assert device.enroll(link.split("#", 1)[1]).status_code == 200
    user_id = response.json()["user"]["id"]
    status = service_app.client.get(f"/protected/json/users/{user_id}/status")
    assert status.json()["status"]["registered"] is True


def test_enroll_with_phone_number_and_code(make_app, make_device, live_server) -> None:
    one, two = make_app(), make_app()
    first = one.create_user("2025550102")
    second = two.create_user("2025550102")
    device = make_device()
    device.load_csrf()
    headers = {"X-CSRF-Token": device.csrf}

    started = device.client.post(
        "/authenticator/api/phone/start",
        json={"country_code": "+1", "phone_number": "202-555-0102", "via": "sms"},
        headers=headers,
    )
    assert started.status_code == 200
    [text] = _outbox(live_server, "+12025550102")
    code = re.search(r"\b(\d{6})\b", text).group(1)

    wrong = device.client.post(
        "/authenticator/api/phone/devices",
        json={
            "country_code": "1",
            "phone_number": "2025550102",
            "code": "000000" if code != "000000" else "111111",
            "public_key": device.public_key_b64(),
        },
        headers=headers,
    )
    assert wrong.status_code == 400

    enrolled = device.client.post(
        "/authenticator/api/phone/devices",
        json={
            "country_code": "1",
            "phone_number": "2025550102",
            "code": code,
            "public_key": device.public_key_b64(),
        },
        headers=headers,
    )
    assert enrolled.status_code == 200, enrolled.text
    accounts = enrolled.json()["accounts"]
    assert {a["user_id"] for a in accounts} == {first, second}

    for app, user_id in ((one, first), (two, second)):
        status = app.client.get(f"/protected/json/users/{user_id}/status").json()
        assert status["status"]["registered"] is True

    # The same browser now answers both sites' requests.
    state = device.client.get("/authenticator/api/requests").json()
    assert len(state["accounts"]) == 2
    uuid = two.approval_request(second)
    device.device_id = next(a["device_id"] for a in accounts if a["user_id"] == second)
    assert device.answer(uuid, "approved").status_code == 200
    assert two.approval_status(uuid) == "approved"


def test_unknown_number_gets_the_same_answer_and_no_text(
    make_device, live_server
) -> None:
    device = make_device()
    device.load_csrf()

    response = device.client.post(
        "/authenticator/api/phone/start",
        json={"country_code": "1", "phone_number": "2025550999"},
        headers={"X-CSRF-Token": device.csrf},
    )

    assert response.status_code == 200
    assert "If this number is registered" in response.json()["message"]
    assert _outbox(live_server, "+12025550999", timeout=1.0) == []


def test_phone_verification_start_and_check(service_app, live_server) -> None:
    started = service_app.client.post(
        "/protected/json/phones/verification/start",
        json={"phone_number": "202-555-0103", "country_code": 1, "via": "sms"},
    )
    assert started.status_code == 200, started.text
    assert started.json()["success"] is True
    [text] = _outbox(live_server, "+12025550103")
    code = re.search(r"\b(\d{4})\b", text).group(1)

    params = {"phone_number": "2025550103", "country_code": "1"}
    wrong = service_app.client.get(
        "/protected/json/phones/verification/check",
        params={**params, "verification_code": str((int(code) + 1) % 10000).zfill(4)},
    )
    assert wrong.status_code == 401
    assert wrong.json()["error_code"] == "60022"

    right = service_app.client.get(
        "/protected/json/phones/verification/check",
        params={**params, "verification_code": code},
    )
    assert right.status_code == 200
    assert right.json() == {"message": "Verification code is correct.", "success": True}

    again = service_app.client.get(
        "/protected/json/phones/verification/check",
        params={**params, "verification_code": code},
    )
    assert again.status_code == 404


def test_phone_info_and_bad_numbers(service_app) -> None:
    info = service_app.client.get(
        "/protected/json/phones/info",
        params={"phone_number": "2025550104", "country_code": "1"},
    )
    assert info.status_code == 200
    assert info.json()["success"] is True

    bad = service_app.client.get(
        "/protected/json/phones/info", params={"phone_number": "x", "country_code": "1"}
    )
    assert bad.status_code == 400
    assert bad.json()["error_code"] == "60033"
