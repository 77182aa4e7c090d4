"""Answers reach the application's callback URL, signed, and survive outages."""

from __future__ import annotations

import time

import httpx
import pytest
from authy.api import AuthyApiClient
from sqlalchemy import select

from pushgate import webhook_signature
from pushgate.db.models import ServiceCallbackDelivery
from pushgate.service.callbacks import CallbackRetry, retry_delay
from tests.service.receiver import CallbackReceiver
from tests.support.server import LiveServer, free_port


@pytest.fixture
def receiver():
    server = CallbackReceiver(free_port()).start()
    yield server
    server.stop()


def _deliveries(live_server: LiveServer, uuid: str) -> list[ServiceCallbackDelivery]:
    async def read() -> list[ServiceCallbackDelivery]:
        async with live_server.runtime.sessions() as session:
            rows = await session.scalars(
                select(ServiceCallbackDelivery)
                .where(ServiceCallbackDelivery.approval_uuid == uuid)
                .order_by(ServiceCallbackDelivery.id)
            )
            return list(rows)

    return live_server.call(read)


def _enrolled_app(make_app, make_device, callback_url: str):
    app = make_app(callback_url=callback_url)
    user_id = app.create_user()
    device = make_device()
    assert device.enroll(app.enrollment_token(user_id)).status_code == 200
    return app, user_id, device


def test_answer_is_delivered_signed_in_authy_shape(
    make_app, make_device, receiver, live_server
) -> None:
    app, user_id, device = _enrolled_app(make_app, make_device, receiver.url)
    uuid = app.approval_request(
        user_id,
        details={"Email": "ada@example.com", "IP": "203.0.113.9"},
        hidden_details={"login_attempt_id": "attempt-1"},
        seconds_to_expire=120,
    )
    assert device.answer(uuid, "approved").status_code == 200

    [callback] = receiver.wait_for(1)

    body = callback.body
    assert body["authy_id"] == user_id
    assert body["device_uuid"] == device.device_id
    assert body["callback_action"] == "approval_request_status"
    assert body["uuid"] == uuid
    assert body["status"] == "approved"
    transaction = body["approval_request"]["transaction"]
    assert transaction["details"] == {"Email": "ada@example.com", "IP": "203.0.113.9"}
    assert transaction["hidden_details"] == {"login_attempt_id": "attempt-1"}
    assert transaction["message"] == "Sign in to Example"
    assert transaction["status"] == "approved"
    assert transaction["uuid"] == uuid
    assert transaction["encrypted"] is False
    assert isinstance(transaction["device_signing_time"], int)
    assert isinstance(body["approval_request"]["expiration_timestamp"], int)
    assert body["signature"]

    signature = callback.headers["X-Authy-Signature"]
    nonce = callback.headers["X-Authy-Signature-Nonce"]
    assert webhook_signature.verify(
        signature, app.key, nonce, "POST", receiver.url, body
    )
    client = AuthyApiClient(app.key, api_uri=live_server.base_url)
    assert client.one_touch.validate_one_touch_signature(
        signature, nonce, "POST", receiver.url, body
    )
    wrong = AuthyApiClient("wrong", api_uri=live_server.base_url)
    assert not wrong.one_touch.validate_one_touch_signature(
        signature, nonce, "POST", receiver.url, body
    )

    deadline = time.monotonic() + 10
    while _deliveries(live_server, uuid)[0].outcome == "sending":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    [delivery] = _deliveries(live_server, uuid)
    assert delivery.outcome == "delivered"
    assert delivery.status_code == 200


def test_callback_endpoint_down_then_back(make_app, make_device, live_server) -> None:
    port = free_port()
    receiver = CallbackReceiver(port)
    app, user_id, device = _enrolled_app(make_app, make_device, receiver.url)
    uuid = app.approval_request(user_id)
    assert device.answer(uuid, "denied").status_code == 200

    deadline = time.monotonic() + 20
    while len(_deliveries(live_server, uuid)) < 2:
        assert time.monotonic() < deadline, "the failed delivery was not retried"
        time.sleep(0.2)
    failed = _deliveries(live_server, uuid)
    assert all(d.outcome == "failed" for d in failed if d.finished_at)
    assert "ConnectError" in failed[0].error

    receiver.start()
    try:
        [callback] = receiver.wait_for(1, timeout=40)
    finally:
        receiver.stop()

    assert callback.body["uuid"] == uuid
    assert callback.body["status"] == "denied"
    outcomes = [d.outcome for d in _deliveries(live_server, uuid)]
    assert outcomes[-1] == "delivered"
    assert outcomes.count("delivered") == 1


def test_server_errors_are_retried_and_refusals_are_not(
    make_app, make_device, live_server
) -> None:
    failing = CallbackReceiver(free_port(), status=503).start()
    refusing = CallbackReceiver(free_port(), status=401).start()
    try:
        app_a, user_a, device_a = _enrolled_app(make_app, make_device, failing.url)
        app_b, user_b, device_b = _enrolled_app(make_app, make_device, refusing.url)
        uuid_a = app_a.approval_request(user_a)
        uuid_b = app_b.approval_request(user_b)
        assert device_a.answer(uuid_a).status_code == 200
        assert device_b.answer(uuid_b).status_code == 200

        failing.wait_for(2, timeout=20)
        refusing.wait_for(1, timeout=20)
        failing.status = 200
        failing.wait_for(3, timeout=40)
        time.sleep(1.5)
    finally:
        failing.stop()
        refusing.stop()

    assert len(refusing.received) == 1
    assert [d.outcome for d in _deliveries(live_server, uuid_b)] == ["rejected"]
    outcomes = [d.outcome for d in _deliveries(live_server, uuid_a)]
    assert outcomes[:2] == ["failed", "failed"]
    assert outcomes[-1] == "delivered"


def test_retries_go_on_for_more_than_an_hour() -> None:
    strategy = CallbackRetry()
    total, attempts = 0, 0

    class FakeJob:
        def __init__(self, attempts: int) -> None:
            self.attempts = attempts

    from pushgate.service.callbacks import DeliveryFailed

    while True:
        decision = strategy.get_retry_decision(
            exception=DeliveryFailed("down"),
            job=FakeJob(attempts),  # type: ignore[arg-type]
        )
        if decision is None:
            break
        total += retry_delay(attempts + 1)
        attempts += 1

    assert total > 3600
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert retry_delay(30) == 600
    assert (
        strategy.get_retry_decision(exception=ValueError("bug"), job=FakeJob(0)) is None
    )


def test_answer_survives_the_process_that_recorded_it(
    make_app, make_device, receiver, database_url, tmp_path, live_server
) -> None:
    """Server B records the answer and stops before any worker runs; the
    callback was queued in the answer's own transaction, so server A's worker
    (another process, in production) still delivers it."""
    from tests.conftest import make_settings

    app = make_app(callback_url=receiver.url)
    user_id = app.create_user()
    other = LiveServer(make_settings(tmp_path, run_worker=False), database_url).start()
    try:
        device = make_device()
        device.client = httpx.Client(base_url=other.base_url, timeout=10)
        assert device.enroll(app.enrollment_token(user_id)).status_code == 200
        uuid = app.approval_request(user_id)
        assert device.answer(uuid, "approved").status_code == 200
        device.client.close()
    finally:
        other.stop()
        # procrastinate points every task at the job app created last; give
        # them back to the session server's (still open) app for later tests.
        for task in live_server.runtime.jobs.tasks.values():
            task.blueprint = live_server.runtime.jobs

    [callback] = receiver.wait_for(1, timeout=30)
    assert callback.body["uuid"] == uuid
    assert callback.body["status"] == "approved"
