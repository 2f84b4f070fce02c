"""Security notices to one person: under the bell in the header, and by mail when the
portal has SMTP settings.

``notify`` is the one entry point. It adds the notification row, and the outbox row of
its mail, to the caller's transaction, so that a notice exists exactly when its event
does. A sign-in code notice shows the code of a pending sign-in while that sign-in
lives: the code is worked out from the secret when the notice is shown, to a session
that passed the second step, and is never stored, mailed or logged.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import (
    Connection,
    Engine,
    Select,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)

from portal import clock
from portal.crypto import DecryptionError
from portal.database import UTCDateTime, db, fetch_one
from portal.models import (
    AFTER_DEADLINE_REFUSE,
    PENDING_HARD_LIMIT,
    PENDING_LIFETIME,
    ROLE_ADMIN,
    STAGE_PASSWORD,
    AuditEvent,
    Company,
    Notification,
    User,
    UserSession,
    idle_too_long,
)
from portal.origin import Origin
from portal.services import audit, mail, totp
from portal.wording import describe_browser

# Kinds, with the words the bell's list and the mail use.
SIGN_IN_CODE = "sign_in_code"
SIGN_IN_DENIED = "sign_in_denied"  # to the administrators, after "This wasn't me"
WRONG_CODES = "wrong_codes"
SECOND_STEP_LOCKED = "second_step_locked"
CODE_REUSED = "code_reused"
TWO_STEP_ON = "two_step_on"
TWO_STEP_OFF = "two_step_off"
RECOVERY_CODE_USED = "recovery_code_used"
RECOVERY_CODES_NEW = "recovery_codes_new"
DEVICE_CHANGED = "device_changed"
ADMIN_RESET = "admin_reset"
ADMIN_PAUSE = "admin_pause"
ADMIN_EXTENSION = "admin_extension"
NEW_BROWSER = "new_browser"

TITLES = {
    SIGN_IN_CODE: "Someone typed your password: a sign-in is waiting for its code",
    SIGN_IN_DENIED: "A sign-in attempt was reported as not made by the account's owner",
    WRONG_CODES: "Wrong authentication codes were typed for your account",
    SECOND_STEP_LOCKED: "The code step of your account is locked after repeated wrong codes",
    CODE_REUSED: "An authentication code was typed again after it had been used",
    TWO_STEP_ON: "Two-step authentication was turned on",
    TWO_STEP_OFF: "Two-step authentication was turned off",
    RECOVERY_CODE_USED: "A recovery code was used",
    RECOVERY_CODES_NEW: "New recovery codes were made",
    DEVICE_CHANGED: "Your authenticator moved to a new device",
    ADMIN_RESET: "An administrator reset your two-step authentication",
    ADMIN_PAUSE: "An administrator paused your two-step authentication",
    ADMIN_EXTENSION: "An administrator extended your deadline for two-step authentication",
    NEW_BROWSER: "New sign-in from a browser not seen before",
}
KINDS = frozenset(TITLES)

PAGE_SIZE = 30


class NotificationError(Exception):
    """The action cannot be done; the message is for the person who asked."""


def title(kind: str) -> str:
    return TITLES.get(kind, kind.replace("_", " ").capitalize())


# --- writing -------------------------------------------------------------------------


def notify(
    user: User,
    kind: str,
    *,
    origin: Origin | None,
    detail: str = "",
    pending: UserSession | None = None,
) -> Notification:
    """Adds a notice for ``user`` to the caller's transaction, and its mail to the
    outbox when the portal has SMTP settings. ``pending`` ties a sign-in code notice
    to its pending sign-in; the mail never carries a code."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    now = clock.now()
    notice = Notification(
        user_id=user.id,
        kind=kind,
        created_at=now,
        ip=origin.ip if origin else "",
        user_agent=origin.user_agent if origin else "",
        detail=detail[:500],
        pending_session_id=pending.id if pending is not None else None,
    )
    db.session.add(notice)
    if mail.configured():
        mail.enqueue(
            user.email,
            subject=title(kind),
            body=mail_body(user, kind, moment=now, origin=origin, detail=detail),
        )
    return notice


