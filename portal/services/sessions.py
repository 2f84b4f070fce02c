"""Server-side sessions: the browser holds a random token, the database holds the rest."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import NamedTuple

from flask import current_app
from sqlalchemy import Delete, Select, bindparam, delete, select, update
from sqlalchemy.orm import joinedload

from portal import clock
from portal.crypto import hash_token, new_token
from portal.database import UTCDateTime, db
from portal.models import (
    PENDING_HARD_LIMIT,
    PENDING_LIFETIME,
    STAGE_FULL,
    STAGE_PASSWORD,
    Company,
    User,
    UserSession,
    idle_too_long,
)
from portal.origin import Origin
from portal.services import audit, notifications, policy, remembered_browsers

FRESH_PASSWORD_WINDOW = timedelta(minutes=5)
# Writing last_seen on every request would make each page view a write.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


def start(
    user: User,
    stage: str,
    origin: Origin,
    *,
    password_confirmed_at: datetime | None = None,
    second_step_at: datetime | None = None,
) -> tuple[str, UserSession]:
    """A new session row with a new token; the caller sets the cookie and commits."""
    token = new_token()
    now = clock.now()
    row = UserSession(
        token_hash=hash_token(token),
        user_id=user.id,
        stage=stage,
        created_at=now,
        last_seen_at=now,
        password_confirmed_at=password_confirmed_at or now,
        ip=origin.ip,
        user_agent=origin.user_agent,
        second_step_at=second_step_at,
    )
    db.session.add(row)
    db.session.flush()
    return token, row


def begin_sign_in(
    user: User,
    origin: Origin,
    *,
    replacing: UserSession | None,
    method: str = "password",
    remembered_token: str | None = None,
) -> tuple[str, UserSession]:
    """The password step passed: the browser's old row (if any) goes and a new one comes,
    pending the second step when the account has two-step on, else fully signed in.
    The second step is spared while an administrator paused it, and in a browser the
    employee had remembered (``remembered_token``, from its cookie), unless the account's
    code step is locked after wrong codes."""
    if replacing is not None:
        end(replacing)
    paused = user.two_step_enabled and policy.second_step_paused(user)
    remembered = (
        user.two_step_enabled
        and not paused
        and not _code_step_locked(user)
        and remembered_browsers.recognises(user, remembered_token)
    )
    if user.two_step_enabled and not paused and not remembered:
        token, row = start(user, STAGE_PASSWORD, origin)
        audit.record(audit.SIGN_IN_PASSWORD_PASSED, origin=origin, actor=user)
        notifications.sign_in_pending(user, row, origin)
    else:
        token, row = start(user, STAGE_FULL, origin)
        if paused:
            method += "; second step paused by an administrator"
        elif remembered:
            method += "; second step skipped in a remembered browser"
        notifications.sign_in_completed(user, origin)
        audit.record(audit.SIGN_IN, origin=origin, actor=user, detail=method)
    db.session.commit()
    return token, row


def _code_step_locked(user: User) -> bool:
    """Wrong codes made the account wait: a remembered browser does not step around it."""
    locked_until = user.second_step_locked_until
    return locked_until is not None and locked_until > clock.now()


def complete_second_step(
    row: UserSession, origin: Origin, *, method: str
) -> tuple[str, UserSession]:
    """The second step passed with ``method``; raises AlreadyEnded (and changes nothing)
    when a racing request completed or cancelled this pending sign-in first."""
    try:
        token, fresh = promote(row, origin)
    except AlreadyEnded:
        db.session.rollback()
        raise
    notifications.sign_in_completed(fresh.user, origin)
    audit.record(audit.SIGN_IN, origin=origin, actor=fresh.user, detail=method)
    db.session.commit()
    return token, fresh


def sign_out(row: UserSession, origin: Origin) -> None:
    """Ends this browser's session (or its pending sign-in, which is not recorded)."""
    if row.stage == STAGE_FULL:
        audit.record(audit.SIGN_OUT, origin=origin, actor=row.user)
    end(row)
    db.session.commit()


def end_expired(row: UserSession) -> None:
    end(row)
    db.session.commit()


def find(token: str | None) -> UserSession | None:
    if not token or len(token) > 128:
        return None
    found = db.session.execute(_find_statement(), {"token_hash": hash_token(token)}).first()
    return found[0] if found is not None else None


@functools.cache
def _find_statement() -> Select[UserSession, Company]:
    """Built once: every request of a signed-in browser runs it. Every use of the row
    reads its user (active? who is signed in?), and the request's policy gate reads the
    company's settings (policy.current finds the row loaded here): one query for all."""
    return (
        select(UserSession, Company)
        .options(joinedload(UserSession.user))
        .outerjoin(Company, Company.id == 1)
        .where(UserSession.token_hash == bindparam("token_hash"))
    )


def is_expired(row: UserSession, idle_limit: timedelta) -> bool:
    now = clock.now()
    if row.stage == STAGE_PASSWORD:
        return now > pending_expires_at(row)
    return idle_too_long(row.last_seen_at, idle_limit, now)


