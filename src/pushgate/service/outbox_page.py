"""``/outbox``: the messages the development sender kept, for this machine only.

The page exists only while ``PUSHGATE_MESSAGE_SENDER=outbox``, and answers
only requests from this machine (:mod:`pushgate.service.local_only`): from a
loopback address, through no proxy, and to a loopback name (``localhost``,
``127.0.0.1``, ``[::1]``), so a page elsewhere that rebinds its own name to
127.0.0.1 cannot read the codes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import jinja2
from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from starlette.requests import Request

from pushgate.db.models import ServiceOutboxMessage
from pushgate.logs import security_event
from pushgate.runtime import Runtime, get_runtime
from pushgate.security.proxy import request_view
from pushgate.service.local_only import refusal

SHOWN = 50
# Numbers as the senders store them (E.164); nothing else is looked up.
_NUMBER = re.compile(r"\+?[0-9]{1,20}")

_templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent.parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
)

router = APIRouter(include_in_schema=False)


@router.get("/outbox")
async def outbox(
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    to: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    if runtime.settings.message_sender != "outbox":
        return PlainTextResponse("Not Found", status_code=404)
    refused = refusal(request)
    if refused is not None:
        client = request_view(request).address
        security_event("outbox.refused", client=client, reason=refused)
        return PlainTextResponse(
            "The outbox is shown only to clients on this machine, at "
            "http://localhost, 127.0.0.1 or [::1].",
            status_code=403,
        )

    if to and not _NUMBER.fullmatch(to):
        return PlainTextResponse(
            f"The to parameter {to[:32]!r} must be a phone number such as "
            "+12025550100.",
            status_code=400,
        )
    query = select(ServiceOutboxMessage).order_by(ServiceOutboxMessage.id.desc())
    if to:
        query = query.where(ServiceOutboxMessage.to_number == to)
    async with runtime.sessions() as session:
        messages = list(await session.scalars(query.limit(SHOWN)))

    response: HTMLResponse = _templates.TemplateResponse(
        request, "outbox.html", {"messages": messages, "to": to or ""}
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
