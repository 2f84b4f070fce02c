"""The Alembic revisions build exactly the schema the models describe, and come down again.

On SQLite always; on PostgreSQL too when PORTAL_TEST_DATABASE_URL is set, in a database of
its own that is made for this test and dropped after it, so that it never touches the
tables the rest of the suite uses.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pprint import pformat

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

import portal.models  # noqa: F401  (registers every table on Base.metadata)
from portal.database import Base, alembic_config

POSTGRES_URL = os.environ.get("PORTAL_TEST_DATABASE_URL", "")


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'migrations.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("PORTAL_TEST_DATABASE_URL is not set")
    name = f"portal_migrations_{secrets.token_hex(6)}"
    server = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")


def differences(url: str) -> list:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "target_metadata": Base.metadata}
            )
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def test_upgrade_to_head_matches_the_models(empty_database):
    config = alembic_config(empty_database)
    command.upgrade(config, "head")
    assert (
        current_revision(empty_database) == ScriptDirectory.from_config(config).get_current_head()
    )
    diff = differences(empty_database)
    assert diff == [], "the migrations and the models disagree:\n" + pformat(diff)
    assert set(Base.metadata.tables) | {"alembic_version"} == tables(empty_database)


def test_downgrade_to_base_and_up_again(empty_database):
    config = alembic_config(empty_database)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    assert tables(empty_database) <= {"alembic_version"}
    assert current_revision(empty_database) is None
    command.upgrade(config, "head")
    assert differences(empty_database) == []


def test_every_revision_steps_up_and_down(empty_database):
    """Each revision's downgrade undoes exactly its upgrade, one step at a time."""
    config = alembic_config(empty_database)
    script = ScriptDirectory.from_config(config)
    revisions = list(reversed(list(script.walk_revisions("base", "heads"))))
    assert len(script.get_heads()) == 1, "the migrations have more than one head"
    for revision in revisions:
        command.upgrade(config, revision.revision)
        after_upgrade = tables(empty_database)
        command.downgrade(config, "-1")
        command.upgrade(config, revision.revision)
        assert tables(empty_database) == after_upgrade, revision.revision


def test_the_search_key_is_filled_for_existing_accounts(empty_database):
    config = alembic_config(empty_database)
    command.upgrade(config, "a3d9e41c7b25")
    engine = create_engine(empty_database, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, name, email, role, active, created_at, "
                    "second_step_failures) VALUES "
                    "(1, 'Jana Müller', 'jana@example.com', 'employee', true, "
                    "'2026-01-01 00:00:00+00:00', 0), "
                    "(2, 'Søren Ærø', 'SOREN@example.com', 'admin', true, "
                    "'2026-01-01 00:00:00+00:00', 0)"
                )
            )
        command.upgrade(config, "e7c4b19a5d02")
        with engine.connect() as connection:
            keys = dict(connection.execute(text("SELECT id, search_key FROM users")).all())
        assert keys == {1: "jana muller\njana@example.com", 2: "soren aero\nsoren@example.com"}
        command.downgrade(config, "a3d9e41c7b25")
        assert "search_key" not in {
            column["name"] for column in inspect(engine).get_columns("users")
        }
    finally:
        engine.dispose()
