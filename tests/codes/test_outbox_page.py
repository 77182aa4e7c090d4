"""The outbox page: only for this machine, and only with the outbox sender."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from pushgate.service.local_only import is_loopback, names_loopback
from pushgate.service.outbox_page import router as outbox_router
from tests.codes.conftest import ServiceApp, code_in, new_user, wait_for_message
from tests.support.server import LiveServer


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("192.168.1.20", False),
        ("203.0.113.5", False),
        ("::ffff:203.0.113.5", False),
        ("testclient", False),
        ("", False),
        (None, False),
    ],
)
def test_loopback_addresses(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("localhost", True),
        ("LOCALHOST:8000", True),
        ("127.0.0.1", True),
        ("127.0.0.1:8731", True),
        ("[::1]", True),
        ("[::1]:8731", True),
        ("attacker.example", False),
        ("attacker.example:8731", False),
        ("localhost.attacker.example", False),
        ("127.0.0.1.nip.io:8731", False),
        ("127.0.0.2", False),
        ("[::2]:8731", False),
        ("localhost:port", False),
        ("", False),
        (None, False),
    ],
)
def test_loopback_host_headers(host: str | None, local: bool) -> None:
    assert names_loopback(host) is local


def test_outbox_shows_messages_to_local_clients(
    live_server: LiveServer, service_app: ServiceApp
) -> None:
    user = new_user(live_server, service_app)
    assert service_app.client.users.request_sms(user.id, {"force": True}).ok()
    message = wait_for_message(live_server, user.number)

    page = httpx.get(f"{live_server.base_url}/outbox", params={"to": user.number})
    assert page.status_code == 200
    for host in (f"localhost:{live_server.port}", f"[::1]:{live_server.port}"):
        by_name = httpx.get(
            f"{live_server.base_url}/outbox",
            params={"to": user.number},
            headers={"Host": host},
        )
        assert by_name.status_code == 200
        assert code_in(message.body) in by_name.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert f'data-to="{user.number}"' in page.text
    assert code_in(message.body) in page.text
    assert '<meta name="viewport"' in page.text
    assert "<script" not in page.text


def test_outbox_refuses_clients_from_elsewhere(
    live_server: LiveServer, service_app: ServiceApp
) -> None:
    user = new_user(live_server, service_app)
    assert service_app.client.users.request_sms(user.id, {"force": True}).ok()
    message = wait_for_message(live_server, user.number)

    # A reverse proxy on this machine forwarding a visitor from outside.
    page = httpx.get(
        f"{live_server.base_url}/outbox",
        headers={"X-Forwarded-For": "203.0.113.7"},
    )
    assert page.status_code == 403
    assert "only to clients on this machine" in page.text
    assert code_in(message.body) not in page.text
    assert user.number not in page.text

    # A proxy that claims the visitor is local is a proxy all the same.
    claimed = httpx.get(
        f"{live_server.base_url}/outbox",
        headers={"X-Forwarded-For": "127.0.0.1"},
    )
    assert claimed.status_code == 403
    forwarded = httpx.get(
        f"{live_server.base_url}/outbox", headers={"Forwarded": "for=127.0.0.1"}
    )
    assert forwarded.status_code == 403


def test_outbox_refuses_a_rebound_name(
    live_server: LiveServer, service_app: ServiceApp
) -> None:
    # A page at attacker.example whose name now points at 127.0.0.1: the
    # request comes from this machine but names the attacker's host.
    user = new_user(live_server, service_app)
    assert service_app.client.users.request_sms(user.id, {"force": True}).ok()
    message = wait_for_message(live_server, user.number)

    for host in (
        f"attacker.example:{live_server.port}",
        "attacker.example",
        f"localhost.attacker.example:{live_server.port}",
    ):
        page = httpx.get(f"{live_server.base_url}/outbox", headers={"Host": host})
        assert page.status_code == 403, host
        assert code_in(message.body) not in page.text
        assert user.number not in page.text


async def test_outbox_does_not_exist_with_another_sender() -> None:
    app = FastAPI()
    app.include_router(outbox_router)
    app.state.runtime = SimpleNamespace(
        settings=SimpleNamespace(message_sender="twilio")
    )
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
        page = await client.get("/outbox")
    assert page.status_code == 404
