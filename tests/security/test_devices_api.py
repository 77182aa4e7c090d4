"""The account page's service calls: a user's devices, their removal, events."""

from __future__ import annotations


def test_devices_are_listed_and_removed(enrolled) -> None:
    app, user_id, device = enrolled
    listed = app.client.get(f"/protected/json/users/{user_id}/devices").json()
    assert [d["id"] for d in listed["devices"]] == [device.device_id]

    removed = app.client.post(
        f"/protected/json/users/{user_id}/devices/{device.device_id}/remove"
    )
    assert removed.status_code == 200 and removed.json()["success"] is True
    assert (
        app.client.get(f"/protected/json/users/{user_id}/devices").json()["devices"]
        == []
    )
    # A removed device can no longer answer.
    uuid = app.approval_request(user_id)
    assert device.answer(uuid).status_code >= 400
    assert app.approval_status(uuid) == "pending"

    again = app.client.post(
        f"/protected/json/users/{user_id}/devices/{device.device_id}/remove"
    )
    assert again.status_code == 404 and again.json()["success"] is False
    events = app.client.get(f"/protected/json/users/{user_id}/security_events").json()
    removal = [e for e in events["events"] if e["event"] == "device_removed"]
    assert removal and removal[0]["device_id"] == device.device_id


def test_another_applications_user_is_not_found(enrolled, make_app) -> None:
    app, user_id, device = enrolled
    other = make_app(name="other app")
    for path in ("devices", "security_events"):
        response = other.client.get(f"/protected/json/users/{user_id}/{path}")
        assert response.status_code == 404
    response = other.client.post(
        f"/protected/json/users/{user_id}/devices/{device.device_id}/remove"
    )
    assert response.status_code == 404
    assert app.client.get(f"/protected/json/users/{user_id}/devices").json()["devices"]


def test_a_missing_or_wrong_key_is_refused(enrolled) -> None:
    app, user_id, _ = enrolled
    for key in ("", "wrong"):
        response = app.client.get(
            f"/protected/json/users/{user_id}/devices",
            headers={"X-Authy-API-Key": key},
        )
        assert response.status_code == 401