def mail_body(
    user: User, kind: str, *, moment: datetime, origin: Origin | None, detail: str
) -> str:
    lines = [f"Hello {user.name},", "", f"{title(kind)}."]
    if detail:
        lines.append(detail)
    lines += ["", f"When: {moment.strftime('%Y-%m-%d %H:%M UTC')}"]
    if origin is not None:
        lines.append(f"IP address: {origin.ip}")
        lines.append(f"Browser: {describe_browser(origin.user_agent)}")
    lines.append("")
    if kind == SIGN_IN_CODE:
        lines.append(
            "If this was you, the code is in the portal's notifications on a device "
            "where you are signed in. If it was not, open the notifications and choose "
            "\u201cThis wasn't me\u201d, then change your password."
        )
    else:
        lines.append(
            "If you did not expect this, change your password and tell your administrator."
        )
    return "\n".join(lines)


def notify_admins(kind: str, *, origin: Origin | None, detail: str) -> None:
    for admin in db.session.scalars(
        select(User).where(User.role == ROLE_ADMIN, User.active.is_(True))
    ):
        notify(admin, kind, origin=origin, detail=detail)


# --- the company's option ------------------------------------------------------------


def sign_in_codes_on() -> bool:
    """Whether a pending sign-in's code goes to the account's notifications."""
    company = db.session.get(Company, 1)
    return bool(company is not None and company.sign_in_code_notices)


def save_sign_in_code_option(enabled: bool, *, by: User, origin: Origin) -> bool:
    """Saves "Send authentication code to Notifications"; True when it changed. Commits."""
    company = db.session.get(Company, 1)
    if company is None:
        raise NotificationError("The portal is not set up yet.")
    if bool(company.sign_in_code_notices) == enabled:
        return False
    company.sign_in_code_notices = enabled
    audit.record(
        audit.TWO_STEP_POLICY_CHANGED,
        origin=origin,
        actor=by,
        detail=f"authentication code to notifications: {'off -> on' if enabled else 'on -> off'}",
    )
    db.session.commit()
    return True


def sign_in_pending(user: User, row: UserSession, origin: Origin) -> None:
    """The password step of ``user`` passed and waits for its code: with the option on,
    the account's notifications show the code until the pending sign-in ends."""
    if sign_in_codes_on():
        notify(user, SIGN_IN_CODE, origin=origin, pending=row)


@functools.cache
def _signed_in_before_statement() -> Select[bool, bool]:
    """Whether the account has signed in before, and from this browser: both questions in
    one round trip, built once (every sign-in asks them)."""
    earlier = select(AuditEvent.id).where(
        AuditEvent.subject_id == bindparam("user_id"), AuditEvent.kind == audit.SIGN_IN
    )
    return select(
        earlier.exists(), earlier.where(AuditEvent.user_agent == bindparam("user_agent")).exists()
    )


def sign_in_completed(user: User, origin: Origin) -> None:
    """A full sign-in: a notice when this browser has not signed in to the account
    before. Call it before the sign-in's own audit row is added."""
    signed_in_before, seen = db.session.execute(
        _signed_in_before_statement(), {"user_id": user.id, "user_agent": origin.user_agent}
    ).one()
    if not signed_in_before:
        return  # the first sign-in of the account has nothing to compare with
    if not seen:
        notify(user, NEW_BROWSER, origin=origin)


# --- reading -------------------------------------------------------------------------


@dataclass(frozen=True)
class BellState:
    """What the bell's poll needs, from one query."""

    unread: int
    live_codes: int
    # The company refuses sign-in after the deadline and this account has no two-step: the
    # session may have to end, which the pages' policy gate decides (see auth.current).
    policy_may_refuse: bool = False


@functools.cache
def bell_statement():
    """The bell's one query, built once: the session by its token, with its user, the
    count of unread notices and of live sign-in codes, from the notifications index."""
    session = UserSession.__table__.alias("s")
    pending = UserSession.__table__.alias("p")
    users = User.__table__
    notices = Notification.__table__
    unread = (
        select(func.count())
        .select_from(notices)
        .where(notices.c.user_id == session.c.user_id, notices.c.read_at.is_(None))
        .scalar_subquery()
    )
    live = (
        select(func.count())
        .select_from(notices.join(pending, pending.c.id == notices.c.pending_session_id))
        .where(
            notices.c.user_id == session.c.user_id,
            pending.c.user_id == notices.c.user_id,
            _waiting(
                pending.c.stage,
                pending.c.created_at,
                users.c.second_step_locked_until,
                started_after=bindparam("started_after", type_=UTCDateTime()),
                open_since=bindparam("open_since", type_=UTCDateTime()),
            ),
        )
        .scalar_subquery()
    )
    company = Company.__table__
    refusing = (
        select(func.count())
        .select_from(company)
        .where(
            company.c.id == 1,  # the one row, by its key
            company.c.two_step_mandatory.is_(True),
            company.c.two_step_after_deadline == AFTER_DEADLINE_REFUSE,
        )
        .scalar_subquery()
    )
    return (
        select(
            session.c.stage,
            session.c.last_seen_at,
            users.c.active,
            unread.label("unread"),
            live.label("live"),
            (users.c.totp_secret.is_(None) & (refusing > 0)).label("policy_may_refuse"),
        )
        .select_from(session.join(users, users.c.id == session.c.user_id))
        .where(session.c.token_hash == bindparam("token_hash"))
    )


