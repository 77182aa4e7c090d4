"""The benchmark's own parts: its event-stream parser, figures and profile."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pushgate.app import create_app
from pushgate.bench import profile, report
from pushgate.bench.baselines import OWN_CONNECTION_PATH, POLL_PATH, create_bench_app
from pushgate.bench.wire import EventParser, build_request
from pushgate.sse import ServerSentEvent
from tests.conftest import make_settings


def test_parser_reads_events_split_anywhere() -> None:
    stream = (
        b"retry: 3000\n\n: heartbeat\n\n"
        + ServerSentEvent(event="authy_status", data='{"status": "pending"}').encode()
        + ServerSentEvent(event="authy_status", data="two\nlines").encode()
    )
    for size in (1, 2, 7, len(stream)):
        parser = EventParser()
        events = []
        for start in range(0, len(stream), size):
            events.extend(parser.feed(stream[start : start + size]))
        assert events == [
            ("authy_status", '{"status": "pending"}'),
            ("authy_status", "two\nlines"),
        ], size


@pytest.mark.parametrize("newline", [b"\n", b"\r", b"\r\n"])
def test_parser_accepts_every_line_ending(newline: bytes) -> None:
    parser = EventParser()
    raw = b"event:x" + newline + b"data:  padded" + newline + newline
    # A CRLF split between two reads is still one line break.
    events = parser.feed(raw[:-1]) + parser.feed(raw[-1:])
    assert events == [("x", " padded")]


def test_request_has_a_length_when_it_has_a_body() -> None:
    request = build_request("POST", "/authy/callback", "h:1", {"A": "b"}, b"{}")
    assert request == (
        b"POST /authy/callback HTTP/1.1\r\nHost: h:1\r\nA: b\r\n"
        b"Content-Length: 2\r\n\r\n{}"
    )
    assert b"Content-Length" not in build_request("GET", "/", "h:1")


def test_percentiles_are_nearest_rank() -> None:
    values = [float(n) for n in range(100, 0, -1)]
    figures = report.summarize(values)
    assert figures["p50"] == 50.0
    assert figures["p90"] == 90.0
    assert figures["p99"] == 99.0
    assert figures["max"] == 100.0
    assert figures["count"] == 100
    assert report.summarize([])["p50"] is None


def _result(**changes: object) -> dict:
    result = {
        "waiters_open": 10_000,
        "rate": 200.0,
        "latency_ms": {"p50": 2.0, "p99": 20.0},
        "server": {"memory_per_waiter_kb": 12.0},
        "database": {"listening": 1},
        "approvals": {"lost": 0, "delivered": 6000, "accepted": 6000},
    }
    result.update(changes)
    return result


def test_targets_are_met_only_at_the_stated_load() -> None:
    assert all(met for _, met, _ in report.targets(_result()))
    slow = report.targets(_result(rate=50.0))
    assert [name for name, met, _ in slow if not met] == [
        "p50 under 5 ms at 200 approvals/s",
        "p99 under 50 ms at 200 approvals/s",
    ]
    lost = _result(approvals={"lost": 1, "delivered": 5999, "accepted": 6000})
    assert not dict((n, m) for n, m, _ in report.targets(lost))["no approval lost"]


def test_profile_summary_sorts_samples_into_parts_of_the_hot_path() -> None:
    collapsed = "\n".join(
        [
            "run (uvloop/__init__.py:92);authy_callback "
            "(/work/src/pushgate/web/callback.py:120);execute "
            "(/x/site-packages/psycopg/cursor_async.py:97) 6",
            "run (uvloop/__init__.py:92);deliver "
            "(/work/src/pushgate/events/_hub.py:70) 3",
            "run (uvloop/__init__.py:92) 1",
        ]
    )
    summary = profile.summarize(collapsed)
    assert summary["samples"] == 10
    assert summary["parts"] == [
        ["callback handler (POST /authy/callback)", 60.0],
        ["event bus: LISTEN receive and fan-out", 30.0],
        [profile.OTHER, 10.0],
    ]
    assert summary["own"][0] == ["execute (psycopg/cursor_async.py)", 60.0]
    assert ["run (uvloop/__init__.py)", 100.0] in summary["inclusive"]


def _paths(app: object) -> set[str]:
    return {getattr(route, "path", "") for route in app.routes}  # type: ignore[attr-defined]


def test_baseline_endpoints_exist_only_in_the_bench_app(tmp_path) -> None:
    settings = make_settings(tmp_path)
    url = "postgresql://nobody@127.0.0.1:1/none"
    product = _paths(create_app(settings, url))
    bench = _paths(create_bench_app(settings, url))
    assert {POLL_PATH, OWN_CONNECTION_PATH} <= bench
    assert not any(path.startswith("/bench") for path in product)
    assert product <= bench


def test_open_files_limit_is_raised_to_what_the_run_needs() -> None:
    script = (
        "import resource\n"
        "from pushgate.bench.main import raise_open_files_limit\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "print(raise_open_files_limit(512))\n"
        "print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
        "print(raise_open_files_limit(300))\n"
    )
    lines = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert lines == ["Raised the open-files limit from 256 to 512.", "512", "None"]
