"""A small ``pushgate bench`` run, end to end, to keep the benchmark working.

It runs on an embedded PostgreSQL of its own (the bench's default): the
connection-per-waiter baseline takes every connection its database server
has left, which must never be a server other tests share.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

WAITERS = 300
APPROVALS = 200
BASELINE_APPROVALS = 60

pytestmark = pytest.mark.bench


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("bench")
    path = folder / "results.json"
    command = [
        sys.executable,
        "-m",
        "pushgate",
        "bench",
        f"--waiters={WAITERS}",
        "--rate=100",
        f"--approvals={APPROVALS}",
        f"--baseline-approvals={BASELINE_APPROVALS}",
        "--clients=1",
        "--replace",
        "--idle-seconds=1",
        f"--json={path}",
    ]
    finished = subprocess.run(
        command, cwd=folder, capture_output=True, text=True, timeout=240
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    document = json.loads(Path(path).read_text())
    document["stdout"] = finished.stdout
    document["stderr"] = finished.stderr
    return document


def test_every_approval_reaches_its_waiting_stream(results: dict) -> None:
    realtime = results["designs"]["realtime"]
    assert realtime["waiters_open"] == WAITERS
    assert realtime["approvals"] == {
        "sent": APPROVALS,
        "accepted": APPROVALS,
        "delivered": APPROVALS,
        "lost": 0,
        "late": realtime["approvals"]["late"],
        "late_after_ms": 1000.0,
        "lost_after_s": 10.0,
    }
    assert realtime["errors"] == {"total": 0, "by_kind": {}}
    assert realtime["latency_ms"]["count"] == APPROVALS


def test_realtime_design_waits_on_one_listening_connection(results: dict) -> None:
    database = results["designs"]["realtime"]["database"]
    assert database["listening"] == 1
    # The pool and the listener, not a connection per waiting stream.
    assert database["connections"] < WAITERS / 10


def test_baselines_are_measured_in_the_same_run(results: dict) -> None:
    polling = results["designs"]["polling"]
    assert polling["approvals"]["lost"] == 0
    assert polling["approvals"]["delivered"] == BASELINE_APPROVALS
    assert polling["polling"]["requests_per_second"] > 0
    assert polling["polling"]["needed_per_second"] == WAITERS / 2
    # Polling every 2 s cannot see an approval sooner than the next poll.
    assert polling["latency_ms"]["p90"] > 200

    per_waiter = results["designs"]["connection_per_waiter"]
    held = per_waiter["held_before_failure"]
    max_connections = per_waiter["database"]["max_connections"]
    assert 0 < held < max_connections < WAITERS
    assert "503" in per_waiter["failure"]
    # Every waiting stream holds a database connection of its own.
    waiting = per_waiter["waiters_during_approvals"]
    assert per_waiter["database"]["connections"] > waiting
    assert per_waiter["approvals"]["lost"] == 0
    assert per_waiter["approvals"]["delivered"] == min(BASELINE_APPROVALS, waiting)


def test_report_has_every_figure(results: dict) -> None:
    for design in results["designs"].values():
        for key in ("p50", "p90", "p99", "max"):
            assert isinstance(design["latency_ms"][key], float), (design["key"], key)
        for key in ("sent", "accepted", "delivered", "lost", "late"):
            assert isinstance(design["approvals"][key], int)
        assert isinstance(design["errors"]["total"], int)
        server = design["server"]
        for key in ("memory_per_waiter_kb", "cpu_waiting_percent"):
            assert isinstance(server[key], float), (design["key"], key)
        assert isinstance(server["cpu_approving_percent"], float)
        assert isinstance(design["database"]["connections"], int)
        assert isinstance(design["database"]["memory_per_waiter_kb"], float)
        assert isinstance(design["other_programs_cpu_percent"], float)
    assert {target["target"] for target in results["targets"]} >= {
        "no approval lost",
        "one listening database connection",
    }
    assert results["command"].startswith("pushgate bench")


def test_terminal_shows_progress_and_the_table(results: dict) -> None:
    assert "approvals delivered" in results["stderr"]
    table = results["stdout"]
    for title in ("pushgate (SSE, one LISTEN)", "polling every 2 s"):
        assert title in table
    assert "latency p50 / p90 / p99 / max" in table
    assert "Targets for pushgate's design:" in table
