"""The ``pushgate`` command: serve, migrate, manage applications, benchmark."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from pushgate import logs
from pushgate.settings import Settings, get_settings


@contextlib.contextmanager
def database(settings: Settings) -> Iterator[str]:
    """The configured database URL, or an embedded server for the block."""
    if settings.database_url is not None:
        yield settings.database_url.get_secret_value()
        return
    from pushgate.db.embedded import EmbeddedPostgres

    embedded = EmbeddedPostgres(settings.data_dir)
    url = embedded.start()
    try:
        yield url
    finally:
        embedded.stop()


def cmd_serve(args: argparse.Namespace) -> int:
    settings = get_settings()
    options = (("host", args.host), ("port", args.port), ("workers", args.workers))
    settings = settings.model_copy(update={k: v for k, v in options if v})
    settings = _with_tls(settings, args)
    logs.configure(settings.log_level)
    with database(settings) as url:
        from pushgate.db.migrate import upgrade

        upgrade(url)
        if settings.workers > 1:
            _prepare_for_workers(settings, url)
        _run_server(settings, url)
    return 0


def _prepare_for_workers(settings: Settings, url: str) -> None:
    """Do once, before the workers start, what each would otherwise race to do.

    The workers are new processes: they read their settings, the database
    URL included, from the environment set here.
    """
    from pushgate.app import prepare

    settings.resolved_secret_key()
    asyncio.run(prepare(settings, url))
    os.environ.update(
        PUSHGATE_DATABASE_URL=url,
        PUSHGATE_HOST=settings.host,
        PUSHGATE_PORT=str(settings.port),
        PUSHGATE_WORKERS=str(settings.workers),
    )


def _with_tls(settings: Settings, args: argparse.Namespace) -> Settings:
    """Settings with ``--certfile``/``--keyfile`` applied, the files checked.

    The flags also go into the environment, where worker processes read
    their settings.
    """
    flags = (("tls_certfile", args.certfile), ("tls_keyfile", args.keyfile))
    for name, value in flags:
        if value:
            os.environ[f"PUSHGATE_{name.upper()}"] = value
    settings = settings.model_copy(
        update={name: Path(value) for name, value in flags if value}
    )
    if settings.tls_keyfile is not None and settings.tls_certfile is None:
        raise SystemExit(
            "--keyfile (PUSHGATE_TLS_KEYFILE) needs --certfile "
            "(PUSHGATE_TLS_CERTFILE) too; give the certificate file as well."
        )
    for path in (settings.tls_certfile, settings.tls_keyfile):
        if path is not None and not path.is_file():
            raise SystemExit(
                f"TLS file {path} does not exist; check --certfile/--keyfile "
                "(or PUSHGATE_TLS_CERTFILE/PUSHGATE_TLS_KEYFILE)."
            )
    if settings.serves_tls() and not settings.cookie_secure:
        # Served over HTTPS only: cookies never need to travel in clear.
        os.environ["PUSHGATE_COOKIE_SECURE"] = "true"
        settings = settings.model_copy(update={"cookie_secure": True})
    return settings


def _run_server(settings: Settings, url: str) -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from pushgate.app import create_app

    # Open event streams end themselves when the server is told to stop
    # (see pushgate.sse.ended_by_exit_signals), in every worker.
    multiprocess = settings.workers > 1
    config = uvicorn.Config(
        "pushgate.app:create_app_from_environment"
        if multiprocess
        else create_app(settings, url),
        factory=multiprocess,
        workers=settings.workers,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=3,
        proxy_headers=False,
        # HTTPS served directly: phones create device keys only on HTTPS.
        ssl_certfile=settings.tls_certfile,
        ssl_keyfile=settings.tls_keyfile,
    )
    public = settings.resolved_public_url()
    print(f"pushgate is running at {public}", flush=True)
    print(
        f"Try it: open {public}/signup, create an account, then enroll your "
        "phone from the account page.",
        flush=True,
    )
    if multiprocess:
        # The supervisor handles SIGTERM and SIGINT itself: it stops every
        # worker, then returns here so the embedded database stops too.
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    # uvicorn re-raises the signal that stopped it once it has shut down;
    # turning SIGTERM into an exception lets the embedded database stop too.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = get_settings()
    logs.configure(settings.log_level)
    with database(settings) as url:
        from pushgate.db.migrate import upgrade

        upgrade(url)
    print("Database is up to date.")
    return 0


def cmd_app(args: argparse.Namespace) -> int:
    from pushgate.service import admin

    settings = get_settings()
    with database(settings) as url:
        from pushgate.db.migrate import upgrade

        upgrade(url)
        return asyncio.run(admin.run(args, settings, url))


def cmd_bench(args: argparse.Namespace) -> int:
    from pushgate.bench import main as bench_main

    return bench_main.run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pushgate", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve", help="run the web app, service and authenticator"
    )
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument(
        "--certfile", help="PEM certificate (chain): serve HTTPS (default: HTTP)"
    )
    serve.add_argument("--keyfile", help="PEM private key of --certfile")
    serve.add_argument(
        "--workers",
        type=int,
        help="worker processes sharing the port (default 1, or PUSHGATE_WORKERS)",
    )
    serve.set_defaults(func=cmd_serve)

    migrate = commands.add_parser(
        "migrate", help="bring the database schema up to date"
    )
    migrate.set_defaults(func=cmd_migrate)

    app = commands.add_parser("app", help="manage approval service applications")
    from pushgate.service import admin

    admin.add_arguments(app)
    app.set_defaults(func=cmd_app)

    bench = commands.add_parser("bench", help="measure real-time delivery")
    from pushgate.bench import main as bench_main

    bench_main.add_arguments(bench)
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    sys.exit(args.func(args))