def pending_expires_at(row: UserSession) -> datetime:
    """When a sign-in waiting for its code ends: PENDING_LIFETIME after the password step,
    or after the end of the wait the account is under, whichever is later, and never
    more than PENDING_HARD_LIMIT after the password step."""
    started = row.created_at
    wait_over = row.user.second_step_locked_until
    alive_from = max(started, wait_over) if wait_over is not None else started
    return min(alive_from + PENDING_LIFETIME, started + PENDING_HARD_LIMIT)


def touch(row: UserSession, origin: Origin) -> None:
    """Records that the session is in use, at most once a minute (or when the address
    changes). A conditional UPDATE: the row may have been ended by another request since
    it was read, which must not fail this one."""
    now = clock.now()
    if now - row.last_seen_at >= LAST_SEEN_RESOLUTION or row.ip != origin.ip:
        db.session.execute(
            update(UserSession)
            .where(UserSession.id == row.id, UserSession.token_hash == row.token_hash)
            .values(last_seen_at=now, ip=origin.ip)
        )
        db.session.commit()


class AlreadyEnded(Exception):
    """The session row was ended by another request meanwhile."""


def promote(row: UserSession, origin: Origin) -> tuple[str, UserSession]:
    """The second step passed: the pending row goes, a full session with a new id comes.
    Only one request can take a pending row: a second, racing one gets AlreadyEnded."""
    user = row.user
    if not end(row):
        raise AlreadyEnded()
    # The password was typed at the password step, not now.
    return start(
        user,
        STAGE_FULL,
        origin,
        password_confirmed_at=row.password_confirmed_at,
        second_step_at=clock.now(),
    )


def end(row: UserSession) -> bool:
    """Deletes the row by a conditional DELETE; False if it was gone already."""
    deleted = db.rows_changed_by(_end_statement(), {"id": row.id, "token_hash": row.token_hash})
    db.session.expunge(row)
    return deleted == 1


@functools.cache
def _end_statement() -> Delete:
    """Built once: every sign-in, sign-out and second step runs it."""
    return (
        delete(UserSession)
        # The token hash too: SQLite may give a deleted row's id to the next new row.
        .where(UserSession.id == bindparam("id"), UserSession.token_hash == bindparam("token_hash"))
        .execution_options(synchronize_session=False)
    )


def end_all_except(user: User, keep: UserSession | None) -> int:
    """Ends every session of the user but ``keep``, pending sign-ins too; returns how many
    signed-in sessions ended, the ones the Security page lists and a person can count."""
    statement = delete(UserSession).where(UserSession.user_id == user.id)
    if keep is not None:
        statement = statement.where(UserSession.id != keep.id)
    ended = db.rows_changed_by(statement.where(UserSession.stage == STAGE_FULL))
    db.rows_changed_by(statement.where(UserSession.stage != STAGE_FULL))
    return ended


def idle_limit() -> timedelta:
    """How long a session may go unused before it ends (PORTAL_SESSION_IDLE_DAYS)."""
    return timedelta(days=current_app.config["SESSION_IDLE_DAYS"])


class SignedIn(NamedTuple):
    """A signed-in session as the Security page lists it."""

    id: int
    ip: str
    user_agent: str
    last_seen_at: datetime
    created_at: datetime


def active_for(user: User) -> list[SignedIn]:
    """The user's signed-in sessions, most recently used first. One unused beyond the idle
    limit has ended, even while its row waits for the purge: it is not listed, and the
    index on (user, stage, last use) keeps such rows from being read at all. Read as
    plain rows: the page only shows them."""
    values = {"user_id": user.id, "since": clock.now() - idle_limit()}
    rows = db.session.connection().execute(_active_statement(), values)
    return [SignedIn._make(row) for row in rows]


@functools.cache
def _active_statement() -> Select[tuple[int, str, str, datetime, datetime]]:
    table = UserSession.__table__
    return (
        select(table.c.id, table.c.ip, table.c.user_agent, table.c.last_seen_at, table.c.created_at)
        .where(
            table.c.user_id == bindparam("user_id"),
            table.c.stage == STAGE_FULL,
            table.c.last_seen_at >= bindparam("since", type_=UTCDateTime()),
        )
        .order_by(table.c.last_seen_at.desc())
    )


def confirm_password(row: UserSession) -> None:
    row.password_confirmed_at = clock.now()


def password_is_fresh(row: UserSession | None) -> bool:
    if row is None or row.password_confirmed_at is None:
        return False
    return clock.now() - row.password_confirmed_at <= FRESH_PASSWORD_WINDOW


def end_other(user: User, session_id: int, origin: Origin) -> bool:
    """Signs out one of the user's other sessions; another user's id changes nothing."""
    ended = db.rows_changed_by(
        delete(UserSession).where(UserSession.id == session_id, UserSession.user_id == user.id)
    )
    if ended != 1:
        db.session.rollback()
        return False
    audit.record(audit.SESSION_ENDED, origin=origin, actor=user)
    db.session.commit()
    return True


def sign_out_everywhere_else(user: User, keep: UserSession | None, origin: Origin) -> int:
    """Ends every session of the user but ``keep``; returns how many signed-in ones ended."""
    ended = end_all_except(user, keep)
    audit.record(audit.OTHER_SESSIONS_ENDED, origin=origin, actor=user, detail=f"{ended} ended")
    db.session.commit()
    return ended
