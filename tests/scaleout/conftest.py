"""Servers in subprocesses on a database of their own, so its sessions can be
counted and nothing else disturbs them."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.conftest import create_database, drop_database
from tests.scaleout.remote_site import SECRET_KEY, RemoteSite
from tests.support.processes import ROOT, ServeProcess
from tests.support.server import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def own_database(admin_database_url: str) -> Iterator[str]:
    url = create_database(admin_database_url)
    yield url
    drop_database(admin_database_url, url)


@pytest.fixture
async def remote_site(own_database: str) -> AsyncIterator[RemoteSite]:
    site = RemoteSite(own_database)
    yield site
    await site.close()


def pushgate_env(database_url: str, bus: str = "postgres") -> dict[str, str]:
    return {
        "PUSHGATE_DATABASE_URL": database_url,
        "PUSHGATE_EVENT_BACKEND": bus,
        "PUSHGATE_REDIS_URL": REDIS_URL,
        "PUSHGATE_SECRET_KEY": SECRET_KEY,
        # Answers come from the test, not from the job worker.
        "PUSHGATE_RUN_WORKER": "false",
    }


def stream_app_process(env: dict[str, str], folder: Path) -> ServeProcess:
    """The tiny stream app of tests/sse under uvicorn, as production runs it."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "--factory",
        "tests.sse.stream_app:create_from_environment",
        "--host", "127.0.0.1", "--port", str(port),
        "--loop", "uvloop", "--http", "httptools",
        "--log-level", "warning", "--timeout-graceful-shutdown", "3",
    ]  # fmt: skip
    return ServeProcess(
        {**env, "PYTHONPATH": str(ROOT)}, folder=folder, command=command, port=port
    )
