"""The company's two-step policy: the one place that says what the company requires.

The company may make two-step authentication mandatory for every employee, with a grace
period to set it up and a rule for those who have not by their deadline. Deadlines are
never stored: each check derives them from the current policy and the employee's own
dates, so that a change of the grace period applies to everyone at once, also to those
whose clock was already running. What is stored for one employee is only what an
administrator decided for that person: a reset (which starts a fresh deadline), an
extension (a deadline chosen instead of the computed one) and a pause of the second step.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import Select, and_, case, false, func, literal, or_, select, true, update
from sqlalchemy.sql.elements import ColumnElement

from portal import clock
from portal.database import db
from portal.models import (
    AFTER_DEADLINE_REFUSE,
    AFTER_DEADLINE_SETUP,
    DEFAULT_GRACE_DAYS,
    MAX_GRACE_DAYS,
    MAX_REMEMBER_DAYS,
    AuditEvent,
    Company,
    User,
)
from portal.origin import Origin
from portal.services import audit, notifications, remembered_browsers
from portal.wording import plural

AFTER_DEADLINE_CHOICES = {
    AFTER_DEADLINE_REFUSE: "refuse sign-in",
    AFTER_DEADLINE_SETUP: "require set-up at sign-in",
}
# However short the grace period, someone whose two-step was just reset needs a day to
# find a phone and set it up again.
MIN_AFTER_RESET = timedelta(days=1)
MAX_PAUSE_DAYS = 365
MAX_EXTENSION_DAYS = 365
# The adoption chart covers at most the last year.
MAX_CHART_DAYS = 366

OWN_TWO_STEP_FIRST = (
    "Turn on two-step authentication for your own account first: an administrator "
    "who makes it mandatory must not be the one left without it."
)


class PolicyError(Exception):
    """A rule refused the change; the message is for the person who asked."""


@dataclass(frozen=True)
class CompanyPolicy:
    """The company's two-step settings as saved."""

    mandatory: bool
    # When it was made mandatory; None while it is not.
    mandatory_since: datetime | None
    grace_days: int
    # AFTER_DEADLINE_REFUSE or AFTER_DEADLINE_SETUP.
    after_deadline: str
    # How many days a browser may skip the second step once remembered; 0 = off.
    remember_days: int = 0

    @property
    def grace(self) -> timedelta:
        return timedelta(days=self.grace_days)


NOT_SET_UP = CompanyPolicy(
    mandatory=False,
    mandatory_since=None,
    grace_days=DEFAULT_GRACE_DAYS,
    after_deadline=AFTER_DEADLINE_REFUSE,
)


def current() -> CompanyPolicy:
    """The policy as saved; the defaults (not mandatory) before the portal is set up."""
    company = db.session.get(Company, 1)
    return _policy_of(company) if company is not None else NOT_SET_UP


def _policy_of(company: Company) -> CompanyPolicy:
    mandatory = bool(company.two_step_mandatory and company.two_step_mandatory_since)
    return CompanyPolicy(
        mandatory=mandatory,
        mandatory_since=company.two_step_mandatory_since if mandatory else None,
        grace_days=company.two_step_grace_days,
        after_deadline=company.two_step_after_deadline,
        remember_days=company.remember_browser_days,
    )


# --- one employee's standing -----------------------------------------------------------


class Standing(StrEnum):
    """Where one employee stands with the policy; the values are used in URLs (?state=)."""

    ON = "on"
    NOT_YET = "not_yet"  # not set up, before the deadline
    OVERDUE = "overdue"  # not set up, deadline passed
    PAUSED = "paused"  # set up, but an administrator paused the second step
    DEACTIVATED = "deactivated"
    NOT_REQUIRED = "not_required"  # not set up, and the company does not require it


@dataclass(frozen=True)
class TwoStepStanding:
    """One employee's standing now, with the dates that go with it."""

    state: Standing
    # NOT_YET and OVERDUE: when two-step had to be, or has to be, on.
    deadline: datetime | None = None
    # NOT_YET: whole days until the deadline, 0 on the last day ("today").
    days_left: int | None = None
    # PAUSED: when the second step comes back by itself; None until resumed.
    paused_until: datetime | None = None


