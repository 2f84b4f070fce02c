"""Command line: `flask --app wsgi <command>`."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from portal.database import alembic_config, db
from portal.forms import EMAIL_PATTERN
from portal.models import ROLE_ADMIN, ROLE_EMPLOYEE
from portal.services import accounts, audit, doctor, first_run, mail, two_step, worker
from portal.services import backup as backups
from portal.services import purge as purge_service
from portal.wording import plural


def init_app(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(create_user)
    app.cli.add_command(backup)
    app.cli.add_command(restore)
    app.cli.add_command(purge)
    app.cli.add_command(setup_link)
    app.cli.add_command(reset_two_step)
    app.cli.add_command(mail_worker)
    app.cli.add_command(doctor_command)


# Commands carry their own app context: `flask` pushes one for them, but an app's own
# `app.cli` (as in app.test_cli_runner()) does not for commands added with add_command.
db_group = AppGroup("db", help="Database schema (Alembic).")


@db_group.command("upgrade", help="Upgrade the database to the newest schema.")
@click.argument("revision", default="head")
def db_upgrade(revision: str):
    from alembic import command

    command.upgrade(alembic_config(current_app.config["DATABASE_URL"]), revision)
    click.echo(f"Database is at {revision}.")


@db_group.command("revision", help="Write a new migration from the models (for developers).")
@click.option("-m", "--message", required=True)
def db_revision(message: str):
    from alembic import command

    command.revision(
        alembic_config(current_app.config["DATABASE_URL"]), message=message, autogenerate=True
    )


@click.command("create-user", help="Create an employee, or an administrator with --admin.")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--admin", "is_admin", is_flag=True, help="Make an administrator.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def create_user(name: str, email: str, is_admin: bool, password_stdin: bool):
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    # The same rules as the web forms, so a typo cannot make an account nobody can sign in to.
    if not name.strip() or len(name.strip()) > 120:
        raise click.ClickException("Give a name of 1 to 120 characters.")
    if len(email.strip()) > 254 or not EMAIL_PATTERN.regex.match(email.strip()):
        raise click.ClickException("Enter a valid email address.")
    try:
        user = accounts.create(
            name=name,
            email=email,
            password=password,
            role=ROLE_ADMIN if is_admin else ROLE_EMPLOYEE,
        )
    except accounts.AccountError as error:
        raise click.ClickException(str(error)) from None
    audit.record(audit.EMPLOYEE_ADDED, origin=None, subject=user, detail="command line")
    db.session.commit()
    click.echo(f"Created {'administrator' if is_admin else 'employee'} {user.email}.")


@click.command("backup", help="Online backup of the SQLite database to PATH.")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def backup(path: str):
    try:
        source = backups.back_up(current_app.config["DATABASE_URL"], Path(path))
    except backups.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Backed up {source} to {path}.")


@click.command(
    "restore",
    help="Restore the SQLite database from BACKUP (a file made by `backup`), then migrate it.",
)
@click.argument("backup_file", metavar="BACKUP", type=click.Path(dir_okay=False))
@click.option(
    "--force", is_flag=True, help="Replace a database that holds data already (all of it)."
)
@with_appcontext
def restore(backup_file: str, force: bool):
    try:
        restored = backups.restore(
            current_app.config["DATABASE_URL"], Path(backup_file), force=force
        )
    except backups.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Restored {restored.database} from {backup_file}.")
    if restored.revision != restored.head:
        click.echo(f"Migrated it from {restored.revision} to {restored.head}.")
    if not restored.secrets_checked:
        click.echo(
            "No one in it has two-step authentication, so the ENCRYPTION_KEY could not be "
            "checked against it."
        )


@click.command("purge", help="Delete sessions, links and other rows no longer of any use.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=purge_service.BATCH_SIZE,
    show_default=True,
    help="Rows per transaction.",
)
@with_appcontext
def purge(batch_size: int):
    for result in purge_service.run(batch_size=batch_size):
        click.echo(f"{result.describe()}.")


@click.command("setup-link", help="Print the first-run setup link while setup is open.")
@click.option("--base-url", default="http://127.0.0.1:5000")
@with_appcontext
def setup_link(base_url: str):
    if not first_run.is_needed():
        raise click.ClickException("Setup is done already.")
    token = first_run.ensure_token(current_app.instance_path)
    click.echo(f"{base_url.rstrip('/')}/setup?token={token}")


@click.command("reset-2fa", help="Turn off two-step authentication for someone locked out.")
@click.argument("email")
@click.option("--reason", required=True, help="Why; recorded in the audit log.")
@with_appcontext
def reset_two_step(email: str, reason: str):
    user = accounts.by_email(email)
    if user is None:
        raise click.ClickException(f"There is no account with the email {email}.")
    if not reason.strip():
        raise click.ClickException("Give a reason; it is recorded in the audit log.")
    two_step.reset(user, reason=f"command line: {reason.strip()[:400]}", origin=None, by=None)
    click.echo(
        f"Two-step authentication is reset for {user.email}; their sessions are signed out. "
        "They can sign in with their password and turn it on again."
    )


@click.command(
    "mail-worker",
    help="The background worker: delivers the mail outbox and purges every PURGE_INTERVAL "
    "seconds; runs until stopped (or --once).",
)
@click.option("--once", is_flag=True, help="One round (what is due now), then stop.")
@click.option(
    "--optional",
    is_flag=True,
    help="Without a mail server, only purge (or leave quietly if PURGE_INTERVAL is 0).",
)
@with_appcontext
def mail_worker(once: bool, optional: bool):
    config = current_app.config
    with_mail = mail.configured()
    if not with_mail and not optional:
        raise click.ClickException(
            "No mail server is set: set PORTAL_SMTP_HOST (see the README's Mail section)."
        )
    purge_every = worker.purge_every(config["PURGE_INTERVAL"])
    background = worker.Worker(
        deliver_mail=with_mail,
        purge_every=purge_every,
        idle_wait=config["MAIL_WORKER_INTERVAL"],
        say=click.echo,
    )
    if with_mail:
        click.echo(f"Worker {background.id[:8]} delivering mail through {mail.settings().host}.")
    else:
        click.echo("No mail server is set (PORTAL_SMTP_HOST): notices stay in the portal.")
    if purge_every is None:
        click.echo("Purge is off here (PURGE_INTERVAL is 0).")
    else:
        click.echo(f"Purging every {worker.describe_interval(purge_every)}.")
    if not background.has_work:
        return
    stopping: list[bool] = []
    # systemd and make stop it with SIGTERM: finish the mail in hand, then leave.
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    background.run(once=once, stopping=lambda: bool(stopping))


@click.command("doctor", help="Check this deployment and say what to fix.")
@with_appcontext
def doctor_command():
    findings = doctor.run()
    for finding in findings:
        click.echo(f"{'ok     ' if finding.ok else 'PROBLEM'} {finding.name}: {finding.message}")
    problems = sum(not finding.ok for finding in findings)
    if problems:
        click.echo(f"{plural(problems, 'problem', 'problems')} to fix.")
        sys.exit(1)
    click.echo("No problems found.")
