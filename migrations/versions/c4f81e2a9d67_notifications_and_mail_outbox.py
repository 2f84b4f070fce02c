"""Notifications, the mail outbox, and the sign-in code option

Security notices reach the person under the bell in the header and, with SMTP settings,
by mail through an outbox the mail worker delivers. A session records when it passed
the second step, because only such a session is shown the sign-in codes; the company
chooses whether the code of a pending sign-in goes to the account's notifications.

Revision ID: c4f81e2a9d67
Revises: c5e82f1d9a34
Created: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "c4f81e2a9d67"
down_revision = "c5e82f1d9a34"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("company") as batch:
        batch.add_column(
            sa.Column(
                "sign_in_code_notices",
                sa.Boolean(),
                server_default=sa.false(),
                nullable=False,
            )
        )
    with op.batch_alter_table("user_sessions") as batch:
        batch.add_column(sa.Column("second_step_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("user_agent", sa.String(length=255), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("pending_session_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pending_session_id"],
            ["user_sessions.id"],
            name=op.f("fk_notifications_pending_session_id_user_sessions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications") as batch:
        batch.create_index(
            "ix_notifications_user_unread", ["user_id", "read_at", "pending_session_id"]
        )
        batch.create_index("ix_notifications_user_created", ["user_id", "created_at", "id"])
        batch.create_index("ix_notifications_pending_session_id", ["pending_session_id"])

    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
    )
    with op.batch_alter_table("mail_outbox") as batch:
        batch.create_index("ix_mail_outbox_due", ["sent_at", "next_attempt_at"])


def downgrade() -> None:
    with op.batch_alter_table("mail_outbox") as batch:
        batch.drop_index("ix_mail_outbox_due")
    op.drop_table("mail_outbox")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_index("ix_notifications_pending_session_id")
        batch.drop_index("ix_notifications_user_created")
        batch.drop_index("ix_notifications_user_unread")
    op.drop_table("notifications")
    with op.batch_alter_table("user_sessions") as batch:
        batch.drop_column("second_step_at")
    with op.batch_alter_table("company") as batch:
        batch.drop_column("sign_in_code_notices")
