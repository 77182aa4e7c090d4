"""The ASGI application: web app, approval service and authenticator together."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.requests import Request

from pushgate import jobs, logs
from pushgate.db.engine import create_engine, session_factory
from pushgate.events.bus import create_bus
from pushgate.runtime import Runtime
from pushgate.security.headers import SecurityHeadersMiddleware
from pushgate.security.proxy import TrustedProxies
from pushgate.service import local_only
from pushgate.settings import Settings
from pushgate.sse import ended_by_exit_signals

logger = logging.getLogger("pushgate")

STATIC = Path(__file__).parent / "static"


def create_app(settings: Settings, database_url: str) -> FastAPI:
    """Build the application; connections open when its lifespan starts."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with _running(settings, database_url) as runtime:
            app.state.runtime = runtime
            # What start-up built (modules, routes, the pool) lives as long
            # as the process: out of the collector's reach, a full collection
            # has that much less to walk while streams wait.
            gc.collect()
            gc.freeze()
            with ended_by_exit_signals(runtime.streams):
                yield

    app = FastAPI(
        title="pushgate",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    _add_routes(app)
    # Headers on every response; pure ASGI, so streams pass unbuffered.
    app.add_middleware(
        SecurityHeadersMiddleware,
        trusted_proxies=TrustedProxies(settings.trusted_proxies),
    )
    return app


def create_app_from_environment() -> FastAPI:
    """The application as uvicorn's worker processes build it.

    ``pushgate serve --workers N`` prepares the database once, then starts
    each worker with its settings, the database URL included, in the
    environment (``uvicorn --factory pushgate.app:create_app_from_environment``
    works the same way).
    """
    settings = Settings()
    if settings.database_url is None:
        raise RuntimeError(
            "PUSHGATE_DATABASE_URL is not set; a worker process needs it (start "
            "workers with `pushgate serve --workers N`, which sets it)."
        )
    logs.configure(settings.log_level)
    return create_app(settings, settings.database_url.get_secret_value())


async def prepare(settings: Settings, database_url: str) -> None:
    """Start up once and stop, so one-time set-up is done before workers start.

    Several worker processes starting together would otherwise each create
    the web app's service application.
    """
    quiet = settings.model_copy(update={"run_worker": False, "event_backend": "memory"})
    async with _running(quiet, database_url):
        pass


def _add_routes(app: FastAPI) -> None:
    from pushgate.authenticator.routes import router as authenticator_router
    from pushgate.service.api import router as service_router
    from pushgate.service.outbox_page import router as outbox_router
    from pushgate.service.token_api import router as token_router
    from pushgate.web.error_pages import install as install_error_pages
    from pushgate.web.routes import hot_routes
    from pushgate.web.routes import router as web_router

    app.router.routes.extend(hot_routes)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(service_router)
    app.include_router(token_router)
    app.include_router(outbox_router)
    app.include_router(authenticator_router)
    app.include_router(web_router)
    install_error_pages(app)
    app.add_api_route("/healthz", healthz, include_in_schema=False)
    app.add_api_route("/readyz", readyz, include_in_schema=False)


async def healthz() -> dict[str, str]:
    return {"status": "ok"}


#: What /readyz shows a request from this machine besides the booleans: counts
#: and the listener's state, never its server's address or an error's text.
LOCAL_DETAIL = ("state", "losses", "waiters")


async def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers and the event listener listens.

    Anyone may ask, so the answer is booleans and the event backend's name;
    a request from this machine also gets the listener's state and counts.
    What went wrong (the database's error, the listener's server and last
    error) goes to the log, once each time readiness changes.
    """
    runtime: Runtime = request.app.state.runtime
    problem = ""
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:
        problem = f"{type(error).__name__}: {error}"
    bus = runtime.bus.status()
    database = not problem
    ready = database and bool(bus["ready"])
    _log_change(request.app, ready, problem, bus)

    events = {"backend": bus["backend"], "ready": bool(bus["ready"])}
    if local_only.refusal(request) is None:
        events.update({key: bus[key] for key in LOCAL_DETAIL if key in bus})
    body = {"ready": ready, "database": database, "events": events}
    return JSONResponse(body, status_code=200 if ready else 503)


def _log_change(app: FastAPI, ready: bool, problem: str, bus: dict[str, Any]) -> None:
    if getattr(app.state, "was_ready", None) == ready:
        return
    app.state.was_ready = ready
    if ready:
        logger.info("Ready: the database answers and the event bus listens")
        return
    logger.warning(
        "Not ready: database %s; %s event bus %s (server %s, last error %s)",
        problem or "answers",
        bus.get("backend"),
        bus.get("state", "ready" if bus.get("ready") else "not ready"),
        bus.get("server", "-"),
        bus.get("last_error") or "none",
    )


@contextlib.asynccontextmanager
async def _running(settings: Settings, database_url: str) -> AsyncIterator[Runtime]:
    engine = create_engine(
        database_url,
        pool_size=settings.db_pool_size,
        # The PostgreSQL bus's listener sees a restart at once and drops the
        # pool's connections (PostgresBus._after_loss), so no request needs
        # to ping first; other backends keep the ping.
        pre_ping=settings.event_backend != "postgres",
    )
    bus = create_bus(settings, engine, database_url)
    job_app = jobs.create_job_app(database_url)
    http = httpx.AsyncClient(timeout=httpx.Timeout(10.0), follow_redirects=False)
    runtime = Runtime(
        settings=settings,
        database_url=database_url,
        engine=engine,
        sessions=session_factory(engine),
        bus=bus,
        http=http,
        jobs=job_app,
    )
    jobs.bind_runtime(runtime)
    worker: asyncio.Task[None] | None = None
    try:
        await bus.start()
        await job_app.open_async()
        from pushgate.service.apps import ensure_site_application

        runtime.service_api_key = await ensure_site_application(runtime)
        if settings.run_worker:
            worker = asyncio.create_task(
                job_app.run_worker_async(
                    install_signal_handlers=False,
                    concurrency=4,
                    shutdown_graceful_timeout=2,
                    delete_jobs="never",
                ),
                name="job-worker",
            )
        yield runtime
    finally:
        runtime.streams.cancel_all()
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await worker
        await job_app.close_async()
        await bus.stop()
        await http.aclose()
        await engine.dispose()
        jobs.bind_runtime(None)
