"""The async engine and session factory, built from a PostgreSQL URL."""

from __future__ import annotations

import weakref

from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def sqlalchemy_url(url: str) -> str:
    """``postgresql://...`` as SQLAlchemy's psycopg 3 dialect spells it."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(
            hide_password=False
        )
    raise ValueError(
        f"PUSHGATE_DATABASE_URL must be a postgresql:// URL, not {parsed.drivername}://"
    )


def libpq_url(url: str) -> str:
    """The same URL as plain libpq understands it (for psycopg directly)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def create_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        sqlalchemy_url(url),
        # A failed statement's error would list its parameters (emails, phone
        # numbers, whatever a client sent), and errors end up in the logs.
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


_AUTOCOMMIT: weakref.WeakKeyDictionary[Engine, AsyncEngine] = (
    weakref.WeakKeyDictionary()
)


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """``engine`` (same pool) running each statement as its own transaction.

    For the hot path's single statements: no ``BEGIN`` before and no
    ``ROLLBACK``/``COMMIT`` after, so one statement is one round trip.
    """
    found = _AUTOCOMMIT.get(engine.sync_engine)
    if found is None:
        found = engine.execution_options(isolation_level="AUTOCOMMIT")
        _AUTOCOMMIT[engine.sync_engine] = found
    return found
