"""The benchmark's server: the real app and the baselines in one process.

Run as ``python -m pushgate.bench.server`` with the ``PUSHGATE_*`` settings
in the environment, the database already migrated. It serves exactly as
``pushgate serve`` does (uvicorn, uvloop, httptools, one process), without
access logging, whose cost would be the logger's and not the design's.
"""

from __future__ import annotations

import contextlib
import signal
from types import FrameType

import uvicorn

from pushgate import logs
from pushgate.bench.baselines import create_bench_app
from pushgate.settings import Settings


def main() -> None:
    settings = Settings()
    if settings.database_url is None:
        raise SystemExit(
            "PUSHGATE_DATABASE_URL is not set; the benchmark server needs the "
            "database the harness prepared."
        )
    logs.configure(settings.log_level)
    app = create_bench_app(settings, settings.database_url.get_secret_value())

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # Open streams never end by themselves: end them, so shutdown
            # does not wait for them.
            runtime = getattr(app.state, "runtime", None)
            if runtime is not None:
                runtime.streams.cancel_all()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_level=settings.log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=3,
        proxy_headers=False,
    )
    signal.signal(signal.SIGTERM, _raise_interrupt)
    with contextlib.suppress(KeyboardInterrupt):
        Server(config).run()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
