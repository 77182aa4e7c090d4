"""Fixtures for the security tests.

``sessions`` opens the shared test database. ``secure_server`` is a server of
its own, on a database of its own, with small limits so tests reach them
quickly, and 127.0.0.1 as a trusted proxy so each test can speak for a client
address of its own (``X-Forwarded-For``) and never meet another's counts.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pushgate.db.engine import create_engine, session_factory
from tests.conftest import create_database, drop_database, make_settings
from tests.support.server import LiveServer

LIMITS = {
    "login_free_failures_per_account": 3,
    "login_free_failures_per_address": 6,
    "login_max_delay_seconds": 60,
    "push_limit_per_user": 3,
    "push_report_pause_seconds": 600,
}


@pytest.fixture(scope="session")
async def sessions(
    database_url: str,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=2)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
def secure_server(
    admin_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    url = create_database(admin_database_url)
    settings = make_settings(
        tmp_path_factory.mktemp("secure"), trusted_proxies="127.0.0.1", **LIMITS
    )
    server = LiveServer(settings, url).start()
    yield server
    server.stop()
    drop_database(admin_database_url, url)


def client_address() -> str:
    """A client address no other test uses, for X-Forwarded-For only.

    From the benchmarking range 198.18.0.0/15; no traffic goes to it.
    """
    return f"198.18.{secrets.randbelow(250) + 1}.{secrets.randbelow(250) + 1}"


# The approval service's fixtures: applications, users, signing devices.
from tests.service.conftest import (  # noqa: E402
    enrolled,
    make_app,
    make_device,
    service_app,
)

# Headless Chromium (browser tests).
from tests.support.browser import (  # noqa: E402
    browser,
    new_context,
    page_errors,
)

__all__ = [
    "browser",
    "enrolled",
    "make_app",
    "make_device",
    "new_context",
    "page_errors",
    "secure_server",
    "service_app",
    "sessions",
]
