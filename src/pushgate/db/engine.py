"""The async engine and session factory, built from a PostgreSQL URL."""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import PoolProxiedConnection


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


def create_engine(
    url: str, pool_size: int = 10, *, pre_ping: bool = True
) -> AsyncEngine:
    """The engine; ``pre_ping=False`` only where something else notices a
    database restart and drops the pool (the PostgreSQL bus's listener)."""
    return create_async_engine(
        sqlalchemy_url(url),
        # A failed statement's error would list its parameters (emails, phone
        # numbers, whatever a client sent), and errors end up in the logs.
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        # A ping is a round trip before every checkout. Without it, a
        # statement that finds its connection dead makes SQLAlchemy drop it
        # and every pooled connection opened before it, and the hot path's
        # single statements try once more (``retrying``).
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
    )


def retire_pooled_connections(engine: AsyncEngine) -> None:
    """Every connection the pool holds now is closed and replaced at its next
    checkout (those in use finish first); for when the server went away.

    The same soft invalidation SQLAlchemy applies itself when a statement
    finds its connection dead, so each connection is closed properly.
    """
    pool = engine.sync_engine.pool
    pool._invalidate(cast(PoolProxiedConnection, None))


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


T = TypeVar("T")


async def retrying(
    engine: AsyncEngine, work: Callable[[AsyncConnection], Awaitable[T]]
) -> T:
    """``work`` on an autocommit connection, once more on a fresh one if the
    pooled connection turned out dead (the database restarted meanwhile).

    Only for work that is one statement (or reads): a statement whose
    connection died either committed or did not, and trying it again must be
    harmless either way.
    """
    try:
        async with autocommit(engine).connect() as connection:
            return await work(connection)
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
    async with autocommit(engine).connect() as connection:
        return await work(connection)
