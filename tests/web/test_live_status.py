"""GET /authy/live_status: the attempt's status, pushed as it changes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from httpx_sse import EventSource, connect_sse


@contextmanager
def live_status(site, token: str) -> Iterator[EventSource]:
    with (
        site.client(token) as client,
        connect_sse(client, "GET", "/authy/live_status") as source,
    ):
        yield source


def statuses_from(events, count: int) -> list[str]:
    found = []
    for event in events:
        if event.event == "authy_status":
            found.append(json.loads(event.data)["status"])
            if len(found) == count:
                break
    return found


def test_it_sends_pending_then_the_answer_then_ends(site) -> None:
    waiting = site.make_waiting()
    with live_status(site, waiting.token) as source:
        response = source.response
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        events = source.iter_sse()
        assert statuses_from(events, 1) == ["pending"]

        answered = site.post_callback(site.callback_body(waiting, "approved"))
        assert answered.status_code == 200
        assert statuses_from(events, 1) == ["approved"]
        # A final status ends the stream.
        assert list(events) == []


def test_an_answer_before_the_stream_opens_is_sent_at_once(site) -> None:
    waiting = site.make_waiting()
    assert site.post_callback(site.callback_body(waiting, "denied")).status_code == 200

    with live_status(site, waiting.token) as source:
        events = list(source.iter_sse())

    assert [json.loads(e.data) for e in events if e.event == "authy_status"] == [
        {"status": "denied"}
    ]


def test_it_says_expired_when_time_runs_out(site) -> None:
    waiting = site.make_waiting(expires_in=0.5)
    started = time.monotonic()
    with live_status(site, waiting.token) as source:
        assert statuses_from(source.iter_sse(), 2) == ["pending", "expired"]
    assert time.monotonic() - started < 5


def test_the_retry_hint_comes_first(site) -> None:
    waiting = site.make_waiting()
    with (
        site.client(waiting.token) as client,
        client.stream("GET", "/authy/live_status") as response,
    ):
        first = next(response.iter_lines())
    expected = site.runtime.settings.sse_retry_ms
    assert first.replace(" ", "") == f"retry:{expected}"


def test_without_a_waiting_login_there_is_no_stream(site) -> None:
    token, _ = site.make_session()
    with site.client() as anonymous, site.client(token) as idle:
        for client in (anonymous, idle):
            response = client.get("/authy/live_status")
            assert response.status_code == 404
            assert "log in again" in response.text


def test_open_streams_hold_no_database_connection_and_write_nothing(site) -> None:
    waitings = [site.make_waiting() for _ in range(5)]
    before = {w.token: site.session_row(w.token).data for w in waitings}
    with ExitStack() as stack:
        for waiting in waitings:
            source = stack.enter_context(live_status(site, waiting.token))
            assert statuses_from(source.iter_sse(), 1) == ["pending"]
        pool = site.runtime.engine.pool
        deadline = time.monotonic() + 2
        while pool.checkedout() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.checkedout() == 0
    assert {w.token: site.session_row(w.token).data for w in waitings} == before
