"""Registering, looking up, enrolling and deleting users over the API."""

from __future__ import annotations

import httpx

from tests.service.conftest import ServiceClient


def test_create_user_returns_authy_shape(service_app: ServiceClient) -> None:
    response = service_app.client.post(
        "/protected/json/users/new",
        json={
            "user": {
                "email": "ada@example.com",
                "cellphone": "405-342-5699",
                "country_code": "57",
            }
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "User created successfully."
    assert body["success"] is True
    assert isinstance(body["user"]["id"], int)


def test_same_phone_returns_same_id(service_app: ServiceClient) -> None:
    first = service_app.create_user("2015550123")
    second = service_app.client.post(
        "/protected/json/users/new",
        data={
            "user[email]": "other@example.com",
            "user[cellphone]": "201.555.0123",
            "user[country_code]": "1",
        },
    )

    assert second.status_code == 200
    assert second.json()["user"]["id"] == first


def test_same_phone_in_another_application_is_another_user(
    make_app,
) -> None:
    one, two = make_app(), make_app()

    assert one.create_user("2015550199") != two.create_user("2015550199")


def test_parameters_in_query_string_are_accepted(service_app: ServiceClient) -> None:
    response = service_app.client.post(
        "/protected/json/users/new",
        params={
            "user[email]": "q@example.com",
            "user[cellphone]": "2015550111",
            "user[country_code]": "1",
        },
    )

    assert response.status_code == 200


def test_invalid_user_gets_400_with_fields(service_app: ServiceClient) -> None:
    response = service_app.client.post(
        "/protected/json/users/new",
        json={"user": {"email": "nope", "cellphone": "abc-12", "country_code": 1}},
    )

    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["message"] == "User was not valid"
    assert body["error_code"] == "60027"
    assert body["errors"]["cellphone"] == "is invalid"
    assert body["errors"]["email"] == "is invalid"
    assert body["cellphone"] == "is invalid"


def test_status_of_new_user_is_not_registered(service_app: ServiceClient) -> None:
    user_id = service_app.create_user("2015550142")

    response = service_app.client.get(f"/protected/json/users/{user_id}/status")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["message"] == "User status."
    status = body["status"]
    assert status["authy_id"] == user_id
    assert status["registered"] is False
    assert status["country_code"] == 1
    assert status["phone_number"] == "XXX-XXX-0142"
    assert status["devices"] == []


def test_status_registered_once_a_device_enrolls(enrolled) -> None:
    app, user_id, _device = enrolled

    status = app.client.get(f"/protected/json/users/{user_id}/status").json()

    assert status["status"]["registered"] is True
    assert status["status"]["devices"]


def test_unknown_and_foreign_users_are_not_found(make_app) -> None:
    one, two = make_app(), make_app()
    foreign = two.create_user()

    for user in (str(foreign), "999999999", "tony", "-1"):
        response = one.client.get(f"/protected/json/users/{user}/status")
        assert response.status_code == 404
        body = response.json()
        assert body == {
            "message": "User not found.",
            "success": False,
            "errors": {"message": "User not found."},
            "error_code": "60026",
        }


def test_enrollment_link_has_token_in_fragment(
    service_app: ServiceClient, live_server
) -> None:
    user_id = service_app.create_user()

    response = service_app.client.post(f"/protected/json/users/{user_id}/enrollment")

    assert response.status_code == 200
    enrollment = response.json()["enrollment"]
    prefix = f"{live_server.base_url}/authenticator/enroll#"
    assert enrollment["url"].startswith(prefix)
    assert len(enrollment["url"]) > len(prefix) + 30
    assert enrollment["expires_at"].endswith("Z")


def test_delete_user_then_not_found(enrolled) -> None:
    app, user_id, _device = enrolled

    for path in ("delete", "remove"):
        response = app.client.post(f"/protected/json/users/{user_id}/{path}")
        if path == "delete":
            assert response.status_code == 200
            assert response.json() == {
                "message": "User removed from application",
                "success": True,
            }
        else:
            assert response.status_code == 404

    assert app.client.get(f"/protected/json/users/{user_id}/status").status_code == 404
    uuid_response = app.client.post(
        f"/onetouch/json/users/{user_id}/approval_requests", json={"message": "x"}
    )
    assert uuid_response.status_code == 404


def test_registering_a_deleted_user_again_keeps_the_id_but_not_the_devices(
    enrolled,
) -> None:
    app, user_id, _device = enrolled
    status = app.client.get(f"/protected/json/users/{user_id}/status").json()
    phone_tail = status["status"]["phone_number"][-4:]
    assert app.client.post(f"/protected/json/users/{user_id}/delete").status_code == 200

    again = app.client.post(
        "/protected/json/users/new",
        json={
            "user": {
                "email": "back@example.com",
                "cellphone": f"555000{phone_tail}",
                "country_code": 1,
            }
        },
    )
    assert again.status_code == 200


def test_malformed_bodies_are_400_not_500(service_app: ServiceClient) -> None:
    for content, kind in (
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"\xff\xfe", "application/x-www-form-urlencoded"),
        (b"user=1", "application/x-www-form-urlencoded"),
        (b'{"user": "x"}', "application/json"),
        (
            b'{"user": {"email": ["a"], "cellphone": {}, "country_code": null}}',
            "application/json",
        ),
    ):
        response = service_app.client.post(
            "/protected/json/users/new", content=content, headers={"content-type": kind}
        )
        assert response.status_code == 400, (content, response.text)
        assert response.json()["success"] is False


def test_key_may_travel_as_query_parameter(
    service_app: ServiceClient, live_server
) -> None:
    response = httpx.get(
        f"{live_server.base_url}/protected/json/app/details",
        params={"api_key": service_app.key},
    )

    assert response.status_code == 200
    assert response.json()["app"]["app_id"] == service_app.id
