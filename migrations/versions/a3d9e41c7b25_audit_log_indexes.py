"""Audit log indexes: (kind | actor | subject, occurred_at, id, ...) and (occurred_at, id)

The administrators' audit log lists events newest first and filters them by kind, by
person (actor or subject) and by date. Each filter gets an index in the order of the
list, with the id after the time, so that a page and its count are read from the index
alone; a person's indexes also hold the kind, and the actor's the subject, which the
person filter checks. They replace the single-column indexes on occurred_at, kind and actor_id, whose work
the new ones do as well.

Revision ID: a3d9e41c7b25
Revises: 99b6dc5ad8f4
Created: 2026-11-26
"""

from alembic import op

revision = "a3d9e41c7b25"
down_revision = "99b6dc5ad8f4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_index("ix_audit_events_occurred_at")
        batch.drop_index("ix_audit_events_kind")
        batch.drop_index("ix_audit_events_actor_id")
        batch.drop_index("ix_audit_events_subject_occurred")
        batch.create_index("ix_audit_events_occurred", ["occurred_at", "id"])
        batch.create_index("ix_audit_events_kind_occurred", ["kind", "occurred_at", "id"])
        batch.create_index(
            "ix_audit_events_actor_occurred",
            ["actor_id", "occurred_at", "id", "subject_id", "kind"],
        )
        batch.create_index(
            "ix_audit_events_subject_occurred", ["subject_id", "occurred_at", "id", "kind"]
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_index("ix_audit_events_subject_occurred")
        batch.drop_index("ix_audit_events_actor_occurred")
        batch.drop_index("ix_audit_events_kind_occurred")
        batch.drop_index("ix_audit_events_occurred")
        batch.create_index("ix_audit_events_subject_occurred", ["subject_id", "occurred_at"])
        batch.create_index("ix_audit_events_actor_id", ["actor_id"])
        batch.create_index("ix_audit_events_kind", ["kind"])
        batch.create_index("ix_audit_events_occurred_at", ["occurred_at"])
