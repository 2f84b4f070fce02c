"""Indexes for pages that must not slow down as history grows

The Security page lists a person's signed-in sessions that are still in use. Ended ones
(unused beyond the idle limit, or sign-ins that never got their code) stay in the table
until the purge deletes them, so the person's sessions are read through an index on
(user_id, stage, last_seen_at) that skips them; it replaces the index on user_id alone,
whose work it does as well. The employees list pages through everyone by the folded
name (users.search_key): an index on (search_key, id) gives a page without sorting every
account. It also counts everyone's two-step state, from the columns a state depends on:
an index of those alone is read instead of whole rows.

Revision ID: b8d2f6a4c913
Revises: c4f81e2a9d67
Created: 2026-11-26
"""

from alembic import op

revision = "b8d2f6a4c913"
down_revision = "c4f81e2a9d67"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_sessions") as batch:
        batch.drop_index("ix_user_sessions_user_id")
        batch.create_index("ix_user_sessions_user_stage_seen", ["user_id", "stage", "last_seen_at"])
    with op.batch_alter_table("users") as batch:
        batch.create_index("ix_users_search_key", ["search_key", "id"])
        batch.create_index(
            "ix_users_two_step_standing",
            [
                "active",
                "two_step_paused_since",
                "two_step_paused_until",
                "two_step_extended_until",
                "created_at",
                "two_step_reset_at",
                "totp_secret",
            ],
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_two_step_standing")
        batch.drop_index("ix_users_search_key")
    with op.batch_alter_table("user_sessions") as batch:
        batch.drop_index("ix_user_sessions_user_stage_seen")
        batch.create_index("ix_user_sessions_user_id", ["user_id"])
