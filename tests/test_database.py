"""Transactions under concurrency: pages read side by side, and a page that writes on
the way (a session's last-seen time) never fails against concurrent writers."""

import sqlite3
import time

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from portal import database
from portal.database import db, make_engine, make_read_engine
from portal.models import User, UserSession
from portal.origin import Origin
from portal.services import notifications
from tests.conftest import POSTGRES_URL
from tests.support import close_from_the_server, race, sign_in

BROWSERS = 10
ROUNDS = 3


def test_pages_that_record_last_seen_never_fail_against_concurrent_writers(app, employee, clock):
    browsers = [app.test_client() for _ in range(BROWSERS)]
    for browser in browsers:
        assert sign_in(browser, "emma@example.com").status_code == 303

    def work(index):
        if index % 2 == 0:
            # Reads the session, the user and the page's rows, then records last seen.
            return browsers[index // 2].get("/profile/security").status_code
        with app.app_context():
            user = db.session.get(User, employee)
            notifications.notify(
                user, notifications.NEW_BROWSER, origin=Origin(f"10.0.0.{index}", "race")
            )
            db.session.commit()
            return "written"

    for _ in range(ROUNDS):
        # Past the last-seen resolution: every page view writes its session's row.
        now = clock.advance(minutes=2)
        results = race(work, 2 * BROWSERS)
        assert results[0::2] == [200] * BROWSERS, results
        assert results[1::2] == ["written"] * BROWSERS, results
        with app.app_context():
            seen = db.session.scalars(select(UserSession.last_seen_at)).all()
        assert seen == [now] * BROWSERS


def test_a_page_answers_while_another_connection_holds_the_write_lock(app, employee):
    if not app.config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("SQLite's write lock; PostgreSQL locks rows, not the database")
    browser = app.test_client()
    assert sign_in(browser, "emma@example.com").status_code == 303
    writer = sqlite3.connect(app.config["DATABASE_URL"].removeprefix("sqlite:///"))
    writer.isolation_level = None
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE company SET name = 'Renamed meanwhile'")
    try:
        started = time.monotonic()
        response = browser.get("/profile/security")
        waited = time.monotonic() - started
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert response.status_code == 200
    assert "Acme Tools" in response.get_data(as_text=True)  # the last committed state
    assert waited < 5, "the page waited for the write lock"


@pytest.mark.parametrize("which", ["engine", "read engine"])
def test_a_connection_the_server_closed_while_idle_is_replaced_before_use(which, monkeypatch):
    """A pooled connection that sat idle is tested before it is handed out again: one the
    server closed meanwhile is replaced, and the request never sees it. A connection in
    steady use is not tested (a round trip per request): when the server closes it, its
    request fails once (the 503 page), and the pool then connects anew."""
    if not POSTGRES_URL:
        pytest.skip("PORTAL_TEST_DATABASE_URL names no PostgreSQL server")
    now = [1000.0]
    monkeypatch.setattr(database.time, "monotonic", lambda: now[0])
    main = make_engine(POSTGRES_URL)
    engine = main if which == "engine" else make_read_engine(POSTGRES_URL, main)
    backend = text("SELECT pg_backend_pid()")
    try:
        with engine.connect() as connection:
            first = connection.scalar(backend)
        close_from_the_server(POSTGRES_URL, first)
        now[0] += database.IDLE_SECONDS_BEFORE_TEST + 1
        with engine.connect() as connection:
            second = connection.scalar(backend)
        assert second not in (None, first)

        close_from_the_server(POSTGRES_URL, second)
        now[0] += 1  # in steady use: handed out untested
        with pytest.raises(DBAPIError), engine.connect() as connection:
            connection.scalar(backend)
        with engine.connect() as connection:
            assert connection.scalar(backend) not in (first, second)
    finally:
        engine.dispose()
        main.dispose()


def test_a_page_reads_outside_a_transaction_and_its_first_write_begins_one(app, employee):
    """On PostgreSQL a request that reads (GET) sends no BEGIN and no ROLLBACK around its
    reads; its first write, or a read that locks rows, begins a transaction that holds
    everything after it. Other requests run in a transaction from their first read."""
    if not POSTGRES_URL:
        pytest.skip("PORTAL_TEST_DATABASE_URL names no PostgreSQL server")
    from psycopg.pq import TransactionStatus

    name = select(User.name).where(User.id == employee)

    def status():
        return db.session.connection().connection.driver_connection.info.transaction_status

    with app.test_request_context("/profile", method="GET"):
        original = db.session.scalar(name)
        assert status() == TransactionStatus.IDLE
        rename = update(User).where(User.id == employee)
        db.session.execute(rename.values(name="First write"))
        assert status() == TransactionStatus.INTRANS
        db.session.execute(rename.values(name="Second write"))
        db.session.rollback()  # both writes go: they were one transaction
        assert db.session.scalar(name) == original
        assert status() == TransactionStatus.IDLE
        db.session.scalar(name.with_for_update())
        assert status() == TransactionStatus.INTRANS
        db.session.rollback()

    with app.test_request_context("/profile", method="POST"):
        db.session.scalar(name)
        assert status() == TransactionStatus.INTRANS
        db.session.rollback()


def test_a_connection_asked_to_autocommit_still_does(app):
    """Statements that refuse a transaction (VACUUM) run on a connection asked to
    autocommit, whatever the portal does with other transactions."""
    if not POSTGRES_URL:
        pytest.skip("PORTAL_TEST_DATABASE_URL names no PostgreSQL server")
    with app.app_context():
        autocommit = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        with autocommit as connection:
            connection.execute(text("VACUUM ANALYZE users"))


def test_fetch_one_gives_the_first_row_or_none(app, employee):
    with app.app_context():
        connection = db.session.connection()
        placeholder = "?" if connection.dialect.name == "sqlite" else "%s"
        sql = f"SELECT id, email FROM users WHERE id = {placeholder}"
        assert database.fetch_one(connection, sql, (employee,)) == (employee, "emma@example.com")
        assert database.fetch_one(connection, sql, (employee + 1000,)) is None


def test_fetch_one_reports_a_failure_as_any_statement_does(app, employee):
    with app.app_context():
        connection = db.session.connection()
        with pytest.raises(DBAPIError) as raised:
            database.fetch_one(connection, "SELECT no_such_column FROM users", ())
        assert not raised.value.connection_invalidated  # the query failed, not the link
        db.session.rollback()
        assert db.session.scalar(select(User.email).where(User.id == employee))
