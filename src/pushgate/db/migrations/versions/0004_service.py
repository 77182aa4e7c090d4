"""approval service tables and columns

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

Adds what the approval service needs beyond the core tables: when a device
signed its answer, the record of callback deliveries, per-month API usage and
phone verification codes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "service_approval_requests",
        sa.Column("device_signing_time", _TIME, nullable=True),
    )
    op.add_column(
        "service_approval_requests",
        sa.Column("device_signature", sa.Text(), nullable=False, server_default=""),
    )

    op.create_table(
        "service_callback_deliveries",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("approval_uuid", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["service_apps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("app_id", "approval_uuid", "started_at"):
        op.create_index(
            op.f(f"ix_service_callback_deliveries_{column}"),
            "service_callback_deliveries",
            [column],
        )

    op.create_table(
        "service_api_usage",
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("api_calls", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["service_apps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("app_id", "month"),
    )

    op.create_table(
        "service_phone_verifications",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=True),
        sa.Column("country_code", sa.String(length=4), nullable=False),
        sa.Column("cellphone", sa.String(length=20), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("verified_at", _TIME, nullable=True),
        sa.Column("replaced_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(["app_id"], ["service_apps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_service_phone_verifications_phone",
        "service_phone_verifications",
        ["country_code", "cellphone"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_service_phone_verifications_phone",
        table_name="service_phone_verifications",
    )
    op.drop_table("service_phone_verifications")
    op.drop_table("service_api_usage")
    for column in ("app_id", "approval_uuid", "started_at"):
        op.drop_index(
            op.f(f"ix_service_callback_deliveries_{column}"),
            table_name="service_callback_deliveries",
        )
    op.drop_table("service_callback_deliveries")
    op.drop_column("service_approval_requests", "device_signature")
    op.drop_column("service_approval_requests", "device_signing_time")
