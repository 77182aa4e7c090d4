"""Security headers on every response, added without touching the body.

A pure ASGI middleware: it edits only the ``http.response.start`` message and
passes every body chunk on as it comes, so event streams stay unbuffered and
uncompressed. A header a route set itself is left alone.

The Content-Security-Policy allows scripts and styles only from this origin
(``'self'``), which also forbids inline ``<script>``, event-handler attributes
and ``style=`` attributes; pages keep their JavaScript in ``/static/*.js`` and
their styles in ``/static/*.css``. Images may also be ``data:`` URIs, which
only ever hold pictures (QR codes), never script.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pushgate.security.proxy import TrustedProxies, client_view

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

#: Sent on every response.
COMMON_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    # Same-origin only: enrollment links carry a token in their URL, and
    # same-origin (unlike no-referrer) keeps the Origin of form posts intact.
    ("referrer-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
)

#: Sent only on responses to HTTPS requests; a year, as browsers expect.
HSTS = ("strict-transport-security", "max-age=31536000")


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, trusted_proxies: TrustedProxies) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        https = client_view(scope, self.trusted_proxies).scheme == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in COMMON_HEADERS:
                    headers.setdefault(name, value)
                if https:
                    headers.setdefault(*HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)
