"""Security headers on every response; streams pass through unbuffered."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from pushgate.security.headers import CONTENT_SECURITY_POLICY, SecurityHeadersMiddleware
from pushgate.security.proxy import TrustedProxies
from tests.support.server import free_port

release = threading.Event()


async def stream(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"data: first\n\n"
        while not release.is_set():
            await asyncio.sleep(0.01)
        yield b"data: second\n\n"

    return StreamingResponse(chunks(), media_type="text/event-stream")


async def framed(request: Request) -> Response:
    return PlainTextResponse("ok", headers={"X-Frame-Options": "SAMEORIGIN"})


async def plain(request: Request) -> Response:
    return PlainTextResponse("ok")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    app = Starlette(
        routes=[Route("/", plain), Route("/stream", stream), Route("/framed", framed)]
    )
    wrapped = SecurityHeadersMiddleware(app, TrustedProxies("127.0.0.1"))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            wrapped,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            proxy_headers=False,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    release.set()
    server.should_exit = True
    thread.join(5)


def test_every_response_has_the_headers_and_no_hsts_over_http(base_url: str) -> None:
    response = httpx.get(base_url + "/")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in response.headers
    # A header the route chose itself is kept.
    assert httpx.get(base_url + "/framed").headers["x-frame-options"] == "SAMEORIGIN"


def test_hsts_when_a_trusted_proxy_says_https(base_url: str) -> None:
    response = httpx.get(base_url + "/", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_a_stream_is_not_buffered_or_compressed(base_url: str) -> None:
    release.clear()
    with (
        httpx.Client(timeout=5) as client,
        client.stream(
            "GET", base_url + "/stream", headers={"Accept-Encoding": "gzip, br"}
        ) as response,
    ):
        assert "content-encoding" not in response.headers
        assert response.headers["x-content-type-options"] == "nosniff"
        chunks = response.iter_raw()
        # The first event arrives while the second is still held back.
        assert next(chunks) == b"data: first\n\n"
        release.set()
        assert b"".join(chunks) == b"data: second\n\n"
