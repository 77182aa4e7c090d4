"""job queue tables (procrastinate)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04

Callbacks and messages are retried from procrastinate's tables. Its schema is
applied from the SQL file the installed procrastinate ships, once; a later
procrastinate release that changes its schema needs a migration here that
applies that release's own migration files.
"""

from collections.abc import Sequence

from alembic import op
from procrastinate.schema import SchemaManager

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Sent as one script with no parameters, so its % signs stay literal.
    driver = op.get_bind().connection.driver_connection
    assert driver is not None
    driver.execute(SchemaManager.get_schema())


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS procrastinate_jobs CASCADE")
