"""The company's two-step policy, and each employee's reset, extension and pause

Revision ID: 99b6dc5ad8f4
Revises: 5b1e0c7d2a90
Created: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "99b6dc5ad8f4"
down_revision = "5b1e0c7d2a90"
branch_labels = None
depends_on = None

USER_COLUMNS = (
    "two_step_reset_at",
    "two_step_extended_until",
    "two_step_paused_since",
    "two_step_paused_until",
)


def upgrade() -> None:
    # batch mode: SQLite rebuilds the table to add the check constraints.
    with op.batch_alter_table("company") as batch:
        batch.add_column(
            sa.Column("two_step_mandatory", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(sa.Column("two_step_mandatory_since", sa.DateTime(timezone=True)))
        batch.add_column(
            sa.Column("two_step_grace_days", sa.Integer(), server_default="5", nullable=False)
        )
        batch.add_column(
            sa.Column(
                "two_step_after_deadline",
                sa.String(length=16),
                server_default="refuse",
                nullable=False,
            )
        )
        batch.create_check_constraint(
            op.f("ck_company_grace_days_range"), "two_step_grace_days BETWEEN 0 AND 90"
        )
        batch.create_check_constraint(
            op.f("ck_company_after_deadline_known"),
            "two_step_after_deadline IN ('refuse', 'setup')",
        )

    with op.batch_alter_table("users") as batch:
        for name in USER_COLUMNS:
            batch.add_column(sa.Column(name, sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        for name in reversed(USER_COLUMNS):
            batch.drop_column(name)

    with op.batch_alter_table("company") as batch:
        batch.drop_constraint(op.f("ck_company_after_deadline_known"), type_="check")
        batch.drop_constraint(op.f("ck_company_grace_days_range"), type_="check")
        batch.drop_column("two_step_after_deadline")
        batch.drop_column("two_step_grace_days")
        batch.drop_column("two_step_mandatory_since")
        batch.drop_column("two_step_mandatory")
