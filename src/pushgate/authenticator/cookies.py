"""The authenticator's two cookies: the device tokens, and a CSRF token.

``pushgate_device`` holds the tokens of the devices this browser enrolled
(one per account, joined by ``.``); the service stores only their hashes.
``pushgate_authenticator_csrf`` holds a random token the pages repeat in a
``meta`` tag; every state-changing request must send it back in the
``X-CSRF-Token`` header (a cross-site page can neither read the cookie nor
set the header). Both are HttpOnly, SameSite=Strict and limited to
``/authenticator``.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

DEVICE_COOKIE = "pushgate_device"
CSRF_COOKIE = "pushgate_authenticator_csrf"
CSRF_HEADER = "X-CSRF-Token"
PATH = "/authenticator"
MAX_DEVICES = 8
DEVICE_MAX_AGE = 400 * 24 * 3600


def device_tokens(request: Request) -> list[str]:
    raw = request.cookies.get(DEVICE_COOKIE, "")
    tokens = [token for token in raw.split(".") if 20 <= len(token) <= 100]
    return tokens[:MAX_DEVICES]


def set_device_tokens(response: Response, tokens: list[str], secure: bool) -> None:
    response.set_cookie(
        DEVICE_COOKIE,
        ".".join(tokens[-MAX_DEVICES:]),
        max_age=DEVICE_MAX_AGE,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def csrf_token(request: Request) -> tuple[str, bool]:
    """The browser's CSRF token, and whether it is new (must be set)."""
    current = request.cookies.get(CSRF_COOKIE, "")
    if 20 <= len(current) <= 100:
        return current, False
    return secrets.token_urlsafe(32), True


def set_csrf_cookie(response: Response, token: str, secure: bool) -> None:
    response.set_cookie(
        CSRF_COOKIE, token, path=PATH, httponly=True, samesite="strict", secure=secure
    )


def csrf_problem(request: Request) -> str | None:
    """Why a state-changing request must be refused as cross-site, if it must."""
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host", ""):
        return "it came from another site"
    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    if not cookie or not header:
        return "its CSRF token is missing"
    if not hmac.compare_digest(cookie.encode(), header.encode()):
        return "its CSRF token is wrong"
    return None
