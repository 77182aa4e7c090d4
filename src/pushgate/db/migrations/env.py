"""Alembic environment: runs migrations with a synchronous psycopg connection."""

from alembic import context
from sqlalchemy import create_engine, pool

from pushgate.db.models import Base

config = context.config
url: str = config.attributes.get("database_url") or str(
    config.get_main_option("sqlalchemy.url")
)

engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
