"""Drop users.second_step_last_failure_at, which nothing read

Revision ID: 5b1e0c7d2a90
Revises: cfc774a6f076
Created: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "5b1e0c7d2a90"
down_revision = "cfc774a6f076"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite rebuilds the table to drop a column.
    with op.batch_alter_table("users") as batch:
        batch.drop_column("second_step_last_failure_at")


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("second_step_last_failure_at", sa.DateTime(timezone=True)))
