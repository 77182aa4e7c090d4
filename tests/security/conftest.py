"""Fixtures for the security tests: a session factory on the test database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pushgate.db.engine import create_engine, session_factory


@pytest.fixture(scope="session")
async def sessions(
    database_url: str,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=2)
    yield session_factory(engine)
    await engine.dispose()


# The approval service's fixtures: applications, users, signing devices.
from tests.service.conftest import (  # noqa: E402
    enrolled,
    make_app,
    make_device,
    service_app,
)

__all__ = ["enrolled", "make_app", "make_device", "service_app", "sessions"]