def bell_state(token_hash: str, *, idle: timedelta, engine: Engine) -> BellState | None:
    """The unread count and whether a live sign-in code waits, for the session with
    this token, in one indexed query; None when the session is not a valid full one.

    It reads outside any ORM session, on ``engine`` (db.read_engine: connections that
    take no lock), since it is the most frequent request of all."""
    now = clock.now()
    with engine.connect() as connection:
        found = _bell_row(connection, {"token_hash": token_hash, **_waiting_bounds(now)})
    if found is None:
        return None
    stage, last_seen_at, active, unread, live, policy_may_refuse = found
    if stage == STAGE_PASSWORD or not active or idle_too_long(_utc(last_seen_at), idle, now):
        return None
    return BellState(unread=unread, live_codes=live, policy_may_refuse=bool(policy_may_refuse))


@functools.cache
def _bell_sql(engine: Engine) -> tuple[str, tuple[str, ...], dict]:
    compiled = bell_statement().compile(engine)
    return str(compiled), tuple(compiled.positiontup or ()), dict(compiled.params)


def _bell_row(connection: Connection, values: dict) -> tuple | None:
    """The bell's query on ``connection``, compiled once and sent as the driver's own
    SQL: SQLAlchemy's statement and result machinery cost more than the query itself
    (database.fetch_one still reports a failure as any statement's). On SQLite, times
    are bound and read in the format SQLAlchemy stores them in (naive UTC, "YYYY-MM-DD
    HH:MM:SS.ffffff"); PostgreSQL's driver takes and gives aware ones."""
    sql, names, constants = _bell_sql(connection.engine)
    sqlite = connection.dialect.name == "sqlite"
    given = {**constants, **values}
    parameters = tuple(_sqlite_values(names, given)) if sqlite else given
    row = fetch_one(connection, sql, parameters)
    if row is None:
        return None
    stage, last_seen_at, *rest = row
    return stage, datetime.fromisoformat(last_seen_at) if sqlite else last_seen_at, *rest


_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


def header_counts(token_hash: str) -> tuple[int, int] | None:
    """The unread count and the number of live sign-in codes for the header of a page,
    from the bell's one query, read in the request's own transaction (so a notice the
    request has just added counts); None when the session's row is not there."""
    values = {"token_hash": token_hash, **_waiting_bounds(clock.now())}
    found = _bell_row(db.session.connection(), values)
    if found is None:
        return None
    return found[3], found[4]


def _sqlite_values(names: tuple[str, ...], given: dict) -> list:
    return [
        value.astimezone(UTC).strftime(_SQLITE_TIME) if isinstance(value, datetime) else value
        for value in (given[name] for name in names)
    ]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def unread_count(user: User) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
        or 0
    )


def _waiting_bounds(now: datetime) -> dict[str, datetime]:
    return {
        "started_after": now - PENDING_HARD_LIMIT,
        "open_since": now - PENDING_LIFETIME,
    }


def _waiting(stage, created_at, locked_until, *, started_after, open_since):
    """A pending sign-in that has not expired, in SQL (sessions.pending_expires_at):
    begun within the hard limit, and either recent or kept open by a wait between codes
    that ended less than PENDING_LIFETIME ago (or has not ended)."""
    return and_(
        stage == STAGE_PASSWORD,
        created_at >= started_after,
        or_(created_at >= open_since, locked_until >= open_since),
    )


def _live_condition(now: datetime):
    bounds = _waiting_bounds(now)
    return and_(
        UserSession.id == Notification.pending_session_id,
        UserSession.user_id == Notification.user_id,
        _waiting(
            UserSession.stage,
            UserSession.created_at,
            select(User.second_step_locked_until)
            .where(User.id == UserSession.user_id)
            .scalar_subquery(),
            started_after=bounds["started_after"],
            open_since=bounds["open_since"],
        ),
    )


