"""Backup and restore of an SQLite portal (``flask --app wsgi backup FILE`` and
``restore FILE``); a PostgreSQL portal uses pg_dump and pg_restore (see the README).

A backup is SQLite's online backup of the database: a consistent copy taken while the
portal runs. A restore checks the file before anything changes: that it is an SQLite
database, a portal's, not from a newer version of the portal than this code, and that
this instance's ENCRYPTION_KEY decrypts its two-step secrets. It brings a copy of it to
the newest schema, then replaces the database's content with that copy in one step, or
changes nothing at all. It does not replace a database that holds anything unless told to.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy.engine import URL, make_url

from portal.crypto import DecryptionError
from portal.database import alembic_config

SQLITE_HEADER = b"SQLite format 3\x00"
# Tables every portal database has had since its first revision.
PORTAL_TABLES = {"alembic_version", "company", "users", "user_sessions", "audit_events"}


class BackupError(Exception):
    """The backup or restore cannot be done; the message says why and what to do."""


def libpq_url(database_url: str) -> str:
    """The URL pg_dump and pg_restore take: SQLAlchemy's without "+psycopg" or password."""
    url = make_url(database_url)
    return URL.create(
        url.get_backend_name(),
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query=url.query,
    ).render_as_string(hide_password=False)


def sqlite_file(database_url: str, *, doing: str) -> Path:
    """The file of an SQLite database URL; BackupError for another database, with the
    way to do ``doing`` ("back it up", "restore it") with that database's own tools."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend != "sqlite":
        if doing == "restore it":
            how = (
                "For PostgreSQL: pg_restore --no-owner --dbname="
                f"'{libpq_url(database_url)}' portal.dump into an empty database, then "
                "flask --app wsgi db upgrade (see the README's Backups section)."
            )
        else:
            how = (
                "For PostgreSQL: pg_dump --format=custom --file=portal.dump "
                f"'{libpq_url(database_url)}' (a password goes in ~/.pgpass or PGPASSWORD)."
            )
        raise BackupError(
            f"This database is {backend}, not SQLite; {doing} with its own tools. {how}"
        )
    path = url.database or ""
    if not path or path == ":memory:":
        raise BackupError("The database is not an SQLite file.")
    return Path(path)


def back_up(database_url: str, target: Path) -> Path:
    """Copies the SQLite database to ``target``, a new file, while the portal may run;
    returns the database's path."""
    source_path = sqlite_file(database_url, doing="back it up")
    if not source_path.is_file():
        # sqlite3.connect would quietly create an empty file and back that up.
        raise BackupError(f"There is no SQLite database at {source_path}.")
    if target.exists():
        raise BackupError(f"{target} exists already; choose a new file.")
    with (
        closing(sqlite3.connect(source_path)) as source,
        closing(sqlite3.connect(target)) as destination,
    ):
        source.backup(destination)
    return source_path


@dataclass(frozen=True)
class Restored:
    database: Path
    revision: str  # the backup's migration
    head: str  # the migration the database is at now
    secrets_checked: bool  # whether a two-step secret was there to try the key on


def restore(database_url: str, backup: Path, *, force: bool = False) -> Restored:
    """Replaces the SQLite database's content with ``backup``'s, brought to the newest
    migration. Refuses (BackupError, nothing changed) a file that is not a portal's SQLite
    database or comes from newer code, one this instance's key cannot read, and, unless
    ``force``, a database that holds anything already."""
    target = sqlite_file(database_url, doing="restore it")
    _check_is_sqlite(backup)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.restoring-", dir=target.parent)
    except OSError as error:
        raise BackupError(
            f"Cannot write in {target.parent} ({error.strerror}): run the restore as the "
            "user the portal runs as."
        ) from None
    os.close(handle)
    copy = Path(name)
    try:
        _copy(backup, copy, source_read_only=True)
        revision = _check_portal_database(copy, backup)
        secrets_checked = _check_key(copy)
        if not force and _holds_anything(target):
            raise BackupError(
                f"{target} is not empty: restoring would replace everything in it. Stop the "
                "portal and its worker, back it up if it matters, then run the restore again "
                "with --force."
            )
        from alembic import command

        command.upgrade(alembic_config(f"sqlite:///{copy}"), "head")
        head = _revisions(copy)[0]
        _copy(copy, target, source_read_only=False)
    finally:
        for leftover in (copy, Path(f"{copy}-wal"), Path(f"{copy}-shm"), Path(f"{copy}-journal")):
            with suppress(FileNotFoundError):
                leftover.unlink()
    return Restored(target, revision, head, secrets_checked)


