"""Where the server's time goes while approvals flow, sampled with py-spy.

py-spy samples the running server from outside (``--nonblocking``: it never
pauses the process, so the latencies measured meanwhile stay honest) and
writes collapsed stacks. The summary sorts every sample into one part of the
hot path by the outermost pushgate code on its stack, and lists the
functions that took the most time, inclusive and on their own.
"""

from __future__ import annotations

import asyncio
import math
import re
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

MISSING = "py-spy is not installed (pip install 'py-spy>=0.4'); no profile recorded."

#: Parts of the hot path, the first whose marker is on a stack wins.
PARTS = [
    ("callback handler (POST /authy/callback)", ("pushgate/web/callback.py",)),
    (
        "stream: open and status reads (GET /authy/live_status)",
        ("pushgate/web/live_status.py", "pushgate/web/sessions.py"),
    ),
    ("event bus: LISTEN receive and fan-out", ("pushgate/events/",)),
    ("SSE sending and stream tasks", ("pushgate/sse.py",)),
    (
        "HTTP server and framework (uvicorn, Starlette, FastAPI)",
        ("uvicorn/", "starlette/", "fastapi/"),
    ),
]
OTHER = "other (event loop, garbage collection, ...)"

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


class Recording:
    def __init__(
        self, process: asyncio.subprocess.Process, path: Path, seconds: int
    ) -> None:
        self._process = process
        self.path = path
        self._seconds = seconds

    async def finish(self) -> dict[str, Any] | None:
        try:
            async with asyncio.timeout(self._seconds + 30):
                _, stderr = await self._process.communicate()
        except TimeoutError:
            self._process.kill()
            await self._process.wait()
            return {"error": "py-spy did not finish in time"}
        if self._process.returncode != 0 or not self.path.exists():
            message = stderr.decode(errors="replace").strip().splitlines()[-1:]
            return {"error": "py-spy failed: " + "".join(message)}
        summary = summarize(self.path.read_text())
        summary["stacks_file"] = str(self.path)
        return summary


def _py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    if beside.exists():
        return str(beside)
    return shutil.which("py-spy")


async def start(pid: int, path: Path, seconds: float) -> Recording | None:
    """Sample process ``pid`` for ``seconds``; ``None`` without py-spy."""
    executable = _py_spy()
    if executable is None:
        return None
    duration = max(1, math.ceil(seconds))
    process = await asyncio.create_subprocess_exec(
        executable,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(duration),
        "--rate",
        "200",
        "--nonblocking",
        "--format",
        "raw",
        "--output",
        str(path),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    return Recording(process, path, duration)


def _frames(stack: str) -> list[tuple[str, str]]:
    frames = []
    for frame in stack.split(";"):
        match = _FRAME.match(frame)
        if match:
            frames.append((match["function"], match["file"]))
        else:
            frames.append((frame, ""))
    return frames


def _short(function: str, file: str) -> str:
    marker = file.find("site-packages/")
    if marker >= 0:
        file = file[marker + len("site-packages/") :]
    else:
        marker = file.find("src/")
        file = file[marker + 4 :] if marker >= 0 else file
    return f"{function} ({file})" if file else function


def _part(frames: list[tuple[str, str]]) -> str:
    files = [file for _, file in frames]
    for name, markers in PARTS:
        if any(marker in file for file in files for marker in markers):
            return name
    return OTHER


def summarize(collapsed: str, top: int = 15) -> dict[str, Any]:
    """Shares of the samples by part of the hot path and by function."""
    total = 0
    parts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        total += count
        parts[_part(frames)] += count
        names = [_short(function, file) for function, file in frames]
        for name in set(names):
            inclusive[name] += count
        if names:
            own[names[-1]] += count

    def shares(counter: Counter[str], limit: int | None = None) -> list[list[Any]]:
        return [
            [name, round(100 * count / total, 1)]
            for name, count in counter.most_common(limit)
        ]

    if total == 0:
        return {"samples": 0, "parts": [], "inclusive": [], "own": []}
    return {
        "samples": total,
        "parts": shares(parts),
        "inclusive": shares(inclusive, top),
        "own": shares(own, top),
    }


def describe(summary: dict[str, Any]) -> str:
    """The summary as text for the terminal."""
    if "error" in summary:
        return f"Profile: {summary['error']}"
    lines = [f"Profile of the server while approving ({summary['samples']} samples):"]
    for name, share in summary["parts"]:
        lines.append(f"  {share:5.1f}%  {name}")
    lines.append("Functions by own time:")
    for name, share in summary["own"]:
        lines.append(f"  {share:5.1f}%  {name}")
    return "\n".join(lines)
