"""Apply the database schema: pushgate's Alembic migrations and the job queue's."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from pushgate.db.engine import sqlalchemy_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = sqlalchemy_url(url)
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (blocking)."""
    command.upgrade(alembic_config(url), revision)
