"""The web app's client for the approval service: results, or errors as values."""

from __future__ import annotations

import asyncio
import secrets

import httpx

from pushgate.web.service_client import UNREACHABLE, ServiceClient, ServiceError
from tests.support.server import free_port


def client_for(site, api_key: str | None = None):
    async def call(method: str, *args):
        async with httpx.AsyncClient(timeout=5) as http:
            client = ServiceClient(
                http, site.base_url, api_key or site.runtime.service_api_key
            )
            return await getattr(client, method)(*args)

    return call


async def test_an_unreachable_service_is_an_error_value() -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        client = ServiceClient(http, f"http://127.0.0.1:{free_port()}", "key")
        result = await client.register_user("a@example.com", "1", "4155550000")

    assert result == ServiceError(UNREACHABLE)
    assert "key" not in repr(client)


def test_registering_returns_the_service_users_id(site) -> None:
    call = client_for(site)
    phone = str(6_500_000_000 + secrets.randbelow(10**6))

    first = site.run(lambda: call("register_user", "x@example.com", "1", phone))
    again = site.run(lambda: call("register_user", "x@example.com", "1", phone))

    assert isinstance(first, int)
    # The same phone in the same application is the same person.
    assert again == first
    status = site.run(lambda: call("user_status", first))
    assert status.registered is False
    link = site.run(lambda: call("enrollment_link", first))
    assert link.url.startswith(site.base_url + "/authenticator/enroll#")
    assert link.expires_at


def test_asking_for_an_approval_returns_its_uuid(site) -> None:
    call = client_for(site)
    phone = str(6_600_000_000 + secrets.randbelow(10**6))
    authy_id = site.run(lambda: call("register_user", "y@example.com", "1", phone))

    async def ask():
        async with httpx.AsyncClient(timeout=5) as http:
            client = ServiceClient(http, site.base_url, site.runtime.service_api_key)
            return await client.request_approval(
                authy_id,
                message="Log in to pushgate",
                details={"Email": "y@example.com"},
                hidden_details={"login_attempt_id": "attempt-1"},
                seconds_to_expire=60,
            )

    created = site.run(ask)
    assert not isinstance(created, ServiceError)
    assert len(created.uuid) >= 32


def test_the_services_field_problems_are_named_for_the_form(site) -> None:
    call = client_for(site)
    result = site.run(lambda: call("register_user", "x@example.com", "1", "12"))

    assert isinstance(result, ServiceError)
    assert result.status_code == 400
    assert result.field_errors == {
        "phone": "This phone number is invalid; check it and try again."
    }


def test_a_wrong_api_key_is_an_error_value(site) -> None:
    call = client_for(site, api_key="not-a-key")
    result = site.run(lambda: call("user_status", 1))

    assert isinstance(result, ServiceError)
    assert result.status_code == 401
    assert result.message.endswith(".")


async def test_a_hostile_answer_is_an_error_value_not_a_crash() -> None:
    """A service answering with JSON nested past any limit cannot crash the site."""
    body = b"[" * 100_000 + b"]" * 100_000

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            client = ServiceClient(http, f"http://127.0.0.1:{port}", "key")
            result = await client.register_user("a@example.com", "1", "4155550000")
    finally:
        server.close()
        await server.wait_closed()

    assert isinstance(result, ServiceError)
