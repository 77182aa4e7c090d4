"""End-to-end fixtures: a server on its own database, and real browsers.

The server gets a database of its own, so the web app's service application
(and its callback URL) belongs to this server alone, whatever other tests
start meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import create_database, drop_database, make_settings
from tests.support.browser import (  # noqa: F401 - fixtures used by the tests
    browser,
    context,
    new_context,
    page,
    page_errors,
)
from tests.support.server import LiveServer


@pytest.fixture(scope="session")
def e2e_server(
    admin_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    url = create_database(admin_database_url)
    settings = make_settings(tmp_path_factory.mktemp("e2e"))
    server = LiveServer(settings, url).start()
    try:
        yield server
    finally:
        server.stop()
        drop_database(admin_database_url, url)
