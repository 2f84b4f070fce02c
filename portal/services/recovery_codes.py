"""One-time recovery codes for a lost or flat phone.

Ten codes of ten characters from an alphabet without look-alikes (no 0/o, 1/l/i):
31 ** 10 is about 2 ** 49.5. Only keyed hashes are stored; spending one is a single
conditional UPDATE, so a code used twice at the same instant works once.
"""

from __future__ import annotations

import functools
import json
import secrets
from datetime import datetime, timedelta
from typing import NamedTuple

from flask import current_app
from sqlalchemy import Select, bindparam, delete, func, select, update

from portal import clock
from portal.crypto import Keyring
from portal.database import db
from portal.models import RecoveryCode, User, UserSession
from portal.origin import Origin

ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
CODE_LENGTH = 10
COUNT = 10
LOW_WARNING = 3
UNSAVED_PURPOSE = "unsaved recovery codes"
# How long the session that made (or proved itself for) unsaved codes may show them.
SHOW_WINDOW = timedelta(minutes=5)


def _keyring() -> Keyring:
    return current_app.extensions["keyring"]


def display(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def normalize(raw: str) -> str | None:
    """Accepts any case, with or without the dash, with spaces around."""
    cleaned = raw.strip().lower().replace("-", "").replace(" ", "")
    if len(cleaned) != CODE_LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return cleaned


def replace_all(user: User, *, shown_to: UserSession | None = None) -> list[str]:
    """Makes a new set, dropping the old; returns the codes for display, which
    ``shown_to`` (the session that asked for them) may show for a while. Caller commits."""
    codes = ["".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH)) for _ in range(COUNT)]
    keyring = _keyring()
    now = clock.now()
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.add_all(
        RecoveryCode(
            user_id=user.id,
            code_hash=keyring.hash_recovery_code(code, user_id=user.id),
            created_at=now,
        )
        for code in codes
    )
    shown = [display(code) for code in codes]
    _store_unsaved(user, shown, shown_to)
    return shown


def _store_unsaved(user: User, codes: list[str], shown_to: UserSession | None) -> None:
    """Keeps the unsaved codes encrypted, with the one session that may show them and
    until when. Any other session, or this one later, must prove the password and an
    app code first (``show_to``)."""
    content: dict[str, object] = {"codes": codes}
    if shown_to is not None:
        content["session"] = shown_to.token_hash
        content["until"] = (clock.now() + SHOW_WINDOW).isoformat()
    user.unsaved_recovery_codes = _keyring().encrypt_secret(
        json.dumps(content), user_id=user.id, purpose=UNSAVED_PURPOSE
    )


def _unsaved_content(user: User) -> dict | None:
    if user.unsaved_recovery_codes is None:
        return None
    plaintext = _keyring().decrypt_secret(
        user.unsaved_recovery_codes, user_id=user.id, purpose=UNSAVED_PURPOSE
    )
    content = json.loads(plaintext)
    # Stored before codes were tied to a session: shown to none until proven again.
    return {"codes": content} if isinstance(content, list) else content


def unsaved(user: User) -> list[str] | None:
    """Codes not yet confirmed as saved; they exist only until the employee says so."""
    content = _unsaved_content(user)
    return None if content is None else list(content["codes"])


def unsaved_shown_to(user: User, session: UserSession | None) -> list[str] | None:
    """The unsaved codes when ``session`` may show them now, else None."""
    content = _unsaved_content(user)
    if content is None or session is None or content.get("session") != session.token_hash:
        return None
    until = content.get("until")
    if not isinstance(until, str) or clock.now() > datetime.fromisoformat(until):
        return None
    return list(content["codes"])


def show_to(user: User, session: UserSession) -> list[str] | None:
    """Lets ``session`` show the unsaved codes again, for a while; the caller has checked
    the password and an app code, and commits."""
    codes = unsaved(user)
    if codes is not None:
        _store_unsaved(user, codes, session)
    return codes


def mark_saved(user: User) -> None:
    user.unsaved_recovery_codes = None


def redeem(user: User, raw: str, origin: Origin) -> bool:
    """Spends a code. Caller commits (the UPDATE holds the row until then)."""
    code = normalize(raw)
    if code is None:
        return False
    code_hash = _keyring().hash_recovery_code(code, user_id=user.id)
    spent = db.rows_changed_by(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == code_hash,
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=clock.now(), used_ip=origin.ip, used_user_agent=origin.user_agent)
    )
    return spent == 1


def remaining(user: User) -> int:
    return (
        db.session.scalar(
            select(func.count(RecoveryCode.id)).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        )
        or 0
    )


class UsedCode(NamedTuple):
    """A spent recovery code as the Security page lists it."""

    used_at: datetime
    used_ip: str | None
    used_user_agent: str | None


def standing(user: User) -> tuple[int, list[UsedCode]]:
    """How many codes are left, and the used ones, newest use first, from one query of
    plain rows (the page only shows them)."""
    rows = db.session.connection().execute(_codes_statement(), {"user_id": user.id}).all()
    spent = sorted(
        (UsedCode._make(row) for row in rows if row.used_at is not None),
        key=lambda code: code.used_at,
        reverse=True,
    )
    return len(rows) - len(spent), spent


@functools.cache
def _codes_statement() -> Select[tuple[datetime | None, str | None, str | None]]:
    table = RecoveryCode.__table__
    return select(table.c.used_at, table.c.used_ip, table.c.used_user_agent).where(
        table.c.user_id == bindparam("user_id")
    )


def remove_all(user: User) -> None:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    user.unsaved_recovery_codes = None
