"""SQLAlchemy 2.0 wiring: one declarative base, one engine per app, one session per app context."""

from __future__ import annotations

import contextlib
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import (
    Connection,
    CursorResult,
    DateTime,
    Engine,
    Executable,
    MetaData,
    create_engine,
    event,
)
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
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


# Requests that only read, as a rule: their transactions begin deferred on SQLite.
READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Set on a connection whose transaction began deferred and has not written yet.
_DEFERRED = "portal_deferred_transaction"


def _begins_deferred() -> bool:
    """A request that reads (GET, HEAD) begins its transactions deferred; every other
    one, and all work outside a request (the command line, the mail worker), begins
    IMMEDIATE."""
    return has_request_context() and request.method in READING_METHODS


_LOCKING_READ = re.compile(r"\bFOR\s+(UPDATE|SHARE|NO\s+KEY\s+UPDATE|KEY\s+SHARE)\b", re.I)


def _is_read(statement: str) -> bool:
    """A SELECT that takes no row lock (a locking one must run in a transaction)."""
    return statement.lstrip()[:6].upper() == "SELECT" and not _LOCKING_READ.search(statement)


def _configure_sqlite(engine: Engine) -> None:
    """SQLite's transactions, set by the portal rather than by pysqlite.

    A transaction that writes begins IMMEDIATE: concurrent writers queue on the busy
    timeout instead of failing, and a read-then-update (single-use codes, the replay
    guard) is serialised. A request that reads (see _begins_deferred) begins deferred
    instead, so that the pages, most requests of all, read a snapshot of the WAL
    without taking the write lock and run side by side. Should such a transaction come
    to write (the throttled last-seen time of a session, an expired session's end),
    its reads are over: it commits them, and the writes go on in a transaction that
    begins IMMEDIATE there and then. A deferred transaction that had read could not
    take the write lock at all once another connection has written since its snapshot
    (SQLite answers "database is locked" at once, whatever the busy timeout), which is
    why it is never upgraded in place.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Once per connection: the pool keeps them, with their settings, between requests.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.info.pop(_DEFERRED, None)
        if _begins_deferred():
            connection.exec_driver_sql("BEGIN")
            connection.info[_DEFERRED] = True
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine, "before_cursor_execute")
    def _before_write(connection, cursor, statement, _parameters, _context, _executemany):
        if connection.info.get(_DEFERRED) and not _is_read(statement):
            del connection.info[_DEFERRED]
            cursor.execute("COMMIT")  # the reads so far; nothing was written
            cursor.execute("BEGIN IMMEDIATE")  # waits its turn on the busy timeout

    _forget_deferral_at_the_end(engine)


def _configure_postgresql(engine: Engine) -> None:
    """A request that reads (see _begins_deferred) runs its statements outside a
    transaction, as the bell's poll does: no BEGIN before them and no ROLLBACK after,
    two round trips fewer on every page. Each statement reads the newest committed rows,
    as each statement of a READ COMMITTED transaction would. Should the request come to
    write or to lock rows, a transaction begins there, before that statement, and holds
    everything from there on until the request commits or rolls back. Every other
    request, and all work outside one, runs in transactions from its first statement."""

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return  # asked for by the caller (VACUUM, say): SQLAlchemy has set it
        driver = connection.connection.driver_connection
        deferred = _begins_deferred()
        if driver.autocommit != deferred:
            try:
                driver.autocommit = deferred  # the connection is idle: nothing ran yet
            except engine.dialect.loaded_dbapi.Error as error:
                # Never go on in the wrong mode (a transaction's writes would each
                # commit alone); reported as a statement's failure is (the 503 page).
                raise DBAPIError.instance(
                    None, None, error, engine.dialect.loaded_dbapi.Error
                ) from error
        if deferred:
            connection.info[_DEFERRED] = True
        else:
            connection.info.pop(_DEFERRED, None)

    @event.listens_for(engine, "before_cursor_execute")
    def _before_write(connection, cursor, statement, _parameters, _context, _executemany):
        if connection.info.get(_DEFERRED) and not _is_read(statement):
            del connection.info[_DEFERRED]
            cursor.execute("BEGIN")  # ended by the session's commit or rollback

    _forget_deferral_at_the_end(engine)


def _forget_deferral_at_the_end(engine: Engine) -> None:
    """A transaction's end ends its deferral: the next one decides afresh."""

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(connection):
        if not connection.invalidated:  # a broken connection has no info left to clear
            connection.info.pop(_DEFERRED, None)


