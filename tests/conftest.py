"""Shared fixtures: a fresh PostgreSQL database per test run, and live servers.

The database server is ``PUSHGATE_TEST_DATABASE_URL`` (an admin URL on a server
where the tests may create and drop databases). Unset, the local server on
127.0.0.1:5432 is used when it answers, else an embedded one from pgserver.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from pushgate.db.migrate import upgrade
from pushgate.settings import Settings
from tests.support.server import LiveServer, free_port

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("PUSHGATE_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    try:
        psycopg.connect(DEFAULT_ADMIN_URL, connect_timeout=2).close()
    except psycopg.OperationalError:
        from pushgate.db.embedded import EmbeddedPostgres

        embedded = EmbeddedPostgres(tmp_path_factory.mktemp("pg"))
        try:
            yield embedded.start()
        finally:
            embedded.stop()
        return
    yield DEFAULT_ADMIN_URL


@pytest.fixture(scope="session")
def admin_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _admin_url(tmp_path_factory)


def create_database(admin_url: str) -> str:
    """A new, migrated database on the admin URL's server; returns its URL."""
    name = f"pushgate_test_{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return url


def drop_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            )
        )


@pytest.fixture(scope="session")
def database_url(admin_database_url: str) -> Iterator[str]:
    url = create_database(admin_database_url)
    yield url
    drop_database(admin_database_url, url)


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    port = overrides.pop("port", None) or free_port()
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "secret_key": "test-secret-key-" + "x" * 16,
        "port": port,
        "event_backend": "postgres",
        "log_level": "WARNING",
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def live_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One server for the whole run, on the shared test database."""
    settings = make_settings(tmp_path_factory.mktemp("live"))
    server = LiveServer(settings, database_url).start()
    yield server
    server.stop()