@dataclass(frozen=True)
class LiveCode:
    """A sign-in code notice whose pending sign-in still waits."""

    notice: Notification
    code: str | None  # None where this session may not see it
    seconds_left: int  # until the code changes


def live_codes(user: User, *, may_see_codes: bool) -> list[LiveCode]:
    now = clock.now()
    notices = list(
        db.session.scalars(
            select(Notification)
            .join(UserSession, _live_condition(now))
            .where(Notification.user_id == user.id, Notification.kind == SIGN_IN_CODE)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
        )
    )
    code = current_code(user) if (notices and may_see_codes) else None
    seconds_left = totp.PERIOD - int(now.timestamp()) % totp.PERIOD
    return [LiveCode(notice, code, seconds_left) for notice in notices]


def current_code(user: User) -> str | None:
    """The code the authenticator shows now; never stored or logged."""
    if user.totp_secret is None:
        return None
    keyring = current_app.extensions["keyring"]
    try:
        secret = keyring.decrypt_secret(user.totp_secret, user_id=user.id)
    except DecryptionError:
        return None
    return totp.code_at(secret, clock.now())


@dataclass(frozen=True)
class Listing:
    notices: list[Notification]
    live_ids: frozenset[int]
    has_more: bool


def listing(user: User, *, limit: int = PAGE_SIZE) -> Listing:
    now = clock.now()
    rows = list(
        db.session.scalars(
            select(Notification)
            .where(Notification.user_id == user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit + 1)
        )
    )
    live_ids = frozenset(
        db.session.scalars(
            select(Notification.id)
            .join(UserSession, _live_condition(now))
            .where(Notification.user_id == user.id)
        )
    )
    return Listing(rows[:limit], live_ids, len(rows) > limit)


def mark_read(user: User, notice_id: int) -> None:
    """Marks one of the user's notices read; another person's id changes nothing. Commits."""
    found = db.rows_changed_by(
        update(Notification)
        .where(Notification.id == notice_id, Notification.user_id == user.id)
        .where(Notification.read_at.is_(None))
        .values(read_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    if not found and _own(user, notice_id) is None:
        db.session.rollback()
        raise NotificationError("That notification is not there any more.")
    db.session.commit()


def mark_all_read(user: User) -> int:
    changed = db.rows_changed_by(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return changed


def _own(user: User, notice_id: int) -> Notification | None:
    return db.session.scalar(
        select(Notification).where(Notification.id == notice_id, Notification.user_id == user.id)
    )


# --- "This wasn't me" ------------------------------------------------------------------


def deny_sign_in(user: User, notice_id: int, *, origin: Origin) -> None:
    """Ends the pending sign-in of one of ``user``'s sign-in code notices at once (its
    next code is refused), records it, and tells every administrator; all or nothing.
    Raises NotificationError when the sign-in is over already. Commits."""
    notice = _own(user, notice_id)
    if notice is None or notice.kind != SIGN_IN_CODE:
        raise NotificationError("That notification is not there any more.")
    pending_id = notice.pending_session_id
    pending = db.session.get(UserSession, pending_id) if pending_id is not None else None
    if pending is None or pending.stage != STAGE_PASSWORD or pending.user_id != user.id:
        db.session.rollback()
        raise NotificationError(
            "That sign-in is over already: it was finished, cancelled or timed out. "
            "If it was not you, change your password now."
        )
    ip, user_agent = pending.ip, pending.user_agent
    ended = db.rows_changed_by(
        delete(UserSession)
        .where(
            UserSession.id == pending.id,
            UserSession.token_hash == pending.token_hash,
            UserSession.stage == STAGE_PASSWORD,
        )
        .execution_options(synchronize_session=False)
    )
    if ended != 1:
        db.session.rollback()
        raise NotificationError(
            "That sign-in is over already: it was finished in the meantime. "
            "If it was not you, change your password now."
        )
    db.session.expunge(pending)
    db.session.execute(
        update(Notification)
        .where(Notification.id == notice.id)
        .values(pending_session_id=None, read_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    where = f"sign-in attempt from {ip or 'an unknown address'} ({describe_browser(user_agent)})"
    audit.record(audit.SIGN_IN_DENIED, origin=origin, actor=user, detail=f"{where} ended")
    notify_admins(SIGN_IN_DENIED, origin=origin, detail=f"{user.name} ({user.email}): {where}")
    db.session.commit()
