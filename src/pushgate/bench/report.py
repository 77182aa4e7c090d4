"""Figures of a benchmark run: percentiles, the terminal table, the targets."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

#: What the real-time design must show (see the README's benchmark section).
TARGET_WAITERS = 10_000
TARGET_RATE = 200.0
TARGET_KB_PER_WAITER = 30.0
TARGET_P50_MS = 5.0
TARGET_P99_MS = 50.0


def percentile(ordered: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile of already sorted values (``share`` 0..100)."""
    if not ordered:
        return None
    rank = max(1, math.ceil(share / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(values: Sequence[float]) -> dict[str, float | int | None]:
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50": percentile(ordered, 50),
        "p90": percentile(ordered, 90),
        "p99": percentile(ordered, 99),
        "max": ordered[-1] if ordered else None,
        "mean": sum(ordered) / len(ordered) if ordered else None,
    }


def by_second(
    offsets_s: Sequence[float], latencies_ms: Sequence[float]
) -> list[dict[str, float | int | None]]:
    """Count, p50 and max latency of the approvals sent in each second."""
    buckets: dict[int, list[float]] = {}
    for offset, latency in zip(offsets_s, latencies_ms, strict=True):
        buckets.setdefault(max(0, int(offset)), []).append(latency)
    rows: list[dict[str, float | int | None]] = []
    for second in sorted(buckets):
        ordered = sorted(buckets[second])
        rows.append(
            {
                "second": second,
                "count": len(ordered),
                "p50": percentile(ordered, 50),
                "max": ordered[-1],
            }
        )
    return rows


def targets(result: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """The real-time design's targets as ``(target, met, measured)``."""
    latency = result["latency_ms"]
    p50, p99 = latency["p50"], latency["p99"]
    per_waiter = result["server"]["memory_per_waiter_kb"]
    listening = result["database"]["listening"]
    approvals = result["approvals"]
    rate = result["rate"]
    return [
        (
            f"{TARGET_WAITERS:,} waiting streams in one process",
            result["waiters_open"] >= TARGET_WAITERS,
            f"{result['waiters_open']:,} open",
        ),
        ("one listening database connection", listening == 1, f"{listening}"),
        (
            f"under {TARGET_KB_PER_WAITER:g} KB of server memory per stream",
            per_waiter is not None and per_waiter < TARGET_KB_PER_WAITER,
            _number(per_waiter, " KB"),
        ),
        (
            f"p50 under {TARGET_P50_MS:g} ms at {TARGET_RATE:g} approvals/s",
            p50 is not None and p50 < TARGET_P50_MS and rate >= TARGET_RATE,
            f"{_number(p50, ' ms')} at {rate:g}/s",
        ),
        (
            f"p99 under {TARGET_P99_MS:g} ms at {TARGET_RATE:g} approvals/s",
            p99 is not None and p99 < TARGET_P99_MS and rate >= TARGET_RATE,
            f"{_number(p99, ' ms')} at {rate:g}/s",
        ),
        (
            "no approval lost",
            approvals["lost"] == 0 and approvals["delivered"] > 0,
            f"{approvals['lost']} lost of {approvals['accepted']}",
        ),
    ]


def _number(value: float | None, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}{unit}"
    return f"{value:.{digits}f}{unit}"


def _latency(result: dict[str, Any]) -> str:
    latency = result["latency_ms"]
    parts = [_number(latency[key]) for key in ("p50", "p90", "p99", "max")]
    return " / ".join(parts) + " ms"


def _waiters(result: dict[str, Any]) -> str:
    held = result.get("held_before_failure")
    if held is None:
        return f"{result['waiters_open']:,} of {result['waiters']:,}"
    failure = result.get("failure") or "no failure"
    return f"{held:,} (then: {failure})"


def _approvals(result: dict[str, Any]) -> str:
    approvals = result["approvals"]
    return f"{approvals['delivered']:,} of {approvals['sent']:,}"


def _lost_late(result: dict[str, Any]) -> str:
    approvals = result["approvals"]
    return (
        f"{approvals['lost']} / {approvals['late']} "
        f"(> {approvals['late_after_ms'] / 1000:g} s)"
    )


def _errors(result: dict[str, Any]) -> str:
    return f"{result['errors']['total']:,}"


def _memory(result: dict[str, Any]) -> str:
    return _number(result["server"]["memory_per_waiter_kb"], " KB")


def _db_memory(result: dict[str, Any]) -> str:
    return _number(result["database"]["memory_per_waiter_kb"], " KB")


def _cpu(result: dict[str, Any]) -> str:
    server = result["server"]
    waiting = _number(server["cpu_waiting_percent"], "%", 0)
    approving = _number(server["cpu_approving_percent"], "%", 0)
    return f"{waiting} / {approving}"


def _connections(result: dict[str, Any]) -> str:
    database = result["database"]
    return f"{database['connections']} ({database['listening']} listening)"


def _requests(result: dict[str, Any]) -> str:
    polling = result.get("polling")
    if not polling:
        return "-"
    return (
        f"{_number(polling['requests_per_second'], '', 0)} "
        f"(needs {_number(polling['needed_per_second'], '', 0)})"
    )


def _client_cpu(result: dict[str, Any]) -> str:
    return " + ".join(_number(p, "%", 0) for p in result["client_cpu_percent"])


def _others(result: dict[str, Any]) -> str:
    return _number(result["other_programs_cpu_percent"], "%", 0)


ROWS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("waiting browsers held", _waiters),
    ("approvals delivered", _approvals),
    ("lost / late", _lost_late),
    ("latency p50 / p90 / p99 / max", _latency),
    ("errors", _errors),
    ("server memory per waiter", _memory),
    ("database memory per waiter", _db_memory),
    ("server CPU waiting / approving", _cpu),
    ("database connections", _connections),
    ("poll requests per second", _requests),
    ("load clients' CPU approving", _client_cpu),
    ("other programs' CPU meanwhile", _others),
]

#: Other programs using more than this share of a core make a run unfair.
BUSY_MACHINE_PERCENT = 20.0


def busy_machine_warning(results: dict[str, dict[str, Any]]) -> str | None:
    busiest = max(r["other_programs_cpu_percent"] for r in results.values())
    if busiest <= BUSY_MACHINE_PERCENT:
        return None
    return (
        f"WARNING: other programs used up to {busiest:.0f}% of a core while "
        "approvals were measured; these figures are worse than the same run "
        "on a quiet machine gives."
    )


def table(results: dict[str, dict[str, Any]]) -> str:
    """The designs side by side, one column each."""
    columns = list(results.values())
    header = ["", *(result["title"] for result in columns)]
    body = [[label, *(cell(result) for result in columns)] for label, cell in ROWS]
    widths = [
        max(len(row[index]) for row in [header, *body]) for index in range(len(header))
    ]
    lines = []
    for number, row in enumerate([header, *body]):
        cells = [row[0].ljust(widths[0])]
        cells.extend(value.rjust(widths[i + 1]) for i, value in enumerate(row[1:]))
        lines.append("  ".join(cells).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown_table(results: dict[str, dict[str, Any]]) -> str:
    """The same table in Markdown, for the README."""
    columns = list(results.values())
    lines = [
        "| | " + " | ".join(result["title"] for result in columns) + " |",
        "| --- |" + " ---: |" * len(columns),
    ]
    for label, cell in ROWS:
        lines.append(f"| {label} | " + " | ".join(cell(r) for r in columns) + " |")
    return "\n".join(lines)
