"""web fixes: one account per service user, replaced login attempts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The approval service answers the same country code and phone with the
    # same user, so two accounts could hold one service user and approve each
    # other's logins. Where that already happened, the oldest account keeps
    # the service user; the later ones lose it (they can no longer log in
    # until they are set up again) rather than keep another person's phone.
    op.execute(
        """
        UPDATE users SET authy_id = NULL
        WHERE authy_id IS NOT NULL
          AND id <> (
            SELECT min(first.id) FROM users AS first
            WHERE first.authy_id = users.authy_id
          )
        """
    )
    op.create_unique_constraint("users_authy_id_key", "users", ["authy_id"])
    # Sign-up looks for an account with the same number before asking the
    # service.
    op.create_index("ix_users_phone", "users", ["country_code", "phone"])

    # Set on a waiting login when a newer login of the same person sent its
    # push, which withdrew this one's from the phone.
    op.add_column(
        "login_attempts",
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("login_attempts", "replaced_at")
    op.drop_index("ix_users_phone", table_name="users")
    op.drop_constraint("users_authy_id_key", "users", type_="unique")
