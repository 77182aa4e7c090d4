"""Prompt bombing: one pending push per user, a rate per user, numbers to match."""

from __future__ import annotations

from pushgate.security.push_limits import SUPERSEDED


def create(app, user_id: int):
    return app.client.post(
        f"/onetouch/json/users/{user_id}/approval_requests",
        json={"message": "Sign in to Example", "seconds_to_expire": 120},
    )


def test_each_request_carries_a_two_digit_number(service_app) -> None:
    user_id = service_app.create_user()
    body = create(service_app, user_id).json()
    assert body["success"] is True
    number = body["approval_request"]["number_match"]
    assert isinstance(number, int) and 10 <= number <= 99


def test_a_new_request_expires_the_pending_one(service_app, live_server) -> None:
    user_id = service_app.create_user()
    first = create(service_app, user_id).json()["approval_request"]["uuid"]
    second = create(service_app, user_id).json()["approval_request"]["uuid"]
    assert service_app.approval_status(first) == "expired"
    assert service_app.approval_status(second) == "pending"

    async def reason() -> str:
        from pushgate.db.models import ServiceApprovalRequest

        async with live_server.runtime.sessions() as session:
            row = await session.get(ServiceApprovalRequest, first)
            return row.reason

    assert live_server.call(reason) == SUPERSEDED
    events = service_app.client.get(
        f"/protected/json/users/{user_id}/security_events"
    ).json()["events"]
    names = [event["event"] for event in events]
    assert names.count("push_sent") == 2 and "push_superseded" in names


def test_more_requests_than_the_rate_are_refused(service_app, live_server) -> None:
    limit = live_server.runtime.settings.push_limit_per_user
    user_id = service_app.create_user()
    for _ in range(limit):
        assert create(service_app, user_id).status_code == 200
    refused = create(service_app, user_id)
    assert refused.status_code == 429
    body = refused.json()
    assert body["success"] is False and body["error_code"] == "60003"
    assert "Too many approval requests" in body["message"]
    assert "retry in" in body["message"]
    # Another user of the same application is not affected.
    assert create(service_app, service_app.create_user()).status_code == 200
    events = service_app.client.get(
        f"/protected/json/users/{user_id}/security_events"
    ).json()["events"]
    refusals = [e for e in events if e["event"] == "push_refused"]
    assert refusals and refusals[0]["detail"]["reason"] == "rate"
