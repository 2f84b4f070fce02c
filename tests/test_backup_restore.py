"""Backup and restore: a backup restored into a new instance with the same keys lets an
employee sign in with password and code; restore refuses, changing nothing, what it must
not take. SQLite always; the PostgreSQL steps of the README (pg_dump, pg_restore, db
upgrade) when PORTAL_TEST_DATABASE_URL names a server and pg_dump is installed."""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from portal import create_app
from portal.database import alembic_config, db
from portal.models import Company, User
from portal.origin import Origin
from portal.services import accounts, two_step
from portal.services.backup import libpq_url
from tests.support import DEFAULT_PASSWORD, is_signed_in, sign_in_with_code, totp_code

POSTGRES_URL = os.environ.get("PORTAL_TEST_DATABASE_URL", "")
EMAIL = "emma@example.com"


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def previous_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    down = script.get_revision(head_revision()).down_revision
    assert isinstance(down, str)
    return down


@pytest.fixture
def instances(app_config, tmp_path) -> Iterator:
    """make(name, **settings): a portal instance of its own (folder, SQLite file, or the
    database URL given), with the suite's keys unless told otherwise."""
    made: list[Flask] = []

    def make(name: str, **settings) -> Flask:
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        config = {
            **app_config,
            "DATABASE_URL": f"sqlite:///{folder / 'portal.db'}",
            "INSTANCE_PATH": str(folder),
            **settings,
        }
        app = create_app(config)
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            db.engine.dispose()


def invoke(app: Flask, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def populate(app: Flask, clock, *, revision: str = "head") -> str:
    """Migrates, sets the company up and enrols Emma in two-step; returns her secret."""
    result = invoke(app, "db", "upgrade", revision)
    assert result.exit_code == 0, result.output
    if revision != "head":
        return ""
    with app.app_context():
        db.session.add(Company(id=1, name="Acme Tools"))
        user = accounts.create(name="Emma Stone", email=EMAIL, password=DEFAULT_PASSWORD)
        db.session.commit()
        secret = two_step.start_enrolment(user)
        outcome = two_step.confirm_enrolment(
            user, totp_code(secret, clock), Origin("127.0.0.1", "pytest"), None
        )
        assert outcome.ok, outcome.message
        two_step.confirm_codes_saved(user)
    clock.advance(seconds=30)
    return secret


def back_up(app: Flask, target: Path) -> Path:
    result = invoke(app, "backup", str(target))
    assert result.exit_code == 0, result.output
    return target


def database_file(app: Flask) -> Path:
    return Path(make_url(app.config["DATABASE_URL"]).database or "")


def emails(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(User.email).order_by(User.email)))


def signs_in_with_code(app: Flask, secret: str, clock) -> bool:
    client = app.test_client()
    sign_in_with_code(client, secret, clock, EMAIL)
    return is_signed_in(client)


# SQLite


@pytest.mark.parametrize("target", ["no database yet", "migrated, empty"])
def test_a_backup_restored_into_a_new_instance_signs_in_with_a_code(
    instances, tmp_path, clock, target
):
    old = instances("old")
    secret = populate(old, clock)
    backup = back_up(old, tmp_path / "portal-backup.db")

    new = instances("new")
    if target == "migrated, empty":
        assert invoke(new, "db", "upgrade").exit_code == 0
    result = invoke(new, "restore", str(backup))
    assert result.exit_code == 0, result.output
    assert f"Restored {database_file(new)} from {backup}." in result.output
    assert "Migrated" not in result.output
    assert "could not be checked" not in result.output

    assert emails(new) == [EMAIL]
    assert signs_in_with_code(new, secret, clock)
    # The restore leaves no working copy behind.
    assert sorted(path.name for path in database_file(new).parent.glob(".portal.db*")) == []


def test_an_older_backup_is_migrated_to_the_newest_schema(instances, tmp_path, clock):
    old = instances("old")
    populate(old, clock, revision=previous_revision())
    backup = back_up(old, tmp_path / "old-schema.db")

    new = instances("new")
    result = invoke(new, "restore", str(backup))
    assert result.exit_code == 0, result.output
    assert f"Migrated it from {previous_revision()} to {head_revision()}." in result.output
    assert "could not be checked" in result.output
    with sqlite3.connect(database_file(new)) as copy:
        assert copy.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (head_revision(),)
        ]


def refused(app: Flask, backup: Path, message: str, *args: str) -> None:
    before = database_file(app).read_bytes() if database_file(app).exists() else None
    result = invoke(app, "restore", str(backup), *args)
    assert result.exit_code == 1, result.output
    assert message in result.output
    after = database_file(app).read_bytes() if database_file(app).exists() else None
    assert after == before, "the database changed"
    assert list(database_file(app).parent.glob(".portal.db.restoring-*")) == []


def test_restore_refuses_a_file_that_is_not_an_sqlite_database(instances, tmp_path):
    backup = tmp_path / "notes.db"
    backup.write_text("SQLite? No, a shopping list.\n" * 20)
    new = instances("new")
    refused(new, backup, "is not an SQLite database")
    refused(new, tmp_path / "missing.db", "There is no file at")
    assert not database_file(new).exists()


