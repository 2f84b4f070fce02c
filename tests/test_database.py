"""Transactions under concurrency: pages read side by side, and a page that writes on
the way (a session's last-seen time) never fails against concurrent writers."""

import sqlite3
import time

import pytest
from sqlalchemy import select

from portal.database import db
from portal.models import User, UserSession
from portal.origin import Origin
from portal.services import notifications
from tests.support import race, sign_in

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
