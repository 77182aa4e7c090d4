"""Servers in subprocesses on a database of their own, so its sessions can be
counted and nothing else disturbs them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.conftest import create_database, drop_database
from tests.scaleout.remote_site import RemoteSite


@pytest.fixture
def own_database(admin_database_url: str) -> Iterator[str]:
    url = create_database(admin_database_url)
    yield url
    drop_database(admin_database_url, url)


@pytest.fixture
async def remote_site(own_database: str) -> AsyncIterator[RemoteSite]:
    site = RemoteSite(own_database)
    yield site
    await site.close()
