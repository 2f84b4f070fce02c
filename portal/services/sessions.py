"""Server-side sessions: the browser holds a random token, the database holds the rest."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select

from portal import clock
from portal.crypto import hash_token, new_token
from portal.database import db
from portal.models import STAGE_FULL, STAGE_PASSWORD, User, UserSession
from portal.web import Origin

PENDING_LIFETIME = timedelta(minutes=5)
FRESH_PASSWORD_WINDOW = timedelta(minutes=5)
# Writing last_seen on every request would make each page view a write.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


def start(
    user: User, stage: str, origin: Origin, *, password_confirmed_at: datetime | None = None
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
    )
    db.session.add(row)
    db.session.flush()
    return token, row


def find(token: str | None) -> UserSession | None:
    if not token or len(token) > 128:
        return None
    return db.session.scalars(
        select(UserSession).where(UserSession.token_hash == hash_token(token))
    ).first()


def is_expired(row: UserSession, idle_limit: timedelta) -> bool:
    now = clock.now()
    if row.stage == STAGE_PASSWORD:
        return now - row.created_at > PENDING_LIFETIME
    return now - row.last_seen_at > idle_limit


def touch(row: UserSession, origin: Origin) -> None:
    now = clock.now()
    if now - row.last_seen_at >= LAST_SEEN_RESOLUTION or row.ip != origin.ip:
        row.last_seen_at = now
        row.ip = origin.ip
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
    return start(user, STAGE_FULL, origin, password_confirmed_at=row.password_confirmed_at)


def end(row: UserSession) -> bool:
    """Deletes the row by a conditional DELETE; False if it was gone already."""
    deleted = db.session.execute(
        delete(UserSession)
        # The token hash too: SQLite may give a deleted row's id to the next new row.
        .where(UserSession.id == row.id, UserSession.token_hash == row.token_hash)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expunge(row)
    return deleted == 1


def end_all_except(user: User, keep: UserSession | None) -> int:
    statement = delete(UserSession).where(UserSession.user_id == user.id)
    if keep is not None:
        statement = statement.where(UserSession.id != keep.id)
    return db.session.execute(statement).rowcount


def active_for(user: User) -> list[UserSession]:
    return list(
        db.session.scalars(
            select(UserSession)
            .where(UserSession.user_id == user.id, UserSession.stage == STAGE_FULL)
            .order_by(UserSession.last_seen_at.desc())
        )
    )


def confirm_password(row: UserSession) -> None:
    row.password_confirmed_at = clock.now()


def password_is_fresh(row: UserSession | None, now: datetime | None = None) -> bool:
    if row is None or row.password_confirmed_at is None:
        return False
    return (now or clock.now()) - row.password_confirmed_at <= FRESH_PASSWORD_WINDOW


def end_one(user: User, session_id: int) -> bool:
    """Ends one of the user's own sessions; another user's id changes nothing."""
    return (
        db.session.execute(
            delete(UserSession).where(UserSession.id == session_id, UserSession.user_id == user.id)
        ).rowcount
        == 1
    )