def deadline_for(user: User, policy: CompanyPolicy | None = None) -> datetime | None:
    """When ``user`` must have two-step authentication on by; None while it is optional.

    The latest of the moment it became mandatory, the moment the account was made and
    the user's last reset by an administrator, plus the grace period (a reset gives at
    least one day). An extension an administrator gave this user replaces the result.
    The answer follows the policy as it is now, also for a clock that started earlier.
    """
    policy = policy or current()
    if not policy.mandatory or policy.mandatory_since is None:
        return None
    return _deadline(policy, user.created_at, user.two_step_reset_at, user.two_step_extended_until)


def _deadline(
    policy: CompanyPolicy,
    created_at: datetime,
    reset_at: datetime | None,
    extended_until: datetime | None,
) -> datetime:
    assert policy.mandatory_since is not None
    if extended_until is not None:
        return extended_until
    latest = max(policy.mandatory_since, created_at) + policy.grace
    if reset_at is not None:
        latest = max(latest, reset_at + max(policy.grace, MIN_AFTER_RESET))
    return latest


def last_day(deadline: datetime) -> date:
    """The last (UTC) day on which the deadline has not passed yet."""
    return (deadline - timedelta(microseconds=1)).date()


def days_left(deadline: datetime, now: datetime) -> int:
    """Whole days until the deadline: 0 on its last day."""
    return max(0, (last_day(deadline) - now.date()).days)


def _paused_now(user: User, now: datetime) -> bool:
    if user.two_step_paused_since is None:
        return False
    return user.two_step_paused_until is None or now < user.two_step_paused_until


def standing_for(user: User, policy: CompanyPolicy | None = None) -> TwoStepStanding:
    """Where ``user`` stands with the policy now (portal.clock.now())."""
    policy = policy or current()
    now = clock.now()
    if not user.active:
        return TwoStepStanding(Standing.DEACTIVATED)
    if user.two_step_enabled:
        if _paused_now(user, now):
            return TwoStepStanding(Standing.PAUSED, paused_until=user.two_step_paused_until)
        return TwoStepStanding(Standing.ON)
    deadline = deadline_for(user, policy)
    if deadline is None:
        return TwoStepStanding(Standing.NOT_REQUIRED)
    if now < deadline:
        return TwoStepStanding(
            Standing.NOT_YET, deadline=deadline, days_left=days_left(deadline, now)
        )
    return TwoStepStanding(Standing.OVERDUE, deadline=deadline)


def standing_expression(policy: CompanyPolicy, now: datetime) -> ColumnElement[str]:
    """standing_for as SQL (a Standing value per users row), to filter and count lists.

    It must give the same answers as standing_for; a test compares the two. Every
    comparison is a column against a moment computed here, so that it works the same on
    SQLite and PostgreSQL without date arithmetic in SQL.
    """
    enabled, paused, not_yet = _standing_conditions(policy, now)
    whens: list[tuple[ColumnElement[bool], str]] = [
        (User.active == false(), Standing.DEACTIVATED.value),
        (and_(enabled, paused), Standing.PAUSED.value),
        (enabled, Standing.ON.value),
    ]
    if not_yet is None:
        return case(*whens, else_=literal(Standing.NOT_REQUIRED.value))
    whens.append((not_yet, Standing.NOT_YET.value))
    return case(*whens, else_=literal(Standing.OVERDUE.value))


