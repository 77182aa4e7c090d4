"""Servers as separate processes: ``pushgate serve`` and a private PostgreSQL.

A test that stops, restarts or signals a server needs one of its own: the
shared test database server and in-thread :class:`LiveServer` cannot be
treated that way.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import psycopg

from tests.support.server import free_port

ROOT = Path(__file__).parents[2]
REDIS_URL = "redis://127.0.0.1:6379/0"
#: The secret key every test server gets (tests.scaleout.remote_site signs with it).
SECRET_KEY = "test-secret-key-" + "x" * 16


class PrivatePostgres:
    """A PostgreSQL server in a temporary folder, on a free loopback port.

    It uses the server binaries the ``pgserver`` package ships, so it needs
    nothing installed on the machine. As root it runs as an unprivileged
    user, since PostgreSQL refuses to run as root.
    """

    def __init__(self) -> None:
        import pgserver

        self.bin = Path(pgserver.__file__).parent / "pginstall" / "bin"
        self.port = free_port()
        self.user = _server_user()
        self.folder = Path(tempfile.mkdtemp(prefix="pushgate-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> PrivatePostgres:
        if not self.data.exists():
            self._run(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            )
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.folder} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
            "-w", "-t", "60", "start",
        )  # fmt: skip
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` ends sessions cleanly, ``immediate`` crashes."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        result = subprocess.run(
            command,
            user=self.user,
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise subprocess.CalledProcessError(
                result.returncode,
                command,
                output=result.stdout,
                stderr=f"{result.stderr}\n--- server log ---\n{log}",
            )


def _server_user() -> str | None:
    """The user the private server runs as: None unless this process is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pgserver"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    subprocess.run(["useradd", "--system", "pgserver"], check=True)
    return "pgserver"


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres().start()
    try:
        yield server
    finally:
        server.destroy()


class ServeProcess:
    """``pushgate serve`` (or another ASGI server command) in a subprocess."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        folder: Path,
        args: tuple[str, ...] = (),
        command: list[str] | None = None,
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.folder = folder
        self.output = folder / f"serve-{self.port}.log"
        self.env = {
            **os.environ,
            "PUSHGATE_HOST": "127.0.0.1",
            "PUSHGATE_PORT": str(self.port),
            "PUSHGATE_DATA_DIR": str(folder),
            "PUSHGATE_SECRET_KEY": SECRET_KEY,
            "PUSHGATE_LOG_LEVEL": "INFO",
            **env,
        }
        self.command = command or [sys.executable, "-m", "pushgate", "serve", *args]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> ServeProcess:
        self.launch()
        self.wait_ready(timeout)
        return self

    def launch(self) -> ServeProcess:
        """Start the process without waiting for it to be ready."""
        with self.output.open("ab") as output:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=self.folder,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                response = httpx.get(f"{self.base_url}/readyz", timeout=2)
                if response.status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"server not ready in {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


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
