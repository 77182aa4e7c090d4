"""security hardening: throttles, audit trail, number matching, push pauses

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("login_attempts", sa.Column("number_match", sa.Integer()))
    op.add_column(
        "service_users",
        sa.Column("pushes_paused_until", sa.DateTime(timezone=True)),
    )
    op.add_column("service_approval_requests", sa.Column("number_match", sa.Integer()))
    op.add_column(
        "service_approval_requests",
        sa.Column("number_choices", postgresql.JSONB(astext_type=sa.Text())),
    )

    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index(
        "ix_login_throttles_last_failure_at", "login_throttles", ["last_failure_at"]
    )

    op.create_table(
        "security_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_security_events_user_created", "security_events", ["user_id", "created_at"]
    )
    op.create_index("ix_security_events_created_at", "security_events", ["created_at"])

    op.create_table(
        "service_security_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["service_apps.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["service_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_service_security_events_app_id", "service_security_events", ["app_id"]
    )
    op.create_index(
        "ix_service_security_events_user_created",
        "service_security_events",
        ["user_id", "created_at"],
    )
    op.create_index(
        "ix_service_security_events_created_at",
        "service_security_events",
        ["created_at"],
    )


def downgrade() -> None:
    op.drop_table("service_security_events")
    op.drop_table("security_events")
    op.drop_table("login_throttles")
    op.drop_column("service_approval_requests", "number_choices")
    op.drop_column("service_approval_requests", "number_match")
    op.drop_column("service_users", "pushes_paused_until")
    op.drop_column("login_attempts", "number_match")
