"""Remembered browsers: after a correct app code with "remember this browser" ticked, the
browser skips the second step for as many days as the company allows.

The browser's cookie holds a random token; its row holds the token's hash and a keyed
fingerprint of the account's two-step secret and password hash (see
``Keyring.account_fingerprint``). A row counts only while the company's option is on,
within the shorter of its own lifetime and the company's current number of days, and
while the fingerprint still matches: a new phone, a reset, two-step turned off or a new
password void it even where a row was not deleted. The events that change those also
delete the rows (``forget_all``), so that the Security page lists only what counts.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Select, bindparam, delete, func, select, update

from portal import clock
from portal.crypto import Keyring, hash_token, new_token
from portal.database import db
from portal.models import MAX_REMEMBER_DAYS, Company, RememberedBrowser, User
from portal.origin import Origin
from portal.services import audit

# Why every remembered browser of an account was forgotten, as the audit row says it.
BECAUSE_NEW_PHONE = "new phone"
BECAUSE_RESET = "two-step reset by an administrator"
BECAUSE_TURNED_OFF = "two-step turned off"
BECAUSE_PASSWORD_CHANGED = "password changed"
BECAUSE_PASSWORD_RESET = "password reset by an administrator"
BECAUSE_DEACTIVATED = "account deactivated"
BECAUSE_ASKED = "forgotten from the Security page"


def _keyring() -> Keyring:
    return current_app.extensions["keyring"]


def days_allowed() -> int:
    """The company's "remember a browser for N days"; 0 while the option is off."""
    company = db.session.get(Company, 1)
    return company.remember_browser_days if company is not None else 0


def _fingerprint(user: User) -> str:
    return _keyring().account_fingerprint(
        user_id=user.id, totp_secret=user.totp_secret, password_hash=user.password_hash
    )


def _until(row: RememberedBrowser, days: int) -> datetime:
    """When ``row`` stops counting: its own end, or sooner if the company shortened it."""
    return min(row.expires_at, row.created_at + timedelta(days=days))


def _counts(row: RememberedBrowser, user: User, days: int, now: datetime) -> bool:
    return (
        days > 0
        and row.user_id == user.id
        and now < _until(row, days)
        and row.fingerprint == _fingerprint(user)
    )


def find(token: str | None) -> RememberedBrowser | None:
    """The row of this cookie's token, whoever's it is and whether it counts or not."""
    if not token or len(token) > 128:
        return None
    return db.session.scalars(
        select(RememberedBrowser).where(RememberedBrowser.token_hash == hash_token(token))
    ).first()


def recognises(user: User, token: str | None) -> bool:
    """Whether the browser holding ``token`` was remembered by ``user`` and still counts.
    A token of another account, an unknown or a forged one is simply not recognised."""
    if not user.two_step_enabled:
        return False
    row = find(token)
    if row is None:
        return False
    now = clock.now()
    if not _counts(row, user, days_allowed(), now):
        return False
    row.last_used_at = now
    return True


def remember(user: User, origin: Origin) -> tuple[str, RememberedBrowser] | None:
    """Remembers this browser for the company's number of days; None while the option is
    off or the account has no two-step. Returns the cookie's token and the row. Commits."""
    days = days_allowed()
    if days <= 0 or not user.two_step_enabled:
        return None
    token = new_token()
    now = clock.now()
    row = RememberedBrowser(
        token_hash=hash_token(token),
        user_id=user.id,
        fingerprint=_fingerprint(user),
        created_at=now,
        expires_at=now + timedelta(days=min(days, MAX_REMEMBER_DAYS)),
        ip=origin.ip,
        user_agent=origin.user_agent,
    )
    db.session.add(row)
    audit.record(audit.BROWSER_REMEMBERED, origin=origin, actor=user, detail=f"for {days} days")
    db.session.commit()
    return token, row


@dataclass(frozen=True)
class Remembered:
    """One remembered browser as the Security page lists it."""

    browser: RememberedBrowser
    until: datetime


def remembered_for(user: User) -> list[Remembered]:
    """The user's remembered browsers that still count, newest first, each with the
    moment it stops counting."""
    days = days_allowed()
    if days == 0:
        return []  # the option is off: no row counts (and turning it off deleted them)
    now = clock.now()
    rows = db.session.scalars(_remembered_statement(), {"user_id": user.id})
    return [Remembered(row, _until(row, days)) for row in rows if _counts(row, user, days, now)]


@functools.cache
def _remembered_statement() -> Select[RememberedBrowser]:
    return (
        select(RememberedBrowser)
        .where(RememberedBrowser.user_id == bindparam("user_id"))
        .order_by(RememberedBrowser.created_at.desc(), RememberedBrowser.id.desc())
    )


def owned_by(user: User, token: str | None) -> RememberedBrowser | None:
    """The row of this cookie's token when it is ``user``'s, else None."""
    row = find(token)
    return row if row is not None and row.user_id == user.id else None


def forget(user: User, browser_id: int, origin: Origin) -> bool:
    """Forgets one of the user's remembered browsers; another user's id changes nothing.
    Commits."""
    forgotten = db.rows_changed_by(
        delete(RememberedBrowser).where(
            RememberedBrowser.id == browser_id, RememberedBrowser.user_id == user.id
        )
    )
    if forgotten != 1:
        db.session.rollback()
        return False
    audit.record(audit.REMEMBERED_BROWSER_FORGOTTEN, origin=origin, actor=user)
    db.session.commit()
    return True


def forget_all(user: User, *, because: str, origin: Origin | None, actor: User | None) -> int:
    """Forgets every remembered browser of ``user``, in the caller's transaction (the
    caller commits), with an audit row when there was any; returns how many. ``actor``
    is who caused it: the employee, an administrator, or None (the command line)."""
    forgotten = db.rows_changed_by(
        delete(RememberedBrowser).where(RememberedBrowser.user_id == user.id)
    )
    if forgotten:
        audit.record(
            audit.REMEMBERED_BROWSERS_FORGOTTEN,
            origin=origin,
            actor=actor,
            subject=user,
            detail=f"{forgotten} forgotten: {because}",
        )
    return forgotten


def forget_all_asked(user: User, origin: Origin) -> int:
    """The employee's own "forget every browser"; commits."""
    forgotten = forget_all(user, because=BECAUSE_ASKED, origin=origin, actor=user)
    db.session.commit()
    return forgotten


def forget_everyone() -> int:
    """The company turned the option off: no row counts any more, so none is kept. In the
    caller's transaction."""
    return db.rows_changed_by(delete(RememberedBrowser))


@contextmanager
def kept_across_rehash(user: User) -> Iterator[None]:
    """Around a new hash of the same password (stronger hashing parameters): the user's
    remembered browsers are bound to the new hash, since the password did not change.
    In the caller's transaction."""
    before = _fingerprint(user)
    yield
    db.rows_changed_by(
        update(RememberedBrowser)
        .where(RememberedBrowser.user_id == user.id, RememberedBrowser.fingerprint == before)
        .values(fingerprint=_fingerprint(user))
    )


def count_all() -> int:
    """How many browsers are remembered in the whole company (what turning the option off
    would forget)."""
    return db.session.scalar(select(func.count(RememberedBrowser.id))) or 0
