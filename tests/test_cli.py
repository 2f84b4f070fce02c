"""The command line (`flask --app wsgi ...`): create-user, reset-2fa, setup-link, db, backup."""

from __future__ import annotations

import sqlite3

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select

from portal import create_app
from portal.database import alembic_config, db
from portal.models import ROLE_ADMIN, ROLE_EMPLOYEE, AuditEvent, User
from portal.services import accounts, first_run
from tests.support import recovery_code_hashes, sign_in, sign_in_with_code, user_row

PASSWORD = "a sturdy passphrase"


def users(app) -> list[User]:
    with app.app_context():
        found = list(db.session.scalars(select(User).order_by(User.id)))
        for user in found:
            db.session.expunge(user)
        return found


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


@pytest.fixture
def sqlite_app(app_config, tmp_path):
    """An app on its own empty SQLite file, also when the suite runs on PostgreSQL."""
    app = create_app(
        {
            **app_config,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'cli' / 'portal.db'}",
            "INSTANCE_PATH": str(tmp_path / "cli"),
        }
    )
    (tmp_path / "cli").mkdir(exist_ok=True)
    yield app
    with app.app_context():
        db.engine.dispose()


# create-user


def test_create_user_asks_for_the_password_twice(runner, app):
    result = runner.invoke(
        args=["create-user", "--name", "Emma Stone", "--email", "Emma@Example.com"],
        input=f"{PASSWORD}\nnot the same\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert "Created employee emma@example.com." in result.output
    assert PASSWORD not in result.output

    (user,) = users(app)
    assert (user.name, user.email, user.role, user.active) == (
        "Emma Stone",
        "emma@example.com",
        ROLE_EMPLOYEE,
        True,
    )
    with app.app_context():
        assert accounts.verify_password(user, PASSWORD)
        assert db.session.scalars(select(AuditEvent.kind)).all() == ["employee_added"]


def test_create_admin_with_the_password_on_standard_input(runner, app, client):
    result = runner.invoke(
        args=[
            "create-user",
            "--name",
            "Ada Admin",
            "--email",
            "ada@example.com",
            "--admin",
            "--password-stdin",
        ],
        input=f"{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created administrator ada@example.com." in result.output
    (user,) = users(app)
    assert user.role == ROLE_ADMIN
    # The account works on the web at once.
    assert sign_in(client, "ada@example.com", PASSWORD).status_code == 303


def test_create_user_with_a_taken_email_is_a_clean_error(runner, app):
    args = [
        "create-user",
        "--name",
        "Emma Stone",
        "--email",
        "emma@example.com",
        "--password-stdin",
    ]
    assert runner.invoke(args=args, input=f"{PASSWORD}\n").exit_code == 0
    again = runner.invoke(
        args=[*args[:4], "EMMA@example.com", "--password-stdin"], input=f"{PASSWORD}\n"
    )
    assert again.exit_code == 1
    assert again.output.strip() == "Error: An account with this email already exists."
    assert "Traceback" not in again.output
    assert len(users(app)) == 1


@pytest.mark.parametrize(
    "name, email, password, message",
    [
        ("Emma Stone", "emma@example.com", "short", "at least 10 characters"),
        ("Emma Stone", "emma@example.com", "emma@example.com", "must not be your email"),
        ("Emma Stone", "not-an-email", PASSWORD, "valid email"),
        ("Emma Stone", "e" * 250 + "@example.com", PASSWORD, "valid email"),
        ("   ", "emma@example.com", PASSWORD, "name of 1 to 120"),
        ("N" * 121, "emma@example.com", PASSWORD, "name of 1 to 120"),
    ],
)
def test_create_user_refuses_bad_input(runner, app, name, email, password, message):
    result = runner.invoke(
        args=["create-user", "--name", name, "--email", email, "--password-stdin"],
        input=f"{password}\n",
    )
    assert result.exit_code == 1
    assert message in result.output
    assert users(app) == []


# reset-2fa: the way back in for someone who lost phone and recovery codes


def test_reset_2fa_removes_two_step_ends_sessions_and_is_recorded(
    app, client, other_client, runner, employee, enrol, clock
):
    secret, _ = enrol(employee)
    sign_in_with_code(other_client, secret, clock)  # Emma, signed in before she lost the phone
    assert other_client.get("/profile/security").status_code == 200

    result = runner.invoke(
        args=["reset-2fa", "EMMA@example.com", "--reason", "lost phone and codes"]
    )

    assert result.exit_code == 0, result.output
    user = user_row(app, employee)
    assert user.totp_secret is None and user.second_step_failures == 0
    assert recovery_code_hashes(app, employee) == set()
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.kind == "two_step_reset")
        ).one()
        assert event.subject_id == employee and "lost phone and codes" in event.detail
    signed_out = other_client.get("/profile/security")
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]
    assert sign_in(client, "emma@example.com").headers["Location"].endswith("/profile/security")


