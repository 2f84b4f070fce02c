"""Shared steps of the notification tests (not collected: no test_ prefix)."""

from __future__ import annotations

import sqlite3

import psycopg
from sqlalchemy import event, select

from portal.database import db
from portal.models import Company, Notification, OutboxMail
from portal.services import notifications

PHONE = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36"
LAPTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
STRANGER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"


def notices(app, user_id: int) -> list[Notification]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(Notification)
                .where(Notification.user_id == user_id)
                .order_by(Notification.id)
            )
        )


def notice_kinds(app, user_id: int) -> list[str]:
    return [notice.kind for notice in notices(app, user_id)]


def outbox(app) -> list[OutboxMail]:
    with app.app_context():
        return list(db.session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def codes_to_notifications(app, enabled: bool = True) -> None:
    with app.app_context():
        db.session.get(Company, 1).sign_in_code_notices = enabled
        db.session.commit()


def code_notice_id(app, user_id: int) -> int:
    found = [n.id for n in notices(app, user_id) if n.kind == notifications.SIGN_IN_CODE]
    assert found, "no sign-in code notice"
    return found[-1]


class QueryCounter:
    """Counts the SQL statements the app's engines run while it is open, as their
    connections' drivers receive them: through SQLAlchemy, and sent to the driver
    directly (the bell's)."""

    def __init__(self, app) -> None:
        with app.app_context():
            self.engines = {db.engine, db.read_engine}
        self.statements: list[str] = []

    def _counts(self, statement: str) -> bool:
        return not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA", "COMMIT", "ROLLBACK"))

    def _trace(self, statement: str) -> None:
        if self._counts(statement):
            self.statements.append(statement)

    def _watch(self, dbapi_connection, *_args):
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.set_trace_callback(self._trace)
            return
        counter = self

        class CountingCursor(psycopg.Cursor):
            def execute(self, query, params=None, **options):
                counter._trace(str(query))
                return super().execute(query, params, **options)

        dbapi_connection.cursor_factory = CountingCursor

    def __enter__(self):
        for engine in self.engines:
            event.listen(engine, "checkout", self._watch)
        return self

    def __exit__(self, *_exc):
        for engine in self.engines:
            event.remove(engine, "checkout", self._watch)
            engine.pool.dispose()  # no connection keeps counting