def make_read_engine(url: str, engine: Engine) -> Engine:
    """For reads that stand alone, one statement each (the bell's poll, the most frequent
    request of all): on SQLite, pooled connections in autocommit, which take no write
    lock and keep their set-up between requests; elsewhere a small pool in autocommit
    too."""
    if not url.startswith("sqlite"):
        # No BEGIN before the SELECT and no ROLLBACK after it: one round trip, not three.
        reader = create_engine(url, isolation_level="AUTOCOMMIT", pool_size=2, max_overflow=4)
        _test_after_idling(reader)
        return reader
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
        # Pooled: a connection is set up once (see _configure_sqlite), not per request.
        # A gunicorn worker uses one at a time; threads (the tests' races) may use many,
        # and a connection beyond the pool's size is closed when it is given back.
        engine = create_engine(
            url,
            pool_size=5,
            max_overflow=-1,
            connect_args={"timeout": 30, "check_same_thread": False},
        )
        _configure_sqlite(engine)
        return engine
    engine = create_engine(url, pool_size=5, max_overflow=10)
    _test_after_idling(engine)
    if engine.dialect.name == "postgresql":
        _configure_postgresql(engine)
    return engine


# A pooled connection idle for longer than this is tested before it is used again.
IDLE_SECONDS_BEFORE_TEST = 10.0


def _test_after_idling(engine: Engine) -> None:
    """Tests a pooled connection before use when it has sat idle a while: the server, a
    proxy or a firewall may have closed it meanwhile. Testing at every checkout (the
    pool's pre-ping) would cost each request one more round trip; under traffic the
    connections never idle that long. A connection that breaks while in use (a restart
    mid-traffic) fails its request with the 503 page, and the pool then replaces every
    connection it handed out before the break."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy):
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < IDLE_SECONDS_BEFORE_TEST:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
            dbapi_connection.rollback()  # idle again, as the next transaction expects
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool drops this connection and checks out another (or connects anew).
            raise DisconnectionError("an idle connection was closed") from error


def fetch_one(connection: Connection, sql: str, parameters: Any) -> tuple | None:
    """The first row of the driver's own ``sql`` on ``connection``, from the driver's
    cursor: for the most frequent query of all (the bell's), whose result SQLAlchemy
    would otherwise wrap at a cost greater than the query's. A failure is reported as
    SQLAlchemy reports any statement's: a DBAPIError (the 503 page), and a connection
    found lost is invalidated, so that the pool connects anew."""
    dialect = connection.dialect
    dbapi_connection = connection.connection
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(sql, parameters)
        row = cursor.fetchone()
    except dialect.loaded_dbapi.Error as error:
        lost = dialect.is_disconnect(error, dbapi_connection, cursor)
        with contextlib.suppress(Exception):
            cursor.close()
        if lost:
            connection.invalidate(error)
        raise DBAPIError.instance(
            sql, parameters, error, dialect.loaded_dbapi.Error, connection_invalidated=lost
        ) from error
    cursor.close()
    return tuple(row) if row is not None else None


_HELD = "portal_held"


def hold_for_the_transaction(session: Session, instance: object) -> None:
    """Keeps ``instance`` in ``session``'s identity map until the transaction ends.

    The identity map holds objects only while something else refers to them, so a row
    that services read by primary key and drop at once (the company, which every page
    reads) would be read again at each ``session.get``; held, it is read once per
    transaction, and read afresh in the next one."""
    session.info.setdefault(_HELD, []).append(instance)


@event.listens_for(Session, "after_transaction_end")
def _release_held(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_HELD, None)


class Database:
    """Binds an engine to the app; ``db.session`` is one Session per app context."""

    def init_app(self, app: Flask) -> None:
        engine = make_engine(app.config["DATABASE_URL"])
        app.extensions["database"] = sessionmaker(engine, expire_on_commit=False)
        reader = make_read_engine(app.config["DATABASE_URL"], engine)
        app.extensions["database_reader"] = reader
        if reader is not engine:
            # Whoever closes the engine's connections (tests, forked workers) closes these.
            event.listen(engine, "engine_disposed", lambda _engine: reader.dispose())
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

    def rows_changed_by(self, statement: Executable, parameters: dict | None = None) -> int:
        """Runs an UPDATE or DELETE in the session and says how many rows it changed: the
        conditional UPDATEs that make codes and links single-use read their answer here."""
        # Session.execute() returns a CursorResult for DML without RETURNING, but its
        # annotations promise only a Result, which has no rowcount.
        result = cast("CursorResult[Any]", self.session.execute(statement, parameters))
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
