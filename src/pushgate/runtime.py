"""What a running pushgate process holds: settings, database, bus, clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request

from pushgate.events.bus import EventBus
from pushgate.settings import Settings
from pushgate.sse import StreamRegistry

if TYPE_CHECKING:
    import procrastinate


@dataclass
class Runtime:
    settings: Settings
    database_url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: EventBus
    http: httpx.AsyncClient
    jobs: procrastinate.App
    streams: StreamRegistry = field(default_factory=StreamRegistry)
    #: The web app's own key for the approval service.
    service_api_key: str | None = None


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime
