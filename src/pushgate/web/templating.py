"""Rendering the site's pages from Jinja2 templates.

Autoescaping is on for every template, and each page gets the session's
CSRF token (for forms and for the ``csrf-token`` meta tag scripts read) and
the signed-in user, if any.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import HTMLResponse

from pushgate.db.models import User
from pushgate.web.sessions import SessionState

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
_templates = Jinja2Templates(env=_environment)


def render(
    request: Request,
    name: str,
    *,
    session: SessionState | None,
    user: User | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    values = {
        "status_code": status_code,
        "csrf_token": session.csrf_token if session is not None else "",
        "user": user,
        "errors": {},
        "values": {},
        "message": None,
        **context,
    }
    response = _templates.TemplateResponse(
        request, name, values, status_code=status_code
    )
    # Pages carry CSRF tokens and personal details: keep them out of caches.
    response.headers["Cache-Control"] = "no-store"
    return response
