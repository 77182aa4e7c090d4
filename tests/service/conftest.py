"""Fixtures for the approval service: applications, users and a signing device."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from pushgate.service.apps import create_application
from tests.support.server import LiveServer

#: The number each approval request asks to match, by uuid (the site shows it
#: on the login page; the tests play the person who reads it there).
NUMBERS: dict[str, int] = {}


@dataclass
class ServiceClient:
    id: int
    key: str
    client: httpx.Client

    def create_user(self, phone: str | None = None, country_code: int = 1) -> int:
        phone = phone or f"555{secrets.randbelow(10**7):07d}"
        response = self.client.post(
            "/protected/json/users/new",
            json={
                "user": {
                    "email": f"u{phone}@example.com",
                    "cellphone": phone,
                    "country_code": country_code,
                }
            },
        )
        assert response.status_code == 200, response.text
        return int(response.json()["user"]["id"])

    def enrollment_token(self, user_id: int) -> str:
        response = self.client.post(f"/protected/json/users/{user_id}/enrollment")
        assert response.status_code == 200, response.text
        return response.json()["enrollment"]["url"].split("#", 1)[1]

    def approval_request(self, user_id: int, **extra: object) -> str:
        body = {"message": "Sign in to Example", **extra}
        response = self.client.post(
            f"/onetouch/json/users/{user_id}/approval_requests", json=body
        )
        assert response.status_code == 200, response.text
        created = response.json()["approval_request"]
        if isinstance(created.get("number_match"), int):
            NUMBERS[created["uuid"]] = created["number_match"]
        return created["uuid"]

    def approval_status(self, uuid: str) -> str:
        response = self.client.get(f"/onetouch/json/approval_requests/{uuid}")
        assert response.status_code == 200, response.text
        return response.json()["approval_request"]["status"]


@pytest.fixture
def make_app(live_server: LiveServer) -> Iterator[Callable[..., ServiceClient]]:
    clients: list[httpx.Client] = []

    def make(callback_url: str | None = None, name: str = "test app") -> ServiceClient:
        async def create() -> tuple[int, str]:
            runtime = live_server.runtime
            async with runtime.sessions.begin() as session:
                app, key = await create_application(
                    session,
                    runtime.settings.resolved_secret_key(),
                    name,
                    callback_url,
                )
                return app.id, key

        app_id, key = live_server.call(create)
        client = httpx.Client(
            base_url=live_server.base_url,
            headers={"X-Authy-API-Key": key},
            timeout=10,
        )
        clients.append(client)
        return ServiceClient(app_id, key, client)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def service_app(make_app: Callable[..., ServiceClient]) -> ServiceClient:
    return make_app()


class Device:
    """A phone as the authenticator page is one: a P-256 key and a cookie."""

    def __init__(self, base_url: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.client = httpx.Client(base_url=base_url, timeout=10)
        self.device_id: str | None = None
        self.csrf = ""

    def public_key_b64(self) -> str:
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        return base64.b64encode(der).decode()

    def load_csrf(self) -> None:
        response = self.client.get("/authenticator/enroll")
        assert response.status_code == 200
        self.csrf = self.client.cookies["pushgate_authenticator_csrf"]

    def enroll(self, token: str) -> httpx.Response:
        if not self.csrf:
            self.load_csrf()
        response = self.client.post(
            "/authenticator/api/devices",
            json={"token": token, "public_key": self.public_key_b64()},
            headers={"X-CSRF-Token": self.csrf},
        )
        if response.status_code == 200:
            self.device_id = response.json()["device"]["id"]
        return response

    def sign(self, text: str) -> str:
        der = self.key.sign(text.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()

    def answer(
        self,
        uuid: str,
        status: str = "approved",
        *,
        signed_at: int | None = None,
        device_id: str | None = None,
        signature: str | None = None,
        picked: int | None = None,
        report: bool = False,
    ) -> httpx.Response:
        """Answer as the page does: an approval picks the number shown."""
        device_id = device_id or self.device_id
        signed_at = int(time.time()) if signed_at is None else signed_at
        if status == "approved" and picked is None:
            picked = NUMBERS.get(uuid)
        body: dict[str, object] = {
            "uuid": uuid,
            "status": status,
            "device_id": device_id,
            "signed_at": signed_at,
        }
        fields = ["pushgate-answer", uuid, status, str(device_id), str(signed_at)]
        if picked is not None or report:
            body["picked_number"] = picked
            body["report"] = report
            fields += [
                "" if picked is None else str(picked),
                "report" if report else "",
            ]
        body["signature"] = signature or self.sign("|".join(fields))
        return self.client.post(
            "/authenticator/api/answers",
            json=body,
            headers={"X-CSRF-Token": self.csrf},
        )

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def make_device(live_server: LiveServer) -> Iterator[Callable[[], Device]]:
    devices: list[Device] = []

    def make() -> Device:
        device = Device(live_server.base_url)
        devices.append(device)
        return device

    yield make
    for device in devices:
        device.close()


@pytest.fixture
def enrolled(
    service_app: ServiceClient, make_device: Callable[[], Device]
) -> tuple[ServiceClient, int, Device]:
    """An application, one of its users, and that user's enrolled device."""
    user_id = service_app.create_user()
    device = make_device()
    assert device.enroll(service_app.enrollment_token(user_id)).status_code == 200
    return service_app, user_id, device
