"""web app tables and columns

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A login attempt is pending until answered; "expired" is computed from
    # expires_at on read, so it must never be stored.
    op.create_check_constraint(
        "ck_login_attempts_status",
        "login_attempts",
        "status IN ('pending', 'approved', 'denied')",
    )


def downgrade() -> None:
    op.drop_constraint("ck_login_attempts_status", "login_attempts", type_="check")
