"""``/outbox``: the messages the development sender kept, for this machine only.

The page exists only while ``PUSHGATE_MESSAGE_SENDER=outbox``, and answers
only clients on a loopback address whose request came straight to the
server: a request that passed through a proxy (it carries a forwarding
header) is refused even from 127.0.0.1, since a reverse proxy on this
machine would make every visitor look local.
"""

from __future__ import annotations

import ipaddress
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

SHOWN = 50
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")
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


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


@router.get("/outbox")
async def outbox(
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    to: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    if runtime.settings.message_sender != "outbox":
        return PlainTextResponse("Not Found", status_code=404)
    client = request_view(request).address
    proxied = any(name in request.headers for name in FORWARDING_HEADERS)
    if proxied or not is_loopback(client):
        security_event("outbox.refused", client=client, proxied=proxied)
        return PlainTextResponse(
            "The outbox is shown only to clients on this machine.", status_code=403
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
