"""Purge: rows that no longer serve any purpose leave the database (``flask --app wsgi purge``,
and the background worker every PURGE_INTERVAL seconds).

What goes, each kind by the same rule the portal applies when it meets such a row:

- signed-in sessions unused for SESSION_IDLE_DAYS (the next request would end them);
- pending sign-ins past their lifetime (``sessions.pending_expires_at``);
- password links used, replaced by a newer one, or past their end;
- remembered browsers past their own end (a browser forgotten is deleted at once);
- two-step set-ups left unconfirmed past ``two_step.ENROLMENT_LIFETIME`` (the pending
  secret is cleared from the account; nothing else of it changes);
- mail the outbox sent more than PURGE_SENT_MAIL_DAYS ago;
- notifications read more than PURGE_READ_NOTIFICATIONS_DAYS ago (unread ones stay).

What stays: the audit log, whole (it is the record, and the portal has no retention
setting for it), accounts, recovery codes (the used ones belong to the current set, which
the Security page counts; a new set replaces them all), unsent mail, unread notifications.

Rows go in batches of ``batch_size``, one short transaction each, so a large backlog
neither holds SQLite's write lock for long nor builds one large PostgreSQL transaction.
Each batch picks its rows and deletes them with the same condition again, so a row that
came back to life in between (a session used meanwhile) stays, and two purges at once
each count only the rows their own statements removed: no error, no row counted twice.
On SQLite the rows are looked for without the write lock, which only the DELETE takes;
on PostgreSQL a purge skips the rows another one is deleting instead of waiting for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, Select, and_, delete, exists, or_, select, update

from portal import clock
from portal.database import db
from portal.models import (
    PENDING_HARD_LIMIT,
    PENDING_LIFETIME,
    STAGE_FULL,
    STAGE_PASSWORD,
    Invitation,
    Notification,
    OutboxMail,
    RememberedBrowser,
    User,
    UserSession,
)
from portal.services import sessions
from portal.services.two_step import ENROLMENT_LIFETIME
from portal.wording import plural

BATCH_SIZE = 500
# A row goes once it has been over for this long, never at the very moment it ends: a
# request that found it still live just before then has long finished with it.
SETTLE = timedelta(minutes=10)


@dataclass(frozen=True)
class Limits:
    """The moments a purge compares rows with, worked out once per run."""

    cutoff: datetime  # now, less SETTLE
    idle: timedelta
    sent_mail_before: datetime
    read_notifications_before: datetime

    @classmethod
    def now(cls) -> Limits:
        config = current_app.config
        now = clock.now()
        return cls(
            cutoff=now - SETTLE,
            idle=sessions.idle_limit(),
            sent_mail_before=now - timedelta(days=max(0, config["PURGE_SENT_MAIL_DAYS"])),
            read_notifications_before=now
            - timedelta(days=max(0, config["PURGE_READ_NOTIFICATIONS_DAYS"])),
        )


@dataclass(frozen=True)
class Kind:
    """One kind of row a purge removes (or, with ``clear``, empties)."""

    one: str
    many: str
    model: Any
    over: Callable[[Limits], ColumnElement[bool]]
    # Columns set to None instead of deleting the row (the row itself stays in use).
    clear: tuple[str, ...] = ()

    @property
    def verb(self) -> str:
        return "cleared" if self.clear else "deleted"


def _session_idle(limits: Limits) -> ColumnElement[bool]:
    """models.idle_too_long in SQL, as of the cutoff."""
    return and_(
        UserSession.stage == STAGE_FULL, UserSession.last_seen_at < limits.cutoff - limits.idle
    )


def _pending_expired(limits: Limits) -> ColumnElement[bool]:
    """sessions.pending_expires_at in SQL: past the hard limit, or past PENDING_LIFETIME
    after both the password step and the end of the account's wait between codes."""
    open_since = limits.cutoff - PENDING_LIFETIME
    still_waiting = exists().where(
        User.id == UserSession.user_id, User.second_step_locked_until >= open_since
    )
    return and_(
        UserSession.stage == STAGE_PASSWORD,
        or_(
            UserSession.created_at < limits.cutoff - PENDING_HARD_LIMIT,
            and_(UserSession.created_at < open_since, ~still_waiting),
        ),
    )


