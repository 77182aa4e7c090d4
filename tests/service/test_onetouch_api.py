"""Creating approval requests and reading their status."""

from __future__ import annotations

import time

from tests.service.conftest import ServiceClient


def test_create_returns_uuid(service_app: ServiceClient) -> None:
    user_id = service_app.create_user()

    response = service_app.client.post(
        f"/onetouch/json/users/{user_id}/approval_requests",
        json={
            "message": "Log in to Example",
            "details": {"Email": "ada@example.com", "IP": "203.0.113.9"},
            "hidden_details": {"login_attempt_id": "abc"},
            "seconds_to_expire": 120,
            "logos": [{"res": "default", "url": "https://example.com/logo.png"}],
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert len(body["approval_request"]["uuid"]) == 36


def test_form_encoded_request_with_brackets(service_app: ServiceClient) -> None:
    user_id = service_app.create_user()

    response = service_app.client.post(
        f"/onetouch/json/users/{user_id}/approval_requests",
        data={
            "message": "Log in",
            "details[Email]": "ada@example.com",
            "hidden_details[attempt]": "a1",
            "logos[][res]": "default",
            "logos[][url]": "https://example.com/a.png",
        },
    )

    assert response.status_code == 200, response.text


def test_status_shape_while_pending(service_app: ServiceClient) -> None:
    user_id = service_app.create_user()
    uuid = service_app.approval_request(user_id)

    response = service_app.client.get(f"/onetouch/json/approval_requests/{uuid}")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    request = body["approval_request"]
    assert request["status"] == "pending"
    assert request["uuid"] == uuid
    assert request["_authy_id"] == user_id
    assert request["processed_at"] is None
    assert request["seconds_to_expire"] == 86400
    assert request["created_at"].endswith("Z")


def test_request_turns_expired_by_itself(service_app: ServiceClient) -> None:
    user_id = service_app.create_user()
    uuid = service_app.approval_request(user_id, seconds_to_expire=1)
    assert service_app.approval_status(uuid) == "pending"

    time.sleep(1.2)

    assert service_app.approval_status(uuid) == "expired"


def test_message_is_required(service_app: ServiceClient) -> None:
    user_id = service_app.create_user()

    for body in ({}, {"message": ""}, {"message": ["x"]}, {"message": "x" * 201}):
        response = service_app.client.post(
            f"/onetouch/json/users/{user_id}/approval_requests", json=body
        )
        assert response.status_code == 400
        assert response.json()["success"] is False
        assert "message" in response.json()["errors"]


def test_bad_parameters_are_400(service_app: ServiceClient) -> None:
    user_id = service_app.create_user()
    for extra in (
        {"seconds_to_expire": "soon"},
        {"seconds_to_expire": -5},
        {"seconds_to_expire": 10**9},
        {"details": "plain text"},
        {"details": [1, 2]},
        {"hidden_details": {"a": [1]}},
        {"logos": "x"},
        {"logos": [{"res": "huge", "url": "https://e.com/a.png"}]},
        {"logos": [{"res": "low", "url": "javascript:alert(1)"}]},
    ):
        response = service_app.client.post(
            f"/onetouch/json/users/{user_id}/approval_requests",
            json={"message": "m", **extra},
        )
        assert response.status_code == 400, (extra, response.text)


def test_null_seconds_to_expire_means_default(service_app: ServiceClient) -> None:
    user_id = service_app.create_user()

    uuid = service_app.approval_request(user_id, seconds_to_expire=None)

    response = service_app.client.get(f"/onetouch/json/approval_requests/{uuid}")
    assert response.json()["approval_request"]["seconds_to_expire"] == 86400


def test_unknown_or_foreign_request_is_404(make_app) -> None:
    one, two = make_app(), make_app()
    uuid = two.approval_request(two.create_user())

    for candidate in (uuid, "nope", "x" * 100):
        response = one.client.get(f"/onetouch/json/approval_requests/{candidate}")
        assert response.status_code == 404
        assert response.json()["success"] is False


def test_request_for_unknown_user_is_404(service_app: ServiceClient) -> None:
    response = service_app.client.post(
        "/onetouch/json/users/424242424/approval_requests", json={"message": "x"}
    )

    assert response.status_code == 404
    assert response.json()["message"] == "User not found."


def test_app_details_and_stats(service_app: ServiceClient) -> None:
    service_app.create_user()

    details = service_app.client.get("/protected/json/app/details").json()
    stats = service_app.client.get("/protected/json/app/stats").json()

    assert details["success"] is True
    assert details["app"]["app_id"] == service_app.id
    assert details["app"]["name"] == "test app"
    assert stats["success"] is True
    assert stats["count"] == 12
    assert stats["total_users"] == 1
    assert stats["stats"][-1]["users_count"] == 1
    assert stats["stats"][-1]["api_calls_count"] >= 2
