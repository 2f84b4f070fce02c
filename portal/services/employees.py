"""What administrators do to employees: list, add, deactivate, reactivate, reset a password.

Every change is written to the audit log in the same transaction as the change itself,
so an action without its audit row (or the reverse) cannot happen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from portal import clock
from portal.database import db
from portal.models import ROLE_ADMIN, ROLE_EMPLOYEE, Invitation, User
from portal.origin import Origin
from portal.services import (
    accounts,
    audit,
    invitations,
    policy,
    remembered_browsers,
    sessions,
    two_step,
)
from portal.services.accounts import AccountError
from portal.services.policy import Standing, TwoStepStanding
from portal.wording import plural

PER_PAGE = 25
# Far beyond any real company; keeps the SQL offset a small number whatever the URL says
# (a larger number leads to the last page like any other page past the end).
MAX_PAGE = 10_000
MAX_QUERY_LENGTH = 100
ROLES = {ROLE_EMPLOYEE: "Employee", ROLE_ADMIN: "Administrator"}


# The two-step filters of the list, in the order they are offered.
STATE_LABELS = {
    Standing.ON: "On",
    Standing.NOT_YET: "Not yet",
    Standing.OVERDUE: "Overdue",
    Standing.NOT_REQUIRED: "Not set up",
    Standing.PAUSED: "Paused",
    Standing.DEACTIVATED: "Deactivated",
}


@dataclass(frozen=True)
class StateFilter:
    state: Standing | None  # None: everyone
    label: str
    count: int


@dataclass(frozen=True)
class EmployeeList:
    users: list[User]
    total: int
    page: int
    pages: int
    query: str
    # The two-step filter in force (None: everyone), and how many match each filter.
    state: Standing | None = None
    counts: dict[str, int] = field(default_factory=dict)
    # Each listed user's two-step standing, by user id.
    standings: dict[int, TwoStepStanding] = field(default_factory=dict)
    # Until when the code step of each listed user whom wrong codes locked out stays shut.
    locks: dict[int, datetime] = field(default_factory=dict)
    mandatory: bool = False

    @property
    def first_shown(self) -> int:
        return (self.page - 1) * PER_PAGE + 1 if self.users else 0

    @property
    def last_shown(self) -> int:
        return (self.page - 1) * PER_PAGE + len(self.users)

    @property
    def filters(self) -> list[StateFilter]:
        """Everyone, then each state there can be under the policy, with its count."""
        if self.mandatory:
            impossible = {Standing.NOT_REQUIRED}
        else:
            impossible = {Standing.NOT_YET, Standing.OVERDUE}
        shown = [
            StateFilter(state, label, self.counts.get(state, 0))
            for state, label in STATE_LABELS.items()
            if state not in impossible
        ]
        return [StateFilter(None, "All", sum(self.counts.values())), *shown]


def clean_query(raw: str | None) -> str:
    """A search text safe for every database: no control characters (PostgreSQL refuses NUL)."""
    text = "".join(ch for ch in (raw or "") if ch.isprintable())
    return text.strip()[:MAX_QUERY_LENGTH]


def clean_state(raw: str | None) -> Standing | None:
    """A two-step filter from the URL; anything unknown means everyone."""
    try:
        return Standing(raw) if raw else None
    except ValueError:
        return None


def listing(query: str, page: int, state: str | None = None) -> EmployeeList:
    """One page of employees whose name or email contains ``query``, by name; only those in
    the two-step ``state`` when it is given (a Standing value)."""
    query = clean_query(query)
    wanted = clean_state(state)
    page = min(max(1, page), MAX_PAGE)
    rules = policy.current()
    now = clock.now()
    # The counts of each state give the number of pages too: no count of its own.
    counts = policy.standing_counts(rules, now, accounts.matching(query))
    total = counts.get(wanted.value, 0) if wanted else sum(counts.values())
    pages = max(1, -(-total // PER_PAGE))
    # A page past the end (an old link, a list that shrank) shows the last one.
    page = min(page, pages)
    users = accounts.search(
        query,
        page=page,
        per_page=PER_PAGE,
        where=(policy.standing_expression(rules, now) == wanted.value) if wanted else None,
    )
    return EmployeeList(
        users=users,
        total=total,
        page=page,
        pages=pages,
        query=query,
        state=wanted,
        counts=counts,
        standings={user.id: policy.standing_for(user, rules) for user in users},
        locks={
            user.id: until for user in users if (until := two_step.locked_until(user)) is not None
        },
        mandatory=rules.mandatory,
    )


def get(user_id: int) -> User | None:
    return accounts.get(user_id)


def add(*, name: str, email: str, role: str, by: User, origin: Origin) -> tuple[User, str]:
    """A new account with no password, and the invitation token that lets them choose one."""
    if role not in ROLES:
        raise AccountError("Choose a role.")
    if accounts.by_email(email) is not None:
        raise AccountError("An account with this email already exists.")
    # accounts.create also catches the race where two admins add the same email at once.
    user = accounts.create(name=name, email=email, password=None, role=role)
    token = invitations.issue(user, invitations.PURPOSE_INVITE, by=by)
    audit.record(audit.EMPLOYEE_ADDED, origin=origin, actor=by, subject=user, detail=f"role {role}")
    db.session.commit()
    return user, token


def deactivate(employee: User, *, by: User, origin: Origin) -> int:
    """Blocks sign-in and ends every session at once; returns how many were ended."""
    if employee.id == by.id:
        raise AccountError("You cannot deactivate your own account.")
    if not employee.active:
        raise AccountError("This account is already deactivated.")
    employee.active = False
    ended = sessions.end_all_except(employee, None)
    remembered_browsers.forget_all(
        employee, because=remembered_browsers.BECAUSE_DEACTIVATED, origin=origin, actor=by
    )
    audit.record(
        audit.EMPLOYEE_DEACTIVATED,
        origin=origin,
        actor=by,
        subject=employee,
        detail=f"{plural(ended, 'session', 'sessions')} ended",
    )
    db.session.commit()
    return ended


def reactivate(employee: User, *, by: User, origin: Origin) -> None:
    if employee.active:
        raise AccountError("This account is already active.")
    employee.active = True
    audit.record(audit.EMPLOYEE_REACTIVATED, origin=origin, actor=by, subject=employee)
    db.session.commit()


def has_set_password(employee: User) -> bool:
    return employee.password_changed_at is not None


def reset_password(employee: User, *, by: User, origin: Origin) -> str:
    """A new single-use link; the old password and every session stop working now.

    Someone asks for a reset when the password is lost or may be known to others, so
    the old one must not keep working for the week the link stays valid.
    """
    if not employee.active:
        raise AccountError("Reactivate the account before you give it a new password link.")
    # Someone who never accepted the invitation gets a fresh invitation, not a "reset".
    purpose = (
        invitations.PURPOSE_RESET if has_set_password(employee) else invitations.PURPOSE_INVITE
    )
    employee.password_hash = None
    ended = sessions.end_all_except(employee, None)
    remembered_browsers.forget_all(
        employee, because=remembered_browsers.BECAUSE_PASSWORD_RESET, origin=origin, actor=by
    )
    token = invitations.issue(employee, purpose, by=by)
    audit.record(
        audit.PASSWORD_RESET_ISSUED,
        origin=origin,
        actor=by,
        subject=employee,
        detail=f"{purpose} link, {plural(ended, 'session', 'sessions')} ended",
    )
    db.session.commit()
    return token


class ReasonNeeded(AccountError):
    """The reset is allowed, but the form did not give a usable reason."""


def reset_two_step(employee: User, *, by: User, origin: Origin, reason: str | None) -> None:
    """For someone who lost both phone and recovery codes: they enrol afresh after their
    next password sign-in. Their sessions end; the reason is recorded.

    Raises AccountError when there is nothing this admin may reset (said before anything
    about the form), then ReasonNeeded when ``reason`` is missing."""
    if employee.id == by.id:
        raise AccountError("Use your own Security page to change your two-step authentication.")
    if not employee.two_step_enabled:
        raise AccountError(f"{employee.name} has no two-step authentication to reset.")
    if not reason:
        raise ReasonNeeded()
    two_step.reset(employee, reason=reason, origin=origin, by=by)


def unlock_two_step(employee: User, *, by: User, origin: Origin) -> None:
    """Opens the code step that ten wrong codes locked, before the lock runs out."""
    if employee.id == by.id:
        raise AccountError("Ask another administrator to unlock your code step.")
    try:
        two_step.unlock(employee, by=by, origin=origin)
    except two_step.NotLocked:
        raise AccountError(
            f"{employee.name}'s code step is not locked (any more): they can sign in."
        ) from None


def open_link(employee: User) -> Invitation | None:
    """The employee's unused, unexpired password link, if there is one."""
    return db.session.scalars(
        select(Invitation)
        .where(
            Invitation.user_id == employee.id,
            Invitation.used_at.is_(None),
            Invitation.expires_at > clock.now(),
        )
        .order_by(Invitation.created_at.desc(), Invitation.id.desc())
    ).first()