def standing_counts(policy: CompanyPolicy, now: datetime, among: Select) -> dict[str, int]:
    """How many of the accounts that ``among`` (a select of users) finds stand in each
    state, as standing_expression tells them; states nobody is in are left out.

    One pass over the accounts without sorting them: each state is counted by its own
    condition and the conditions standing_expression checks before it, and the last
    state is what remains."""
    enabled, paused, not_yet = _standing_conditions(policy, now)
    active = User.active != false()
    tallies = [
        func.count(),
        func.count().filter(User.active == false()),
        func.count().filter(and_(active, enabled, paused)),
        func.count().filter(and_(active, enabled)),
    ]
    if not_yet is not None:
        tallies.append(func.count().filter(and_(active, ~enabled, not_yet)))
    row = db.session.execute(among.with_only_columns(*tallies)).one()
    everyone, deactivated, paused_count, enabled_count = row[:4]
    rest = everyone - deactivated - enabled_count
    counts = {
        Standing.DEACTIVATED.value: deactivated,
        Standing.PAUSED.value: paused_count,
        Standing.ON.value: enabled_count - paused_count,
    }
    if not_yet is None:
        counts[Standing.NOT_REQUIRED.value] = rest
    else:
        counts[Standing.NOT_YET.value] = row[4]
        counts[Standing.OVERDUE.value] = rest - row[4]
    return {state: count for state, count in counts.items() if count}


def _standing_conditions(
    policy: CompanyPolicy, now: datetime
) -> tuple[ColumnElement[bool], ColumnElement[bool], ColumnElement[bool] | None]:
    """The conditions a standing is made of: two-step on, paused now, and (while the
    policy is mandatory) still before the deadline; None where nothing is mandatory."""
    enabled = User.totp_secret.is_not(None)
    paused = and_(
        User.two_step_paused_since.is_not(None),
        or_(User.two_step_paused_until.is_(None), User.two_step_paused_until > now),
    )
    if not policy.mandatory or policy.mandatory_since is None:
        return enabled, paused, None
    grace = policy.grace
    computed_not_yet = or_(
        true() if policy.mandatory_since + grace > now else false(),
        User.created_at > now - grace,
        User.two_step_reset_at > now - max(grace, MIN_AFTER_RESET),
    )
    not_yet = or_(
        User.two_step_extended_until > now,
        and_(User.two_step_extended_until.is_(None), computed_not_yet),
    )
    return enabled, paused, not_yet


def second_step_paused(user: User) -> bool:
    """True while an administrator's pause spares ``user`` the code step at sign-in.
    A pause ends by itself when its time is up."""
    return user.two_step_enabled and _paused_now(user, clock.now())


def may_turn_off_two_step(user: User) -> bool:
    """Whether ``user`` may turn their own two-step authentication off: not while the
    company makes it mandatory."""
    return not current().mandatory


# --- the company's settings ------------------------------------------------------------


