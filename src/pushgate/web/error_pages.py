"""Error answers a person can read: pages in the site's layout for browsers.

A browser that opens a wrong address (404), uses one the wrong way (405), or
sends a form that cannot be read (400) gets a page like every other page of
the site, readable on a phone, with a way back. Programs keep the JSON they
had: the approval service's API, the authenticator's API, the callback, the
event streams, and any request that asks for JSON and not HTML, which get
FastAPI's own answers; the service's Authy-style errors never reach here.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from pushgate.web.templating import render

#: Paths whose clients are programs, which always get JSON (or plain) errors.
API_PREFIXES = (
    "/protected/",
    "/onetouch/",
    "/authenticator/api/",
    "/authy/",
    "/static/",
    "/openapi.json",
    "/healthz",
    "/readyz",
)

_PAGES: dict[int, tuple[str, str]] = {
    400: (
        "This request could not be read",
        "What your browser sent could not be understood. Go back, reload the "
        "page and try again.",
    ),
    403: (
        "Not allowed",
        "This page is not open to you. Go back, reload the page and try again.",
    ),
    404: (
        "Page not found",
        "There is no page at this address. Check the address, or start again "
        "from the home page.",
    ),
    405: (
        "This page does not work that way",
        "This address does not take that kind of request. Open it from a link "
        "or a form of this site instead.",
    ),
    500: (
        "Something went wrong on our side",
        "The page could not be made. Wait a moment, then try again.",
    ),
}
_OTHER = (
    "This request could not be completed",
    "Go back, reload the page and try again.",
)


def wants_page(request: Request) -> bool:
    """Whether the client is a person's browser (HTML) rather than a program."""
    if request.url.path.startswith(API_PREFIXES):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept or "application/json" not in accept


def error_page(
    request: Request,
    status_code: int,
    *,
    title: str | None = None,
    text: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A page in the site's layout saying what went wrong and what to do."""
    default_title, default_text = _PAGES.get(status_code, _OTHER)
    response = render(
        request,
        "web/error.html",
        session=None,
        status_code=status_code,
        title=title or default_title,
        text=text or default_text,
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if not wants_page(request):
        return await http_exception_handler(request, error)
    if error.status_code < 400 or error.status_code in (204, 304):
        return await http_exception_handler(request, error)
    return error_page(request, error.status_code, headers=error.headers)


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    if not wants_page(request):
        return await request_validation_exception_handler(request, error)
    return error_page(request, 400)


async def _server_error(request: Request, error: Exception) -> Response:
    # Starlette logs the exception itself once this answer is sent.
    if not wants_page(request):
        return PlainTextResponse("Internal Server Error", status_code=500)
    return error_page(request, 500)


def install(app: FastAPI) -> None:
    """Answer HTTP errors with pages for browsers, as before for programs."""
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _server_error)
