"""Without a ping before each checkout, a dead pooled connection costs the hot
path nothing: its one statement runs again on a fresh connection."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from pushgate.db.engine import create_engine, retrying


async def test_a_statement_on_a_killed_pooled_connection_runs_once_more(
    database_url: str,
) -> None:
    engine = create_engine(database_url, pool_size=1, pre_ping=False)
    try:

        async def backend(connection: AsyncConnection) -> int:
            return int(await connection.scalar(text("SELECT pg_backend_pid()")))

        first = await retrying(engine, backend)
        # The pooled connection's server process goes away, as in a restart.
        killer = create_engine(database_url, pool_size=1)
        try:
            async with killer.connect() as other:
                await other.execute(
                    text("SELECT pg_terminate_backend(:pid)"), {"pid": first}
                )
        finally:
            await killer.dispose()
        second = await retrying(engine, backend)
        assert second != first
    finally:
        await engine.dispose()
