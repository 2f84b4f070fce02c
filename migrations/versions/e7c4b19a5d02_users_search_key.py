"""users.search_key: each account's name and email without case or accents

The employees list finds "Müller" when "muller" is typed, and "Muller" when "Müller" is.
Neither SQLite nor PostgreSQL (without an extension) compares letters without their
accents, so the portal stores the folded name and email and searches that. Existing
accounts get theirs here, folded the way portal.models.fold_for_search folds them
(repeated here, so that this revision keeps meaning what it meant when it was written).

Revision ID: e7c4b19a5d02
Revises: a3d9e41c7b25
Created: 2026-11-26
"""

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "e7c4b19a5d02"
down_revision = "a3d9e41c7b25"
branch_labels = None
depends_on = None

_UNDECOMPOSED = str.maketrans(
    {"ø": "o", "đ": "d", "ð": "d", "ł": "l", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe", "þ": "th"}
)


def _fold(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.casefold().translate(_UNDECOMPOSED))
    return "".join(ch for ch in folded if not unicodedata.combining(ch))


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("search_key", sa.String(800), server_default="", nullable=False))
    users = sa.table(
        "users",
        sa.column("id", sa.Integer),
        sa.column("name"),
        sa.column("email"),
        sa.column("search_key"),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(users.c.id, users.c.name, users.c.email)).all()
    for user_id, name, email in rows:
        connection.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(search_key=_fold(f"{name or ''}\n{email or ''}")[:800])
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("search_key")
