"""The official ``authy`` Python client (2.2.6) against a running service.

A site written for the Authy API points the client at pushgate with
``api_uri`` and works unchanged.
"""

from __future__ import annotations

import time

import pytest
from authy.api import AuthyApiClient

from tests.service.receiver import CallbackReceiver
from tests.support.server import free_port


@pytest.fixture
def receiver():
    server = CallbackReceiver(free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def authy(make_app, receiver, live_server):
    app = make_app(callback_url=receiver.url)
    return app, AuthyApiClient(app.key, api_uri=live_server.base_url)


def test_users_create_status_delete(authy) -> None:
    _app, client = authy

    user = client.users.create("ada@example.com", "405-342-5699", 57)
    assert user.ok(), user.errors()
    assert isinstance(user.id, int)

    again = client.users.create("ada2@example.com", "4053425699", "57")
    assert again.ok()
    assert again.id == user.id

    status = client.users.status(user.id)
    assert status.ok()
    assert status["status"]["registered"] is False
    assert status["status"]["authy_id"] == user.id

    deleted = client.users.delete(user.id)
    assert deleted.ok(), deleted.errors()
    gone = client.users.status(user.id)
    assert not gone.ok()
    assert gone.errors()["message"] == "User not found."


def test_invalid_user_reports_errors(authy) -> None:
    _app, client = authy

    user = client.users.create("not-an-email", "12", 1)

    assert not user.ok()
    assert user.id is None
    assert user.errors()["cellphone"] == "is invalid"


def test_wrong_key_is_reported(live_server) -> None:
    client = AuthyApiClient("wrong-key", api_uri=live_server.base_url)

    user = client.users.create("ada@example.com", "4053425699", 1)

    assert not user.ok()
    assert user.errors()["message"] == "Invalid API key"
    assert user.response.status_code == 401


def test_one_touch_pending_approved_and_callback(
    authy, make_device, receiver, live_server
) -> None:
    app, client = authy
    user = client.users.create("grace@example.com", "2025550143", 1)
    device = make_device()
    assert device.enroll(app.enrollment_token(user.id)).status_code == 200
    assert client.users.status(user.id)["status"]["registered"] is True

    sent = client.one_touch.send_request(
        user.id,
        "Login requested for Example",
        seconds_to_expire=120,
        details={"Email": "grace@example.com", "IP": "198.51.100.4"},
        hidden_details={"login_attempt_id": "a-1"},
        logos=[{"res": "default", "url": "https://example.com/logo.png"}],
    )
    assert sent.ok(), sent.errors()
    assert sent.status() is True
    uuid = sent.get_uuid()
    assert uuid

    pending = client.one_touch.get_approval_status(uuid)
    assert pending.ok()
    assert pending["approval_request"]["status"] == "pending"

    number = sent["approval_request"]["number_match"]
    assert device.answer(uuid, "approved", picked=number).status_code == 200
    approved = client.one_touch.get_approval_status(uuid)
    assert approved["approval_request"]["status"] == "approved"

    [callback] = receiver.wait_for(1)
    assert callback.body["uuid"] == uuid
    assert client.one_touch.validate_one_touch_signature(
        callback.headers["X-Authy-Signature"],
        callback.headers["X-Authy-Signature-Nonce"],
        "POST",
        receiver.url,
        callback.body,
    )


def test_one_touch_expires(authy) -> None:
    _app, client = authy
    user = client.users.create("kay@example.com", "2025550166", 1)

    sent = client.one_touch.send_request(user.id, "Log in", seconds_to_expire=1)
    assert sent.ok()
    time.sleep(1.2)

    status = client.one_touch.get_approval_status(sent.get_uuid())
    assert status["approval_request"]["status"] == "expired"


def test_one_touch_default_expiry_when_not_given(authy) -> None:
    _app, client = authy
    user = client.users.create("lin@example.com", "2025550177", 1)

    sent = client.one_touch.send_request(user.id, "Log in")

    assert sent.ok(), sent.errors()
    status = client.one_touch.get_approval_status(sent.get_uuid())
    assert status["approval_request"]["seconds_to_expire"] == 86400


def test_app_details_stats_and_phones(authy) -> None:
    app, client = authy
    client.users.create("mo@example.com", "2025550188", 1)

    details = client.apps.fetch()
    assert details.ok()
    assert details["app"]["app_id"] == app.id
    stats = client.stats.fetch()
    assert stats.ok()
    assert stats["total_users"] == 1

    info = client.phones.info("2025550188", "1")
    assert info.ok()

    started = client.phones.verification_start("2025550188", "1", via="sms")
    assert started.ok(), started.errors()
    wrong = client.phones.verification_check("2025550188", "1", "0000")
    assert not wrong.ok()
