"""The two designs pushgate replaces, as endpoints of a bench-only app.

:func:`create_bench_app` builds the real application and adds, beside it:

``GET /bench/poll``
    answers the session's login attempt status at once. The page of the
    earlier design asked this every 2 seconds.
``GET /bench/own-connection/live_status``
    an event stream that opens its own database connection, runs ``LISTEN``
    on it and waits there, the design where every waiting browser holds one
    database connection. It hears the same ``pg_notify`` the real callback
    sends, so the approvals still go through the real ``/authy/callback``.

Both read state the way the real stream does (session row, then attempt),
in one query each time, so neither is slowed by anything but its design.
The product never mounts these routes: only the benchmark's server does.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from fastapi import FastAPI
from psycopg import sql
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from pushgate import clock
from pushgate.app import create_app
from pushgate.db.engine import libpq_url
from pushgate.events.postgres import CHANNEL
from pushgate.runtime import get_runtime
from pushgate.settings import Settings
from pushgate.sse import EventStream, ServerSentEvent

POLL_PATH = "/bench/poll"
OWN_CONNECTION_PATH = "/bench/own-connection/live_status"

#: The cookie and its meaning are the web app's; the baselines only read them.
SESSION_COOKIE = "pushgate_session"

_STATUS_BY_SESSION = """
    SELECT a.id, a.status FROM web_sessions s
    JOIN login_attempts a ON a.id = s.data ->> 'attempt_id'
    WHERE s.token_hash = {token_hash} AND s.expires_at > {now}
"""
_POLL_QUERY = text(_STATUS_BY_SESSION.format(token_hash=":token_hash", now=":now"))
_OWN_QUERY = _STATUS_BY_SESSION.format(token_hash="%(token_hash)s", now="%(now)s")
_ATTEMPT_QUERY = "SELECT status FROM login_attempts WHERE id = %(id)s"


def create_bench_app(settings: Settings, database_url: str) -> FastAPI:
    """The real application with the two baseline endpoints added."""
    app = create_app(settings, database_url)
    app.add_api_route(POLL_PATH, poll_status, include_in_schema=False)
    app.add_api_route(
        OWN_CONNECTION_PATH, own_connection_stream, include_in_schema=False
    )
    return app


def _token_hash(request: Request) -> str:
    token = request.cookies.get(SESSION_COOKIE, "")
    return hashlib.sha256(token.encode()).hexdigest()


def status_event(status: str) -> ServerSentEvent:
    return ServerSentEvent(event="authy_status", data=json.dumps({"status": status}))


async def poll_status(request: Request) -> Response:
    runtime = get_runtime(request)
    params = {"token_hash": _token_hash(request), "now": clock.now()}
    async with runtime.engine.connect() as connection:
        row = (await connection.execute(_POLL_QUERY, params)).first()
    if row is None:
        return JSONResponse({"status": "none"}, status_code=404)
    return JSONResponse({"status": row.status})


async def own_connection_stream(request: Request) -> Response:
    runtime = get_runtime(request)
    try:
        connection = await psycopg.AsyncConnection.connect(
            libpq_url(runtime.database_url), autocommit=True
        )
    except psycopg.OperationalError as error:
        # The design's limit: the database has no connection left to give.
        first_line = str(error).strip().splitlines()[:1]
        return PlainTextResponse(
            f"The database refused another connection: {''.join(first_line)}",
            status_code=503,
        )
    settings = runtime.settings
    return EventStream(
        _own_connection_events(connection, _token_hash(request)),
        registry=runtime.streams,
        heartbeat_seconds=settings.sse_heartbeat_seconds,
        retry_ms=settings.sse_retry_ms,
    )


async def _own_connection_events(
    connection: psycopg.AsyncConnection[Any], token_hash: str
) -> AsyncIterator[ServerSentEvent]:
    async with connection:
        # Listen first, then read: a change that lands in between is heard.
        await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
        cursor = await connection.execute(
            _OWN_QUERY, {"token_hash": token_hash, "now": clock.now()}
        )
        row = await cursor.fetchone()
        if row is None:
            yield status_event("none")
            return
        attempt_id, status = row
        topic = f"attempt:{attempt_id}"
        yield status_event(status)
        while status == "pending":
            await _heard(connection, topic)
            cursor = await connection.execute(_ATTEMPT_QUERY, {"id": attempt_id})
            found = await cursor.fetchone()
            status = found[0] if found else "none"
            yield status_event(status)


async def _heard(connection: psycopg.AsyncConnection[Any], topic: str) -> None:
    # Every connection hears every notification on the channel and keeps
    # only its own: the cost of this design grows with the approval rate too.
    notifies = connection.notifies()
    async with contextlib.aclosing(notifies):
        async for notify in notifies:
            if notify.payload == topic:
                return
