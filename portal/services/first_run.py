"""First run: the setup token in the instance folder, and the one setup that may win."""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.database import db
from portal.models import ROLE_ADMIN, Company, User
from portal.origin import Origin
from portal.services import accounts, audit

TOKEN_FILE = "setup-token"
_KNOWN_NAME = "portal_company_name"


class SetupClosed(Exception):
    pass


def company() -> Company | None:
    return db.session.get(Company, 1)


@dataclass(frozen=True)
class CompanyName:
    """What every page shows of the company: its name."""

    name: str


def company_name() -> CompanyName | None:
    """The company's name for the page frame, None before setup. The name is given once,
    at setup, and the row never goes: once known, each process keeps it, and pages that
    need nothing else from the database read nothing from it."""
    known = current_app.extensions.get(_KNOWN_NAME)
    if known is None:
        found = company()
        if found is None:
            return None
        known = current_app.extensions[_KNOWN_NAME] = CompanyName(found.name)
    return known


def is_needed() -> bool:
    return company() is None and db.session.scalars(select(User.id).limit(1)).first() is None


def ensure_token(instance_path: str) -> str:
    """The token every app process shares; made once, kept until setup is done."""
    path = Path(instance_path) / TOKEN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(token)
    return token


def token_matches(instance_path: str, offered: str | None) -> bool:
    path = Path(instance_path) / TOKEN_FILE
    if not offered or not path.exists():
        return False
    return hmac.compare_digest(path.read_text().strip().encode(), offered.encode()[:200])


def complete(
    instance_path: str,
    *,
    company_name: str,
    admin_name: str,
    email: str,
    password: str,
    origin: Origin,
) -> User:
    """Company row id=1 and the first admin in one transaction: a racing second setup fails.
    Raises accounts.WeakPassword, before anything changes, for a password the rules refuse."""
    if not is_needed():
        raise SetupClosed()
    accounts.check_new_password(password, email=email, name=admin_name)
    db.session.add(Company(id=1, name=company_name.strip()))
    try:
        db.session.flush()
        admin = accounts.create(name=admin_name, email=email, password=password, role=ROLE_ADMIN)
        audit.record(audit.SETUP_COMPLETED, origin=origin, actor=admin, detail=company_name[:200])
        db.session.commit()
    except (IntegrityError, accounts.AccountError):
        db.session.rollback()
        raise SetupClosed() from None
    (Path(instance_path) / TOKEN_FILE).unlink(missing_ok=True)
    return admin
