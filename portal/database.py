"""SQLAlchemy 2.0 wiring: one declarative base, one engine per app, one session per app context."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from flask import Flask, current_app, g
from sqlalchemy import CursorResult, DateTime, Engine, Executable, MetaData, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling starts transactions lazily and lets a reader
    # fail at once when it later wants to write. Every transaction here begins IMMEDIATE,
    # so concurrent writers queue on the busy timeout instead of failing, and a
    # read-then-update (single-use codes, replay guard) is serialised.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_read_engine(url: str, engine: Engine) -> Engine:
    """For reads that stand alone, one statement each (the bell's poll, the most frequent
    request of all): on SQLite, pooled connections in autocommit, which take no write
    lock and keep their set-up between requests; elsewhere the engine itself."""
    if not url.startswith("sqlite"):
        return engine
    reader = create_engine(
        url, pool_size=2, max_overflow=4, connect_args={"timeout": 30, "check_same_thread": False}
    )

    @event.listens_for(reader, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # no BEGIN: each SELECT reads a snapshot
        dbapi_connection.execute("PRAGMA busy_timeout=30000")
        dbapi_connection.execute("PRAGMA query_only=ON")

    return reader


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # A file per connection is cheap for SQLite and avoids sharing one across threads.
        engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


class Database:
    """Binds an engine to the app; ``db.session`` is one Session per app context."""

    def init_app(self, app: Flask) -> None:
        engine = make_engine(app.config["DATABASE_URL"])
        app.extensions["database"] = sessionmaker(engine, expire_on_commit=False)
        app.extensions["database_reader"] = make_read_engine(app.config["DATABASE_URL"], engine)
        app.teardown_appcontext(self._close_session)

    @property
    def engine(self) -> Engine:
        return current_app.extensions["database"].kw["bind"]

    @property
    def read_engine(self) -> Engine:
        """See make_read_engine: for a lone SELECT outside the request's session."""
        return current_app.extensions["database_reader"]

    @property
    def session(self) -> Session:
        session = g.get("_db_session")
        if session is None:
            session = g._db_session = current_app.extensions["database"]()
        return session

    def rows_changed_by(self, statement: Executable) -> int:
        """Runs an UPDATE or DELETE in the session and says how many rows it changed: the
        conditional UPDATEs that make codes and links single-use read their answer here."""
        # Session.execute() returns a CursorResult for DML without RETURNING, but its
        # annotations promise only a Result, which has no rowcount.
        result = cast("CursorResult[Any]", self.session.execute(statement))
        return result.rowcount

    @staticmethod
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("_db_session", None)
        if session is not None:
            try:
                session.close()
            except DBAPIError:
                # The database went away after the request's last statement (a restart):
                # ending its read transaction fails, the answer stands, and the dead
                # connection is dropped rather than pooled again.
                session.invalidate()


db = Database()


MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str):
    """Alembic's settings for the portal's migrations against ``database_url``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config
