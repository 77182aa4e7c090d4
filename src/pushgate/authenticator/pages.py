"""Rendering the authenticator's pages (Jinja2, autoescaped, never cached)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import Response

from pushgate.authenticator import cookies
from pushgate.runtime import Runtime

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

_templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
)


def render(request: Request, runtime: Runtime, name: str, **context: Any) -> Response:
    """The page, with this browser's CSRF token in a meta tag and its cookie."""
    token, is_new = cookies.csrf_token(request)
    response = _templates.TemplateResponse(
        request, name, {"csrf_token": token, "user": None, **context}
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    if is_new:
        cookies.set_csrf_cookie(response, token, runtime.settings.cookie_secure)
    return response
