"""Remembered browsers: the company's "remember a browser for N days" and their rows

An employee may let a browser skip the second step for a number of days the company
chooses (0, the default, turns the option off). Each remembered browser is a row with
the hash of its cookie's token and a fingerprint of the account's secret and password,
so that changing either forgets it.

Revision ID: c5e82f1d9a34
Revises: e7c4b19a5d02
Created: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "c5e82f1d9a34"
down_revision = "e7c4b19a5d02"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("company") as batch:
        batch.add_column(
            sa.Column("remember_browser_days", sa.Integer(), server_default="0", nullable=False)
        )
        batch.create_check_constraint(
            op.f("ck_company_remember_days_range"), "remember_browser_days BETWEEN 0 AND 90"
        )

    op.create_table(
        "remembered_browsers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("user_agent", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_remembered_browsers_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remembered_browsers")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_remembered_browsers_token_hash")),
    )
    with op.batch_alter_table("remembered_browsers") as batch:
        batch.create_index(batch.f("ix_remembered_browsers_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("remembered_browsers") as batch:
        batch.drop_index(batch.f("ix_remembered_browsers_user_id"))
    op.drop_table("remembered_browsers")

    with op.batch_alter_table("company") as batch:
        batch.drop_constraint(op.f("ck_company_remember_days_range"), type_="check")
        batch.drop_column("remember_browser_days")
