"""The durable job queue (procrastinate) for work that must survive restarts.

Tasks are registered from the modules that own them through :data:`tasks`, a
blueprint; :func:`create_job_app` binds it to the database. A task reaches the
running process's database and HTTP client through :func:`current_runtime`.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

import procrastinate

from pushgate.db.engine import libpq_url

if TYPE_CHECKING:
    from pushgate.runtime import Runtime

tasks = procrastinate.Blueprint()

_runtime: Runtime | None = None
_bound: ContextVar[Runtime | None] = ContextVar("pushgate_runtime", default=None)


def create_job_app(database_url: str) -> procrastinate.App:
    # Importing the modules that define tasks registers them on the blueprint.
    import pushgate.housekeeping
    import pushgate.service.callbacks
    import pushgate.service.messages  # noqa: F401

    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=libpq_url(database_url), min_size=1, max_size=4
        )
    )
    # add_tasks_from renames the blueprint's tasks in place, so only the first
    # app of a process adds the namespace; later ones (tests run several
    # servers in one process) take the names as they already are.
    namespaced = any(name.startswith("pushgate:") for name in tasks.tasks)
    app.add_tasks_from(tasks, namespace="" if namespaced else "pushgate")
    return app


def bind_runtime(runtime: Runtime | None) -> None:
    """Make ``runtime`` the one tasks see; call before starting its worker.

    The worker task copies the context it was started in, so with several
    servers in one process each worker's tasks see their own runtime.
    """
    global _runtime
    _runtime = runtime
    _bound.set(runtime)


def current_runtime() -> Runtime:
    runtime = _bound.get() or _runtime
    if runtime is None:
        raise RuntimeError("No pushgate runtime is running in this process.")
    return runtime
