"""Signed answers from devices: only the right device, once, in time."""

from __future__ import annotations

import time
from datetime import timedelta

from pushgate import clock
from tests.service.conftest import ServiceClient


def _status(app: ServiceClient, uuid: str) -> dict:
    response = app.client.get(f"/onetouch/json/approval_requests/{uuid}")
    assert response.status_code == 200
    return response.json()["approval_request"]


def test_enrolled_device_approves(enrolled) -> None:
    app, user_id, device = enrolled
    uuid = app.approval_request(user_id)

    response = device.answer(uuid, "approved")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["success"], body["status"], body["uuid"]) == (True, "approved", uuid)
    status = _status(app, uuid)
    assert status["status"] == "approved"
    assert status["processed_at"] is not None
    assert status["device"]["id"] == device.device_id


def test_enrolled_device_denies(enrolled) -> None:
    app, user_id, device = enrolled
    uuid = app.approval_request(user_id)

    assert device.answer(uuid, "denied").status_code == 200
    assert app.approval_status(uuid) == "denied"


def test_second_answer_is_refused_and_changes_nothing(enrolled) -> None:
    app, user_id, device = enrolled
    uuid = app.approval_request(user_id)
    assert device.answer(uuid, "denied").status_code == 200

    again = device.answer(uuid, "approved")

    assert again.status_code == 409
    assert again.json()["reason"] == "already_answered"
    assert app.approval_status(uuid) == "denied"


def test_device_of_another_user_is_refused(enrolled, make_device) -> None:
    app, user_id, _device = enrolled
    other_user = app.create_user()
    other = make_device()
    assert other.enroll(app.enrollment_token(other_user)).status_code == 200
    uuid = app.approval_request(user_id)

    response = other.answer(uuid, "approved")

    assert response.status_code == 403
    assert app.approval_status(uuid) == "pending"


def test_device_id_not_held_by_this_browser_is_refused(enrolled, make_device) -> None:
    app, user_id, device = enrolled
    uuid = app.approval_request(user_id)
    stranger = make_device()
    stranger.load_csrf()

    # The stranger knows the device id and even has a valid-looking signature
    # of its own, but holds no cookie for that device.
    response = stranger.answer(uuid, "approved", device_id=device.device_id)

    assert response.status_code == 403
    assert app.approval_status(uuid) == "pending"


def test_wrong_device_key_is_refused(enrolled, make_device) -> None:
    app, user_id, device = enrolled
    uuid = app.approval_request(user_id)
    impostor = make_device()
    signed_at = int(time.time())
    text = f"pushgate-answer|{uuid}|approved|{device.device_id}|{signed_at}"

    response = device.answer(
        uuid, "approved", signed_at=signed_at, signature=impostor.sign(text)
    )

    assert response.status_code == 400
    assert app.approval_status(uuid) == "pending"


def test_signature_over_other_status_is_refused(enrolled) -> None:
    app, user_id, device = enrolled
    uuid = app.approval_request(user_id)
    signed_at = int(time.time())
    denied = device.sign(
        f"pushgate-answer|{uuid}|denied|{device.device_id}|{signed_at}"
    )

    response = device.answer(uuid, "approved", signed_at=signed_at, signature=denied)

    assert response.status_code == 400
    assert app.approval_status(uuid) == "pending"


def test_garbage_signature_is_refused(enrolled) -> None:
    app, user_id, device = enrolled
    uuid = app.approval_request(user_id)

    for signature in ("AAAA", "not base64!", "A" * 88):
        response = device.answer(uuid, "approved", signature=signature)
        assert response.status_code == 400

    assert app.approval_status(uuid) == "pending"


def test_stale_signed_at_is_refused(enrolled) -> None:
    app, user_id, device = enrolled
    uuid = app.approval_request(user_id)

    for signed_at in (int(time.time()) - 600, int(time.time()) + 600):
        response = device.answer(uuid, "approved", signed_at=signed_at)
        assert response.status_code == 400
        assert response.json()["reason"] == "stale_signature"

    assert app.approval_status(uuid) == "pending"


def test_expired_request_is_refused(enrolled) -> None:
    app, user_id, device = enrolled
    uuid = app.approval_request(user_id, seconds_to_expire=1)
    time.sleep(1.2)

    response = device.answer(uuid, "approved")

    assert response.status_code == 410
    assert app.approval_status(uuid) == "expired"


def test_revoked_device_is_refused(enrolled) -> None:
    app, user_id, device = enrolled
    uuid = app.approval_request(user_id)
    assert device.enroll(app.enrollment_token(user_id)).status_code == 200
    old_id = device.device_id
    # Enrolling again replaced the device; answer with a fresh enrollment's
    # id works, while the replaced one's would not be held any more.
    assert old_id is not None
    assert device.answer(uuid, "approved").status_code == 200


def test_answer_needs_csrf_token(enrolled) -> None:
    app, user_id, device = enrolled
    uuid = app.approval_request(user_id)
    device.csrf = "wrong-token-" + "x" * 20

    response = device.answer(uuid, "approved")

    assert response.status_code == 403
    assert app.approval_status(uuid) == "pending"


def test_answer_from_another_origin_is_refused(enrolled) -> None:
    app, user_id, device = enrolled
    uuid = app.approval_request(user_id)
    signed_at = int(time.time())
    text = f"pushgate-answer|{uuid}|approved|{device.device_id}|{signed_at}"

    response = device.client.post(
        "/authenticator/api/answers",
        json={
            "uuid": uuid,
            "status": "approved",
            "device_id": device.device_id,
            "signed_at": signed_at,
            "signature": device.sign(text),
        },
        headers={"X-CSRF-Token": device.csrf, "Origin": "https://evil.example"},
    )

    assert response.status_code == 403
    assert app.approval_status(uuid) == "pending"


def test_enrollment_link_works_once(service_app: ServiceClient, make_device) -> None:
    user_id = service_app.create_user()
    token = service_app.enrollment_token(user_id)
    first, second = make_device(), make_device()

    assert first.enroll(token).status_code == 200
    refused = second.enroll(token)

    assert refused.status_code == 400
    assert "already used or has expired" in refused.json()["message"]


def test_expired_enrollment_link_is_refused(
    service_app: ServiceClient, make_device, live_server
) -> None:
    user_id = service_app.create_user()
    token = service_app.enrollment_token(user_id)

    with clock.shifted(timedelta(minutes=11)):
        response = make_device().enroll(token)

    assert response.status_code == 400


def test_malformed_answers_are_400(enrolled) -> None:
    app, user_id, device = enrolled
    uuid = app.approval_request(user_id)

    for body in (
        {},
        {"uuid": uuid},
        {
            "uuid": uuid,
            "status": "maybe",
            "device_id": "x",
            "signed_at": 1,
            "signature": "x",
        },
        {
            "uuid": uuid,
            "status": "approved",
            "device_id": "x",
            "signed_at": "soon",
            "signature": "x",
        },
        {
            "uuid": uuid,
            "status": "approved",
            "device_id": "x",
            "signed_at": True,
            "signature": "x",
        },
        {
            "uuid": ["x"],
            "status": "approved",
            "device_id": 1,
            "signed_at": 1,
            "signature": {},
        },
    ):
        response = device.client.post(
            "/authenticator/api/answers",
            json=body,
            headers={"X-CSRF-Token": device.csrf},
        )
        assert response.status_code == 400, body

    response = device.client.post(
        "/authenticator/api/answers",
        content=b"[",
        headers={"X-CSRF-Token": device.csrf, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert app.approval_status(uuid) == "pending"