def save_settings(
    *,
    mandatory: bool,
    grace_days: int,
    after_deadline: str,
    by: User,
    origin: Origin,
    remember_days: int | None = None,
) -> None:
    """Saves the policy and records who changed what (old -> new); commits.

    Raises PolicyError for a value out of range, and for turning "mandatory" on when
    ``by`` has no two-step authentication of their own. Turning it off clears the
    deadline extensions given under it, so that they cannot apply to a later period.
    ``remember_days`` (None: unchanged) is how long a browser may skip the second step;
    setting it to 0 forgets every remembered browser, so none comes back if it is raised
    again.
    """
    if not _whole_number(grace_days) or not 0 <= grace_days <= MAX_GRACE_DAYS:
        raise PolicyError(f"The grace period is a whole number of days from 0 to {MAX_GRACE_DAYS}.")
    if remember_days is not None and (
        not _whole_number(remember_days) or not 0 <= remember_days <= MAX_REMEMBER_DAYS
    ):
        raise PolicyError(
            f"Remembering a browser is a whole number of days from 0 to {MAX_REMEMBER_DAYS}."
        )
    if after_deadline not in AFTER_DEADLINE_CHOICES:
        raise PolicyError("Choose what happens after the deadline.")
    company = db.session.get(Company, 1)
    if company is None:
        raise PolicyError("The portal is not set up yet.")
    # Two administrators saving at once: the second sees the first one's result.
    db.session.refresh(company, with_for_update=True)
    old = _policy_of(company)
    if mandatory and not old.mandatory and not by.two_step_enabled:
        db.session.rollback()
        raise PolicyError(OWN_TWO_STEP_FIRST)

    changes = []
    if mandatory != old.mandatory:
        company.two_step_mandatory = mandatory
        company.two_step_mandatory_since = clock.now() if mandatory else None
        changes.append("mandatory: off -> on" if mandatory else "mandatory: on -> off")
        if not mandatory:
            cleared = db.rows_changed_by(
                update(User)
                .where(User.two_step_extended_until.is_not(None))
                .values(two_step_extended_until=None)
                .execution_options(synchronize_session="fetch")
            )
            if cleared:
                changes.append(f"{cleared} deadline extensions cleared")
    if grace_days != old.grace_days:
        company.two_step_grace_days = grace_days
        changes.append(f"grace period: {old.grace_days} -> {grace_days} days")
    if after_deadline != old.after_deadline:
        company.two_step_after_deadline = after_deadline
        changes.append(
            f"after the deadline: {AFTER_DEADLINE_CHOICES[old.after_deadline]} -> "
            f"{AFTER_DEADLINE_CHOICES[after_deadline]}"
        )
    if remember_days is not None and remember_days != old.remember_days:
        company.remember_browser_days = remember_days
        changes.append(
            f"remember a browser: {remember_days_text(old.remember_days)} -> "
            f"{remember_days_text(remember_days)}"
        )
        if remember_days == 0:
            forgotten = remembered_browsers.forget_everyone()
            if forgotten:
                changes.append(
                    f"{plural(forgotten, 'remembered browser', 'remembered browsers')} forgotten"
                )
    if not changes:
        db.session.commit()  # nothing to write; ends the transaction and its row lock
        return
    audit.record(audit.TWO_STEP_POLICY_CHANGED, origin=origin, actor=by, detail="; ".join(changes))
    db.session.commit()


def remember_days_text(days: int) -> str:
    return plural(days, "day", "days") if days else "off"


@dataclass(frozen=True)
class Preview:
    """What saving a policy would do to the employees who have not set two-step up."""

    mandatory: bool
    grace_days: int
    # Active employees without two-step authentication.
    without_two_step: int
    # Of those, how many would be past their deadline as soon as it is saved.
    overdue_at_once: int
    # The deadlines the others would get: one moment, or a range when they differ.
    earliest_deadline: datetime | None
    latest_deadline: datetime | None

    @property
    def on_time(self) -> int:
        return self.without_two_step - self.overdue_at_once


def preview(*, mandatory: bool, grace_days: int) -> Preview:
    """The effect of saving these settings now, before anything is saved."""
    now = clock.now()
    saved = current()
    # Turning it on starts the clock now; keeping it on keeps the moment it started.
    since = saved.mandatory_since if saved.mandatory else now
    policy = CompanyPolicy(
        mandatory, since if mandatory else None, grace_days, saved.after_deadline
    )
    rows = db.session.execute(
        select(User.created_at, User.two_step_reset_at, User.two_step_extended_until).where(
            User.active == true(), User.totp_secret.is_(None)
        )
    ).all()
    if not mandatory:
        return Preview(False, grace_days, len(rows), 0, None, None)
    # Turning it off clears extensions, so none exist when it is turned on again.
    deadlines = [_deadline(policy, *row) for row in rows]
    upcoming = sorted(deadline for deadline in deadlines if deadline > now)
    return Preview(
        mandatory=True,
        grace_days=grace_days,
        without_two_step=len(rows),
        overdue_at_once=len(rows) - len(upcoming),
        earliest_deadline=upcoming[0] if upcoming else None,
        latest_deadline=upcoming[-1] if upcoming else None,
    )


# --- adoption --------------------------------------------------------------------------


@dataclass(frozen=True)
class AdoptionDay:
    """One day of the adoption chart."""

    day: date
    # Active employees with two-step on at the end of that day.
    enabled: int


