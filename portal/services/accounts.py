"""Employees' accounts: creation, the password step, password checks and changes,
profile edits. Every rule about a password (its strength, not being the person's own name
or email) is applied here, where passwords are set."""

from __future__ import annotations

import functools

from flask import current_app
from sqlalchemy import Select, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from portal import clock
from portal.database import db, hold_for_the_transaction
from portal.models import (
    ROLE_ADMIN,
    ROLE_EMPLOYEE,
    Company,
    User,
    UserSession,
    fold_for_search,
)
from portal.origin import Origin
from portal.services import audit, remembered_browsers, sessions
from portal.services.passwords import PasswordHasher, problem_with
from portal.wording import plural


class AccountError(Exception):
    """A rule refused the change; the message is for the person who asked."""


WRONG_CURRENT_PASSWORD = "The current password is not right."


class PasswordChangeRefused(AccountError):
    """A password change refused, with what is wrong field by field (None where that field
    is fine), so that every problem is said at once."""

    def __init__(self, *, current: str | None = None, new: str | None = None) -> None:
        super().__init__(" ".join(problem for problem in (current, new) if problem))
        self.current = current
        self.new = new


class WrongPassword(AccountError):
    """The current password, asked for before a change, is not the account's."""


class WeakPassword(AccountError):
    """A new password that the rules refuse; the message says why."""


def password_hasher() -> PasswordHasher:
    return current_app.extensions["password_hasher"]


def normalize_email(email: str) -> str:
    return email.strip().lower()


def by_email(email: str) -> User | None:
    return db.session.scalars(select(User).where(User.email == normalize_email(email))).first()


def get(user_id: int) -> User | None:
    return db.session.get(User, user_id)


def create(*, name: str, email: str, password: str | None, role: str = ROLE_EMPLOYEE) -> User:
    """Adds the user to the session; raises AccountError when the email is taken and
    WeakPassword when the rules refuse the password."""
    if role not in (ROLE_ADMIN, ROLE_EMPLOYEE):
        raise AccountError("Unknown role.")
    if password:
        check_new_password(password, email=email, name=name)
    user = User(
        name=name.strip(),
        email=normalize_email(email),
        password_hash=password_hasher().hash(password) if password else None,
        password_changed_at=clock.now() if password else None,
        role=role,
        active=True,
        created_at=clock.now(),
    )
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise AccountError("An account with this email already exists.") from None
    return user


def authenticate(email: str, password: str, origin: Origin) -> User | None:
    """The password step of sign-in: the active account with this email and password, or
    None. The same answer, and about the same work, for every failure, which is recorded."""
    policy = password_hasher()
    found = (
        db.session.execute(_sign_in_statement(), {"email": normalize_email(email)}).first()
        if len(email) <= 254
        else None
    )
    user, company = (found[0], found[1]) if found is not None else (None, None)
    # End the read transaction first: the hash takes tens of milliseconds and SQLite
    # would otherwise hold its write lock meanwhile.
    db.session.commit()
    if company is not None:
        # The sign-in goes on with the company's settings (its policy, its options) as
        # read with the account a moment ago, rather than reading them again after the
        # hash, when it has pushed everything else out of the processor's caches.
        hold_for_the_transaction(db.session, company)
    matches = policy.verify(user.password_hash if user else None, password)
    if matches and user is not None and user.active:
        if user.password_hash and policy.needs_rehash(user.password_hash):
            # The same password under new hashing parameters: remembered browsers stay.
            with remembered_browsers.kept_across_rehash(user):
                user.password_hash = policy.hash(password)
            db.session.commit()
        return user
    audit.record(
        audit.SIGN_IN_FAILED,
        origin=origin,
        subject=user,
        detail="" if user else f"unknown email {normalize_email(email)[:200]}",
    )
    db.session.commit()
    return None


@functools.cache
def _sign_in_statement() -> Select[User, Company]:
    """The account, with the company's row: a sign-in that passes reads its policy."""
    return (
        select(User, Company)
        .outerjoin(Company, Company.id == 1)
        .where(User.email == bindparam("email"))
        .limit(1)
    )


def verify_password(user: User, password: str) -> bool:
    return password_hasher().verify(user.password_hash, password)


def current_password_problem(user: User, password: str) -> str | None:
    """What to say when ``password`` is not the account's; None when it is."""
    return None if verify_password(user, password) else WRONG_CURRENT_PASSWORD


