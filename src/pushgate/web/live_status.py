"""``GET /authy/live_status``: the waiting page's event stream.

Subscribe first, then read, then wait: an answer committed before the read
is seen by the read, and one committed after it wakes the wait, so none is
missed. Each wake costs one small query on a pooled connection that goes
straight back; an open stream holds no connection. The stream only reads:
it never writes the session, so it cannot race the request that logs in.
Heartbeats come from :class:`~pushgate.sse.EventStream` itself, so the
generator sleeps until a change or the attempt's expiry and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from pushgate import clock
from pushgate.runtime import Runtime, get_runtime
from pushgate.sse import EventStream, ServerSentEvent
from pushgate.web import attempts, sessions

EVENT_NAME = "authy_status"
#: Sent when the attempt is gone (its user was deleted); the page starts over.
UNKNOWN = "unknown"


def status_event(status: str, *, replaced: bool = False) -> ServerSentEvent:
    """``{"status": ...}``, with ``"replaced": true`` while a pending attempt's
    push has been withdrawn by a newer login (a code can still finish it)."""
    data: dict[str, object] = {"status": status}
    if replaced and status == attempts.PENDING:
        data["replaced"] = True
    return ServerSentEvent(event=EVENT_NAME, data=json.dumps(data))


async def attempt_events(
    runtime: Runtime, attempt_id: str
) -> AsyncIterator[ServerSentEvent]:
    """The attempt's status now and at every change, until it is final."""
    with runtime.bus.subscribe(attempts.topic(attempt_id)) as subscription:
        state = await attempts.read_state(runtime, attempt_id)
        sent: tuple[str, bool] | None = None
        while True:
            now = clock.now()
            status = UNKNOWN if state is None else state.status_at(now)
            replaced = state is not None and state.replaced
            if (status, replaced) != sent:
                yield status_event(status, replaced=replaced)
                sent = (status, replaced)
            if state is None or status in attempts.TERMINAL:
                return

            until_expiry = (state.expires_at - now).total_seconds()
            # On a change, or at expiry (an answer may have just landed),
            # read the attempt once more.
            await subscription.wait(timeout=until_expiry)
            state = await attempts.read_state(runtime, attempt_id)


async def live_status(request: Request) -> Response:
    runtime = get_runtime(request)
    attempt_id = await sessions.read_attempt_id(runtime, request)
    if attempt_id is None:
        # A non-200 answer makes EventSource stop instead of reconnecting.
        return PlainTextResponse(
            "No login is waiting in this browser; log in again.", status_code=404
        )
    return EventStream(
        attempt_events(runtime, attempt_id),
        registry=runtime.streams,
        heartbeat_seconds=runtime.settings.sse_heartbeat_seconds,
        retry_ms=runtime.settings.sse_retry_ms,
    )


#: A plain Starlette route, mounted ahead of the FastAPI routers: each open
#: stream then holds less of the framework's request state (about 4 KB).
route = Route("/authy/live_status", live_status, methods=["GET"])