def _link_spent(limits: Limits) -> ColumnElement[bool]:
    return or_(Invitation.used_at < limits.cutoff, Invitation.expires_at < limits.cutoff)


def _browser_expired(limits: Limits) -> ColumnElement[bool]:
    # Only the row's own end: one the company's shorter days void now would count again
    # if the days went back up, so it stays until then.
    return RememberedBrowser.expires_at < limits.cutoff


def _set_up_abandoned(limits: Limits) -> ColumnElement[bool]:
    return User.pending_totp_created_at < limits.cutoff - ENROLMENT_LIFETIME


def _mail_sent(limits: Limits) -> ColumnElement[bool]:
    return OutboxMail.sent_at < limits.sent_mail_before


def _notification_read(limits: Limits) -> ColumnElement[bool]:
    return Notification.read_at < limits.read_notifications_before


KINDS = (
    Kind("expired session", "expired sessions", UserSession, _session_idle),
    Kind("expired pending sign-in", "expired pending sign-ins", UserSession, _pending_expired),
    Kind(
        "used, replaced or expired password link",
        "used, replaced or expired password links",
        Invitation,
        _link_spent,
    ),
    Kind(
        "expired remembered browser",
        "expired remembered browsers",
        RememberedBrowser,
        _browser_expired,
    ),
    Kind(
        "abandoned two-step set-up",
        "abandoned two-step set-ups",
        User,
        _set_up_abandoned,
        clear=("pending_totp_secret", "pending_totp_created_at"),
    ),
    Kind("sent mail", "sent mails", OutboxMail, _mail_sent),
    Kind("read notification", "read notifications", Notification, _notification_read),
)


@dataclass(frozen=True)
class Purged:
    kind: Kind
    count: int

    def describe(self) -> str:
        """As the command line prints it: "3 expired sessions deleted"."""
        return f"{plural(self.count, self.kind.one, self.kind.many)} {self.kind.verb}"


def run(*, batch_size: int = BATCH_SIZE) -> list[Purged]:
    """Purges every kind; returns how many rows of each this run removed. Commits each
    batch."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    limits = Limits.now()
    return [Purged(kind, _purge(kind, limits, batch_size)) for kind in KINDS]


def _candidates(statement: Select[tuple[int]]) -> list[int]:
    """The ids of the next batch. On SQLite they are looked for outside the write lock
    (in WAL mode a reader holds no one up), so a scan of a large table never makes the
    portal's requests wait: only the DELETE of the batch takes the lock. On PostgreSQL
    the rows another purge is deleting are skipped rather than waited for."""
    if db.engine.dialect.name == "sqlite":
        with db.read_engine.connect() as connection:
            return list(connection.scalars(statement))
    return list(db.session.scalars(statement.with_for_update(skip_locked=True)))


def _purge(kind: Kind, limits: Limits, batch_size: int) -> int:
    model = kind.model
    total = 0
    while True:
        over = kind.over(limits)
        ids = _candidates(select(model.id).where(over).order_by(model.id).limit(batch_size))
        if not ids:
            db.session.rollback()
            return total
        # The same condition again: what changed since the SELECT is judged afresh.
        if kind.clear:
            statement: Any = (
                update(model).where(model.id.in_(ids), over).values(dict.fromkeys(kind.clear))
            )
        else:
            statement = delete(model).where(model.id.in_(ids), over)
        removed = db.rows_changed_by(statement.execution_options(synchronize_session=False))
        db.session.commit()
        total += removed
        # A short batch was the last; an empty one means another purge took the rows.
        if len(ids) < batch_size or removed == 0:
            return total