def confirm_password(
    user: User, password: str, session: UserSession | None, origin: Origin
) -> bool:
    """The password typed again before a sensitive change: a right one makes ``session``'s
    password fresh, a wrong one is recorded. Commits either way."""
    if verify_password(user, password):
        if session is not None:
            sessions.confirm_password(session)
        db.session.commit()
        return True
    audit.record(audit.PASSWORD_CONFIRM_FAILED, origin=origin, actor=user)
    db.session.commit()
    return False


def check_new_password(password: str, *, email: str, name: str) -> None:
    """Raises WeakPassword when the rules refuse ``password`` for this person."""
    problem = problem_with(password, email=email, name=name)
    if problem:
        raise WeakPassword(problem)


def set_password(user: User, new_password: str) -> None:
    """Raises WeakPassword when the rules refuse it. Caller commits."""
    check_new_password(new_password, email=user.email, name=user.name)
    user.password_hash = password_hasher().hash(new_password)
    user.password_changed_at = clock.now()


def change_password(
    user: User, current: str, new: str, *, keep: UserSession | None, origin: Origin
) -> None:
    """Raises PasswordChangeRefused naming a wrong current password and a refused new one,
    both when both are wrong."""
    wrong_current = current_password_problem(user, current)
    refused_new = problem_with(new, email=user.email, name=user.name)
    if wrong_current or refused_new:
        raise PasswordChangeRefused(current=wrong_current, new=refused_new)
    set_password(user, new)
    ended = sessions.end_all_except(user, keep)
    remembered_browsers.forget_all(
        user, because=remembered_browsers.BECAUSE_PASSWORD_CHANGED, origin=origin, actor=user
    )
    if keep is not None:
        sessions.confirm_password(keep)
    audit.record(
        audit.PASSWORD_CHANGED,
        origin=origin,
        actor=user,
        detail=f"{plural(ended, 'other session', 'other sessions')} ended",
    )
    db.session.commit()


EMAIL_REFUSED = (
    "This email address cannot be used for your account. Check it, or ask your "
    "administrator to change it for you."
)


class PasswordNeeded(AccountError):
    """A change that needs the current password came without it."""


class EmailRefused(AccountError):
    """The new email address cannot be used. Whatever the reason (another account holds
    it, or it was taken meanwhile), the message is the same, so the form does not tell
    whether someone has an account."""


def update_profile(user: User, *, name: str, email: str, password: str, origin: Origin) -> None:
    """Saves the name and email. A new email needs the current password: raises
    PasswordNeeded or WrongPassword without it, EmailRefused when the address cannot be
    used; nothing changes then."""
    email = normalize_email(email)
    old_email = user.email
    changes_email = email != old_email
    if changes_email:
        if not password:
            raise PasswordNeeded("Enter your current password to change your email.")
        if not verify_password(user, password):
            audit.record(audit.PASSWORD_CONFIRM_FAILED, origin=origin, actor=user)
            db.session.commit()
            raise WrongPassword("The password is not right.")
        if by_email(email) is not None:
            raise EmailRefused(EMAIL_REFUSED)
    new_name = name.strip()
    if new_name != user.name:
        audit.record(
            audit.PROFILE_CHANGED,
            origin=origin,
            actor=user,
            detail=f"name {user.name} -> {new_name}",
        )
        user.name = new_name
    if changes_email:
        user.email = email
        audit.record(
            audit.EMAIL_CHANGED, origin=origin, actor=user, detail=f"{old_email} -> {email}"
        )
        # Once the portal sends mail, the old address is told of the change here, so a
        # change the owner did not make does not go unnoticed.
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise EmailRefused(EMAIL_REFUSED) from None


def matching(query: str) -> Select[User]:
    """Accounts whose name or email contains ``query``, in any case and with or without
    accents (User.search_key); everyone when empty."""
    statement = select(User)
    if query:
        escaped = fold_for_search(query.strip()).replace("\\", "\\\\")
        escaped = escaped.replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(User.search_key.like(f"%{escaped}%", escape="\\"))
    return statement


def search(
    query: str, *, page: int, per_page: int, where: ColumnElement[bool] | None = None
) -> list[User]:
    """One page of the accounts matching ``query`` (and ``where``), by name."""
    statement = matching(query)
    if where is not None:
        statement = statement.where(where)
    # By the folded name (the search key starts with it), as a person reads the list:
    # "Émile" among the E's. Its index gives a page without sorting every account.
    users = db.session.scalars(
        statement.order_by(User.search_key, User.id).limit(per_page).offset((page - 1) * per_page)
    )
    return list(users)
