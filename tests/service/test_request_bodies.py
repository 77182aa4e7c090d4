"""Hostile JSON bodies on every endpoint that reads one: a 400, never a 500.

The service's parameters, the authenticator's calls and the site's callback
all read their bodies through :mod:`pushgate.safe_json`.
"""

from __future__ import annotations

import re

import httpx
import pytest

from pushgate import safe_json
from tests.service.conftest import Device, ServiceClient
from tests.support.server import LiveServer

DEEP_BODIES = {
    "3000 arrays": b"[" * 3000 + b"]" * 3000,
    "30000 arrays": b"[" * 30000 + b"]" * 30000,
    "3000 objects": b'{"a":' * 3000 + b"1" + b"}" * 3000,
    "deep inside an object": b'{"message": "x", "details": '
    + b"[" * 5000
    + b"]" * 5000
    + b"}",
}
DEPTH_MESSAGE = (
    f"The JSON body nests arrays or objects more than {safe_json.MAX_DEPTH} levels "
    "deep; send a flatter body."
)
JSON = {"Content-Type": "application/json"}

#: Service operations that read parameters from the body.
SERVICE_BODY_READERS = (
    ("POST", "/protected/json/users/new"),
    ("POST", "/onetouch/json/users/{user_id}/approval_requests"),
    ("POST", "/protected/json/phones/verification/start"),
    ("POST", "/protected/json/users/{user_id}/delete"),
    ("POST", "/protected/json/users/{user_id}/secret"),
    ("GET", "/protected/json/sms/{user_id}"),
    ("GET", "/protected/json/verify/{token}/{user_id}"),
)
AUTHENTICATOR_CALLS = (
    "/authenticator/api/devices",
    "/authenticator/api/phone/start",
    "/authenticator/api/phone/devices",
    "/authenticator/api/answers",
)


def _fill(template: str, user_id: int) -> str:
    values = {"user_id": str(user_id), "token": "1234567"}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x"), template)


@pytest.mark.parametrize("body", DEEP_BODIES.values(), ids=DEEP_BODIES.keys())
@pytest.mark.parametrize(("method", "template"), SERVICE_BODY_READERS)
def test_service_refuses_deep_json_with_400(
    service_app: ServiceClient, method: str, template: str, body: bytes
) -> None:
    path = _fill(template, service_app.create_user())

    response = service_app.client.request(method, path, content=body, headers=JSON)

    assert response.status_code == 400, response.text
    assert response.json()["message"] == DEPTH_MESSAGE
    assert response.json()["error_code"] == "60002"


def test_no_service_operation_fails_on_deep_json(
    service_app: ServiceClient, live_server: LiveServer
) -> None:
    user_id = service_app.create_user()
    document = live_server.app.openapi()
    operations = [
        (method.upper(), path)
        for path, methods in document["paths"].items()
        for method in methods
        if not path.startswith("/authenticator/") and not path.endswith("/events")
    ]
    assert len(operations) > 10

    for method, template in operations:
        response = service_app.client.request(
            method,
            _fill(template, user_id),
            content=DEEP_BODIES["30000 arrays"],
            headers=JSON,
        )
        assert response.status_code < 500, (method, template, response.text)


@pytest.mark.parametrize("body", DEEP_BODIES.values(), ids=DEEP_BODIES.keys())
@pytest.mark.parametrize("path", AUTHENTICATOR_CALLS)
def test_authenticator_refuses_deep_json_with_400(
    make_device, path: str, body: bytes
) -> None:
    device: Device = make_device()
    device.load_csrf()
    if len(body) > 8 * 1024:
        # Larger than the authenticator takes at all: refused for its size.
        body = body[: 4 * 1024] + body[-4 * 1024 :]

    response = device.client.post(
        path, content=body, headers={**JSON, "X-CSRF-Token": device.csrf}
    )

    assert response.status_code == 400, response.text
    assert response.json() == {"success": False, "message": DEPTH_MESSAGE}


def test_authenticator_refuses_a_body_over_8_kb_with_413(make_device) -> None:
    device: Device = make_device()
    device.load_csrf()

    response = device.client.post(
        "/authenticator/api/answers",
        content=b'{"uuid": "' + b"x" * 9000 + b'"}',
        headers={**JSON, "X-CSRF-Token": device.csrf},
    )

    assert response.status_code == 413
    assert response.json()["message"] == (
        "The request body is larger than 8 KB; send less."
    )


@pytest.mark.parametrize("body", DEEP_BODIES.values(), ids=DEEP_BODIES.keys())
def test_site_callback_refuses_deep_json_with_400(
    live_server: LiveServer, body: bytes
) -> None:
    response = httpx.post(
        f"{live_server.base_url}/authy/callback",
        content=body,
        headers={
            **JSON,
            "X-Authy-Signature": "x",
            "X-Authy-Signature-Nonce": "1",
        },
    )

    assert response.status_code == 400, response.text
    assert response.json() == {"success": False, "message": DEPTH_MESSAGE}


def test_service_refuses_a_body_over_64_kb_with_413(
    service_app: ServiceClient,
) -> None:
    response = service_app.client.post(
        "/protected/json/users/new",
        content=b'{"user": {"email": "' + b"a" * 70000 + b'"}}',
        headers=JSON,
    )

    assert response.status_code == 413
    assert response.json()["success"] is False