@dataclass(frozen=True)
class Adoption:
    """How many active employees have two-step on, now and day by day."""

    active: int
    enabled: int
    # Since it became mandatory (at most the last year), one entry per day up to today.
    days: list[AdoptionDay]
    mandatory_since: datetime | None
    # The end of the grace period for the employees who existed when it became mandatory.
    deadline: datetime | None

    @property
    def share(self) -> float:
        return self.enabled / self.active if self.active else 0.0

    @property
    def percent(self) -> int:
        return round(self.share * 100)


def adoption(policy: CompanyPolicy | None = None) -> Adoption:
    """The share of active employees with two-step on, and how that grew day by day since
    it became mandatory.

    The daily counts come from ``users.totp_enabled_at`` of the employees who are active
    with two-step on now: someone who turned it off or was reset since is missing from the
    earlier days too, and a new phone keeps the date of the first set-up. Good enough for
    the trend, and it needs no history table.
    """
    policy = policy or current()
    now = clock.now()
    active = db.session.scalar(select(func.count(User.id)).where(User.active == true())) or 0
    enabled_at = list(
        db.session.scalars(
            select(User.totp_enabled_at).where(User.active == true(), User.totp_secret.is_not(None))
        )
    )
    enabled = len(enabled_at)
    known = sorted(moment for moment in enabled_at if moment is not None)
    if not policy.mandatory or policy.mandatory_since is None:
        return Adoption(active, enabled, [], None, None)
    first = max(policy.mandatory_since.date(), now.date() - timedelta(days=MAX_CHART_DAYS - 1))
    days = []
    day = first
    while day <= now.date():
        end_of_day = datetime.combine(day + timedelta(days=1), time(0), UTC)
        days.append(AdoptionDay(day, bisect.bisect_left(known, end_of_day)))
        day += timedelta(days=1)
    return Adoption(
        active=active,
        enabled=enabled,
        days=days,
        mandatory_since=policy.mandatory_since,
        deadline=policy.mandatory_since + policy.grace,
    )


# --- one employee: pause, resume, extend, reset ---------------------------------------


def _check_other_active(user: User, by: User, what: str) -> None:
    if user.id == by.id:
        raise PolicyError(f"Ask another administrator to {what} for you.")
    if not user.active:
        raise PolicyError(f"{user.name}'s account is deactivated.")


def pause(user: User, *, days: int, by: User, origin: Origin) -> None:
    """Stops asking ``user`` for the code at sign-in for ``days`` days, or until resumed
    when ``days`` is 0; it comes back by itself when the time is up. Commits."""
    if not _whole_number(days) or not 0 <= days <= MAX_PAUSE_DAYS:
        raise PolicyError(f"Pause for 0 to {MAX_PAUSE_DAYS} days (0: until you resume it).")
    _check_other_active(user, by, "pause your two-step authentication")
    if not user.two_step_enabled:
        raise PolicyError(
            f"{user.name} has not turned two-step authentication on, so there is nothing to "
            "pause. Extend their deadline instead."
        )
    now = clock.now()
    user.two_step_paused_since = now
    user.two_step_paused_until = now + timedelta(days=days) if days else None
    detail = (
        f"for {plural(days, 'day', 'days')}, until {_when(user.two_step_paused_until)}"
        if days
        else "until resumed"
    )
    audit.record(audit.TWO_STEP_PAUSED, origin=origin, actor=by, subject=user, detail=detail)
    notifications.notify(user, notifications.ADMIN_PAUSE, origin=origin, detail=f"Paused {detail}.")
    db.session.commit()


def resume(user: User, *, by: User, origin: Origin) -> None:
    """Ends a pause now: the next sign-in asks for the code again. Commits."""
    if not second_step_paused(user):
        raise PolicyError(f"{user.name}'s two-step authentication is not paused.")
    clear_pause(user)
    audit.record(audit.TWO_STEP_RESUMED, origin=origin, actor=by, subject=user)
    db.session.commit()


def clear_pause(user: User) -> None:
    """Forgets any pause, in the caller's transaction (also when two-step is removed, so
    that an old pause does not apply to a later set-up)."""
    user.two_step_paused_since = None
    user.two_step_paused_until = None