def test_restore_refuses_an_sqlite_database_that_is_not_the_portals(instances, tmp_path):
    backup = tmp_path / "other.db"
    with sqlite3.connect(backup) as other:
        other.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, nickname TEXT)")
        other.execute("INSERT INTO users (nickname) VALUES ('someone')")
    other.close()
    new = instances("new")
    refused(new, backup, "is an SQLite database but not the portal's")
    assert not database_file(new).exists()


def test_restore_refuses_a_backup_from_newer_code(instances, tmp_path, clock):
    old = instances("old")
    populate(old, clock)
    backup = back_up(old, tmp_path / "newer.db")
    with sqlite3.connect(backup) as newer:
        newer.execute("UPDATE alembic_version SET version_num = 'f00dfacade01'")
    newer.close()
    new = instances("new")
    assert invoke(new, "db", "upgrade").exit_code == 0
    refused(new, backup, "is at migration f00dfacade01, which this code does not know")
    # The backup itself is not changed either.
    with sqlite3.connect(backup) as copy:
        assert copy.execute("SELECT version_num FROM alembic_version").fetchone() == (
            "f00dfacade01",
        )
    copy.close()


def test_restore_refuses_when_the_instance_key_does_not_fit(instances, tmp_path, clock):
    old = instances("old")
    populate(old, clock)
    backup = back_up(old, tmp_path / "portal-backup.db")
    stranger = instances("stranger", ENCRYPTION_KEY="another instance's encryption key")
    refused(stranger, backup, "ENCRYPTION_KEY does not decrypt the backup's two-step secrets")
    refused(stranger, backup, "instance/config.py", "--force")
    assert not database_file(stranger).exists()


def test_restore_replaces_a_database_in_use_only_with_force(instances, tmp_path, clock):
    old = instances("old")
    secret = populate(old, clock)
    backup = back_up(old, tmp_path / "portal-backup.db")

    new = instances("new")
    assert invoke(new, "restore", str(backup)).exit_code == 0
    with new.app_context():
        accounts.create(name="Olga Ray", email="olga@example.com", password=DEFAULT_PASSWORD)
        db.session.commit()

    refused(new, backup, "is not empty: restoring would replace everything in it")
    assert emails(new) == [EMAIL, "olga@example.com"]

    forced = invoke(new, "restore", str(backup), "--force")
    assert forced.exit_code == 0, forced.output
    assert emails(new) == [EMAIL]
    assert signs_in_with_code(new, secret, clock)


def test_restore_on_postgresql_explains_pg_restore(instances, tmp_path):
    app = instances(
        "pg", DATABASE_URL="postgresql+psycopg://portal:s3cret@db.example.com:5432/portal"
    )
    backup = tmp_path / "portal.dump"
    backup.write_bytes(b"PGDMP")
    result = invoke(app, "restore", str(backup))
    assert result.exit_code == 1
    assert "pg_restore --no-owner --dbname='postgresql://portal@db.example.com:5432/portal'" in (
        result.output
    )
    assert "s3cret" not in result.output


# PostgreSQL: the README's steps


@pytest.fixture
def postgres_databases() -> Iterator:
    """make(): a new, empty PostgreSQL database's URL; all are dropped afterwards."""
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump and pg_restore are not installed")
    if not POSTGRES_URL:
        pytest.skip("PORTAL_TEST_DATABASE_URL names no PostgreSQL server")
    server = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    names: list[str] = []

    def make() -> str:
        name = f"portal_restore_{secrets.token_hex(6)}"
        with server.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        names.append(name)
        return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)

    yield make
    with server.connect() as connection:
        for name in names:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


def test_pg_dump_and_pg_restore_into_a_new_database_signs_in_with_a_code(
    instances, postgres_databases, tmp_path, clock
):
    old = instances("old", DATABASE_URL=postgres_databases())
    secret = populate(old, clock)
    with old.app_context():
        db.engine.dispose()

    # The command `flask backup` prints for PostgreSQL.
    hint = invoke(old, "backup", str(tmp_path / "unused.db")).output
    assert (
        f"pg_dump --format=custom --file=portal.dump '{libpq_url(old.config['DATABASE_URL'])}'"
        in hint
    )
    dump = tmp_path / "portal.dump"
    subprocess.run(
        ["pg_dump", "--format=custom", f"--file={dump}", libpq_url(old.config["DATABASE_URL"])],
        check=True,
    )

    new = instances("new", DATABASE_URL=postgres_databases())
    subprocess.run(
        [
            "pg_restore",
            "--no-owner",
            f"--dbname={libpq_url(new.config['DATABASE_URL'])}",
            str(dump),
        ],
        check=True,
    )
    upgraded = invoke(new, "db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output

    assert emails(new) == [EMAIL]
    assert signs_in_with_code(new, secret, clock)
