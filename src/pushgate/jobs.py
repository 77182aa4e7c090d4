"""The durable job queue (procrastinate) for work that must survive restarts.

Tasks are registered from the modules that own them through :data:`tasks`, a
blueprint; :func:`create_job_app` binds it to the database. A task reaches the
running process's database and HTTP client through :func:`current_runtime`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import procrastinate

from pushgate.db.engine import libpq_url

if TYPE_CHECKING:
    from pushgate.runtime import Runtime

tasks = procrastinate.Blueprint()

_runtime: Runtime | None = None


def create_job_app(database_url: str) -> procrastinate.App:
    # Importing the modules that define tasks registers them on the blueprint.
    import pushgate.service.callbacks
    import pushgate.service.messages  # noqa: F401

    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=libpq_url(database_url), min_size=1, max_size=4
        )
    )
    app.add_tasks_from(tasks, namespace="pushgate")
    return app


def bind_runtime(runtime: Runtime | None) -> None:
    global _runtime
    _runtime = runtime


def current_runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError("No pushgate runtime is running in this process.")
    return _runtime
