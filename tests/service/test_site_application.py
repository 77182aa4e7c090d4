"""The web app's own service application is created once, however many start."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from sqlalchemy import func, select

from pushgate.db.engine import create_engine, session_factory
from pushgate.db.models import ServiceApp
from pushgate.events.memory import MemoryBus
from pushgate.runtime import Runtime
from pushgate.service.apps import SITE_APP_NAME, ensure_site_application
from tests.conftest import create_database, drop_database, make_settings


async def test_instances_starting_together_share_one_key(
    admin_database_url: str, tmp_path: Path
) -> None:
    url = await asyncio.to_thread(create_database, admin_database_url)
    engines = [create_engine(url, pool_size=2) for _ in range(4)]
    settings = make_settings(tmp_path, port=8000)
    try:
        runtimes = [
            Runtime(
                settings=settings,
                database_url=url,
                engine=engine,
                sessions=session_factory(engine),
                bus=MemoryBus(),
                http=httpx.AsyncClient(),
                jobs=None,  # type: ignore[arg-type]
            )
            for engine in engines
        ]

        keys = await asyncio.gather(*(ensure_site_application(r) for r in runtimes))

        assert len(set(keys)) == 1
        async with runtimes[0].sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(ServiceApp)
                .where(ServiceApp.name == SITE_APP_NAME)
            )
        assert count == 1
        for runtime in runtimes:
            await runtime.http.aclose()
    finally:
        for engine in engines:
            await engine.dispose()
        await asyncio.to_thread(drop_database, admin_database_url, url)