def extend(user: User, *, until: date, by: User, origin: Origin) -> None:
    """Gives ``user`` until the end of ``until`` (UTC) to turn two-step on, instead of the
    computed deadline. Commits."""
    policy = current()
    if not policy.mandatory:
        raise PolicyError("Two-step authentication is not mandatory, so there is no deadline.")
    _check_other_active(user, by, "extend your deadline")
    if user.two_step_enabled:
        raise PolicyError(f"{user.name} has two-step authentication on already.")
    today = clock.now().date()
    if not today <= until <= today + timedelta(days=MAX_EXTENSION_DAYS):
        raise PolicyError(f"Choose a day from today to {MAX_EXTENSION_DAYS} days ahead.")
    before = deadline_for(user, policy)
    user.two_step_extended_until = datetime.combine(until + timedelta(days=1), time(0), UTC)
    audit.record(
        audit.TWO_STEP_DEADLINE_EXTENDED,
        origin=origin,
        actor=by,
        subject=user,
        detail=f"deadline {_when(before)} -> end of {until.isoformat()}",
    )
    notifications.notify(
        user,
        notifications.ADMIN_EXTENSION,
        origin=origin,
        detail=f"The new deadline is the end of {until.isoformat()}.",
    )
    db.session.commit()


def restart_deadline(user: User) -> None:
    """After an administrator's reset: a fresh deadline counted from now (at least a day),
    replacing any extension. In the caller's transaction."""
    user.two_step_reset_at = clock.now()
    user.two_step_extended_until = None


def deadline_after_reset(user: User, policy: CompanyPolicy | None = None) -> datetime | None:
    """The deadline ``user`` gets from a reset made now (see restart_deadline); None while
    two-step authentication is optional."""
    policy = policy or current()
    if not policy.mandatory or policy.mandatory_since is None:
        return None
    return _deadline(policy, user.created_at, clock.now(), None)


def set_up_again_notice(user: User, policy: CompanyPolicy | None = None) -> str | None:
    """What to tell ``user`` at sign-in while an administrator's reset of their two-step
    authentication waits to be followed by a new set-up; None otherwise."""
    if user.two_step_enabled or user.two_step_reset_at is None:
        return None
    # Set up again since the reset (and then turned off by themselves): nothing waits.
    later = db.session.scalar(
        select(func.count(AuditEvent.id)).where(
            AuditEvent.subject_id == user.id,
            AuditEvent.kind == audit.TWO_STEP_ENABLED,
            AuditEvent.occurred_at >= user.two_step_reset_at,
        )
    )
    if later:
        return None
    policy = policy or current()
    said = (
        "An administrator reset your two-step authentication, so your old authenticator "
        "app and recovery codes no longer work. Set it up again below with your phone"
    )
    deadline = deadline_for(user, policy)
    if deadline is None:
        return said + ": until you do, your password alone protects your account."
    return said + f" by the end of {last_day(deadline):%-d %B %Y} (UTC)."


def _whole_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "none"


# --- sign-in under the policy ----------------------------------------------------------


def refuses_sign_in(user: User, policy: CompanyPolicy | None = None) -> bool:
    """Past the deadline without two-step, where the company refuses sign-in."""
    policy = policy or current()
    return (
        policy.after_deadline == AFTER_DEADLINE_REFUSE
        and standing_for(user, policy).state == Standing.OVERDUE
    )


def confines_to_set_up(user: User, policy: CompanyPolicy | None = None) -> bool:
    """Past the deadline without two-step, where the company lets the employee in only to
    set it up."""
    policy = policy or current()
    return (
        policy.after_deadline == AFTER_DEADLINE_SETUP
        and standing_for(user, policy).state == Standing.OVERDUE
    )


def refuse_sign_in(user: User, origin: Origin) -> None:
    """Records a password step that the policy refused; commits. Like every failure at
    sign-in it names no actor: whoever typed the password is not known."""
    audit.record(
        audit.SIGN_IN_REFUSED_OVERDUE,
        origin=origin,
        subject=user,
        detail="two-step authentication not set up by the deadline",
    )
    db.session.commit()
