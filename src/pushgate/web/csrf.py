"""CSRF protection: every state-changing request carries the session's token.

Forms send it in the hidden field ``csrf_token``; scripts read it from the
page's ``<meta name="csrf-token">`` and send it as ``X-CSRF-Token``. A page
on another site can make the browser send the cookie, but cannot read the
token, so it cannot forge either.
"""

from __future__ import annotations

import hmac
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pushgate.web.error_pages import error_page
from pushgate.web.sessions import SessionState

FIELD_NAME = "csrf_token"
HEADER_NAME = "X-CSRF-Token"

security_logger = logging.getLogger("pushgate.security")

_REFUSAL = (
    "This form has expired or did not come from this site; reload the page and "
    "try again."
)


def valid(state: SessionState | None, submitted: object) -> bool:
    """Whether ``submitted`` is the session's CSRF token (constant time)."""
    if state is None or not isinstance(submitted, str) or not submitted:
        return False
    expected = state.csrf_token
    if not expected:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


def header_token(request: Request) -> str | None:
    return request.headers.get(HEADER_NAME)


def refusal(request: Request, *, json: bool = False) -> Response:
    """The 403 answer to a request without a valid CSRF token."""
    security_logger.warning(
        "csrf.refused path=%s ip=%s",
        request.url.path,
        request.client.host if request.client else "",
    )
    if json:
        return JSONResponse({"ok": False, "message": _REFUSAL}, status_code=403)
    return error_page(request, 403, title="This form has expired", text=_REFUSAL)