def _check_is_sqlite(backup: Path) -> None:
    if not backup.is_file():
        raise BackupError(f"There is no file at {backup}.")
    try:
        with backup.open("rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except OSError as error:
        raise BackupError(f"{backup} cannot be read: {error.strerror}.") from None
    if header != SQLITE_HEADER:
        raise BackupError(
            f"{backup} is not an SQLite database. Give a file made by flask --app wsgi backup."
        )


def _copy(source_path: Path, target: Path, *, source_read_only: bool) -> None:
    """SQLite's backup API: the target's whole content is replaced in one transaction,
    so a portal reading it sees the old database or the new one, never a mix."""
    source_uri = source_path.resolve().as_uri() + ("?mode=ro" if source_read_only else "")
    try:
        with (
            closing(sqlite3.connect(source_uri, uri=True)) as source,
            closing(sqlite3.connect(target, timeout=30)) as destination,
        ):
            source.backup(destination)
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{source_path} cannot be read as an SQLite database: {error}.") from None


def _tables(connection: sqlite3.Connection) -> set[str]:
    return {
        row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }


def _revisions(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as connection:
        return [row[0] for row in connection.execute("SELECT version_num FROM alembic_version")]


def _check_portal_database(copy: Path, backup: Path) -> str:
    """The backup's migration; BackupError when it is not a sound portal database of a
    migration this code knows."""
    from alembic.script import ScriptDirectory

    with closing(sqlite3.connect(copy)) as connection:
        (check,) = connection.execute("PRAGMA quick_check").fetchone()
        if check != "ok":
            raise BackupError(f"{backup} is damaged (SQLite's check says: {check}).")
        missing = PORTAL_TABLES - _tables(connection)
    if missing:
        raise BackupError(
            f"{backup} is an SQLite database but not the portal's: it has no "
            f"{', '.join(sorted(missing))} table."
        )
    revisions = _revisions(copy)
    if len(revisions) != 1:
        raise BackupError(f"{backup} is a portal database without a single migration revision.")
    (revision,) = revisions
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    known = {step.revision for step in script.walk_revisions()}
    if revision not in known:
        raise BackupError(
            f"{backup} is at migration {revision}, which this code does not know: it was "
            "made by a newer version of the portal. Install that version (or a newer one), "
            "then restore."
        )
    return revision


def _check_key(copy: Path) -> bool:
    """Tries this instance's ENCRYPTION_KEY on one two-step secret of the backup; False
    when the backup holds none to try."""
    with closing(sqlite3.connect(copy)) as connection:
        row = connection.execute(
            "SELECT id, totp_secret FROM users WHERE totp_secret IS NOT NULL ORDER BY id LIMIT 1"
        ).fetchone()
    if row is None:
        return False
    user_id, secret = row
    try:
        current_app.extensions["keyring"].decrypt_secret(bytes(secret), user_id=user_id)
    except DecryptionError:
        raise BackupError(
            "This instance's ENCRYPTION_KEY does not decrypt the backup's two-step secrets: "
            "restored so, no employee with two-step authentication could sign in. Put back "
            "the instance/config.py that was backed up with the database (its SECRET_KEY "
            "and ENCRYPTION_KEY), then restore."
        ) from None
    return True


def _holds_anything(target: Path) -> bool:
    """Whether the database file holds any row (a schema alone, as `db upgrade` leaves a
    new instance, is empty)."""
    if not target.exists() or target.stat().st_size == 0:
        return False
    try:
        with closing(sqlite3.connect(target.resolve().as_uri() + "?mode=ro", uri=True)) as db:
            for table in _tables(db) - {"alembic_version", "sqlite_sequence"}:
                quoted = table.replace('"', '""')
                if db.execute(f'SELECT 1 FROM "{quoted}" LIMIT 1').fetchone():
                    return True
    except sqlite3.DatabaseError:
        return True  # not a database we can read: do not overwrite it unasked
    return False