def test_reset_2fa_of_an_unknown_email_fails_cleanly(runner, employee):
    result = runner.invoke(args=["reset-2fa", "nobody@example.com", "--reason", "x"])
    assert result.exit_code != 0
    assert "no account" in result.output


# setup-link


def test_setup_link_prints_the_token_that_opens_setup(runner, app, client):
    result = runner.invoke(args=["setup-link"])
    assert result.exit_code == 0, result.output
    token = first_run.ensure_token(app.instance_path)
    assert result.output.strip() == f"http://127.0.0.1:5000/setup?token={token}"
    # Asking again gives the same link (every server process shares the token).
    assert runner.invoke(args=["setup-link"]).output == result.output
    other = runner.invoke(args=["setup-link", "--base-url", "https://portal.example.com/"])
    assert other.output.strip() == f"https://portal.example.com/setup?token={token}"
    assert client.get(f"/setup?token={token}").status_code == 200


def test_setup_link_refuses_once_someone_exists(runner, app):
    with app.app_context():
        accounts.create(
            name="Ada Admin", email="ada@example.com", password=PASSWORD, role=ROLE_ADMIN
        )
        db.session.commit()
    result = runner.invoke(args=["setup-link"])
    assert result.exit_code == 1
    assert "Setup is done already." in result.output


# db upgrade and backup (SQLite)


def test_db_upgrade_builds_the_schema_and_is_repeatable(sqlite_app):
    runner = sqlite_app.test_cli_runner()
    first = runner.invoke(args=["db", "upgrade"])
    assert first.exit_code == 0, first.output
    assert "Database is at head." in first.output
    with sqlite_app.app_context():
        inspector = inspect(db.engine)
        assert {"company", "users", "user_sessions", "invitations", "audit_events"} <= set(
            inspector.get_table_names()
        )
        with db.engine.connect() as connection:
            version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    assert version == head_revision()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0


def test_backup_copies_the_sqlite_database_online(sqlite_app, tmp_path):
    runner = sqlite_app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    for email in ("ada@example.com", "emma@example.com"):
        created = runner.invoke(
            args=["create-user", "--name", "Someone", "--email", email, "--password-stdin"],
            input=f"{PASSWORD}\n",
        )
        assert created.exit_code == 0, created.output

    # The portal keeps a connection open meanwhile, as a running server would.
    with sqlite_app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == 2
        target = tmp_path / "backup.db"
        result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert f"to {target}" in result.output

    copy = sqlite3.connect(target)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        emails = [row[0] for row in copy.execute("SELECT email FROM users ORDER BY email")]
        version = copy.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    finally:
        copy.close()
    assert emails == ["ada@example.com", "emma@example.com"]
    assert version == head_revision()

    # An existing file is never overwritten.
    target_size = target.stat().st_size
    again = runner.invoke(args=["backup", str(target)])
    assert again.exit_code == 1
    assert "exists already" in again.output
    assert target.stat().st_size == target_size


def test_backup_without_a_database_file_says_so(sqlite_app, tmp_path):
    result = sqlite_app.test_cli_runner().invoke(args=["backup", str(tmp_path / "backup.db")])
    assert result.exit_code == 1
    assert "There is no SQLite database" in result.output
    assert not (tmp_path / "backup.db").exists()


def test_backup_on_postgresql_explains_pg_dump(app_config, tmp_path):
    app = create_app(
        {
            **app_config,
            "DATABASE_URL": "postgresql+psycopg://portal:s3cret@db.example.com:5432/portal",
        }
    )
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "backup.db")])
    assert result.exit_code == 1
    assert (
        "pg_dump --format=custom --file=portal.dump 'postgresql://portal@db.example.com:5432/portal'"
        in result.output
    )
    assert "s3cret" not in result.output
    assert not (tmp_path / "backup.db").exists()
