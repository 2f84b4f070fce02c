"""A person's security activity as people read it: one row per thing that happened, in
words, with the detail that matters.

Both the employee's Security page and the administrator's page of an employee list it
from here, so they agree on the wording. The rows of the audit log stay as they were
recorded; only how they are told changes:

- a password step is folded into the sign-in that followed it (and a recovery code used
  at sign-in into that sign-in), so a sign-in is one row that says how it was made;
- a password step that no sign-in followed, and every failure, is a warning;
- a change names what changed, and an action on someone else names them;
- a failure at sign-in names nobody: whoever typed it is not known.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, null, or_, select
from sqlalchemy.orm import aliased

from portal.database import db
from portal.models import AuditEvent, User
from portal.services import audit
from portal.wording import plural

PAGE_SIZE = 10
# Beyond this many rows the Security page stops offering more (the company's audit log
# keeps everything); it also bounds the work of one request.
MOST_SHOWN = 200
# A password step and the sign-in it led to, from the same browser: the second step may
# wait a while after wrong codes, but not longer than this.
FOLD_WINDOW = timedelta(minutes=30)
# Marks a wrong code typed to confirm a security change rather than at sign-in.
GUARDING_A_CHANGE = "guarding a change"

SELF = "self"  # the employee reads their own activity
ADMIN = "admin"  # an administrator reads an employee's activity


@dataclass(frozen=True)
class Entry:
    occurred_at: datetime
    what: str
    how: str = ""
    by: str = ""  # who did it, when that is someone other than the person, else ""
    warning: bool = False
    ip: str = ""
    user_agent: str = ""


class Event(NamedTuple):
    """An audit event as the list reads it: plain values, and the names it may show."""

    id: int
    occurred_at: datetime
    kind: str
    actor_id: int | None
    subject_id: int | None
    ip: str
    user_agent: str
    detail: str
    actor_name: str | None  # read for an administrator's eyes only, else None
    subject_name: str | None


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    more: bool  # older entries exist beyond these
    shown: int  # how many entries the page asked for


def shown_count(raw: str | None) -> int:
    """The number of entries a "Show more" link asks for, kept to whole pages in range."""
    try:
        count = int(raw or PAGE_SIZE)
    except ValueError:
        count = PAGE_SIZE
    count = max(PAGE_SIZE, min(count, MOST_SHOWN))
    return -(-count // PAGE_SIZE) * PAGE_SIZE


def for_person(person: User, *, audience: str = SELF, shown: int = PAGE_SIZE) -> Page:
    """The newest ``shown`` entries of ``person``'s activity: what happened to them and,
    for an administrator's eyes, what they did to others."""
    shown = shown_count(str(shown))
    wanted = shown + 1
    entries: list[Entry] = []
    # Folding may merge rows, so read enough for the entries plus a margin for the
    # password step of the oldest sign-in; read further only if folding ate the margin.
    batch = wanted * 2 + 4
    limit = batch
    while True:
        result = db.session.connection().execute(
            _events_statement(audience == ADMIN, limit), {"person": person.id}
        )
        events = [Event._make(row) for row in result]
        exhausted = len(events) < limit
        entries = describe_all(events, person, audience=audience)
        if exhausted or len(entries) > wanted:
            break
        limit += batch
    return Page(entries=entries[:shown], more=len(entries) > shown, shown=shown)


@functools.lru_cache(maxsize=64)
def _events_statement(for_admin: bool, limit: int) -> Select[*tuple[Any, ...]]:
    """The newest events of a person (and, for an administrator, what they did to others,
    with the names of both sides): built once per size, as the pages ask for few sizes
    (whole pages, a bounded number). Plain rows: the list only reads them."""
    condition = AuditEvent.subject_id == bindparam("person")
    columns = [
        AuditEvent.id,
        AuditEvent.occurred_at,
        AuditEvent.kind,
        AuditEvent.actor_id,
        AuditEvent.subject_id,
        AuditEvent.ip,
        AuditEvent.user_agent,
        AuditEvent.detail,
    ]
    if not for_admin:
        statement = select(*columns, null(), null()).where(condition)
    else:
        actor, subject = aliased(User), aliased(User)
        statement = (
            select(*columns, actor.name, subject.name)
            .outerjoin(actor, actor.id == AuditEvent.actor_id)
            .outerjoin(subject, subject.id == AuditEvent.subject_id)
            .where(or_(condition, AuditEvent.actor_id == bindparam("person")))
        )
    return statement.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc()).limit(limit)


def describe_all(events: list[Event], person: User, *, audience: str) -> list[Entry]:
    """``events`` (newest first) as entries, newest first, folded as the module says."""
    folded: set[int] = set()
    how_extra: dict[int, str] = {}
    oldest_first = list(reversed(events))
    for index, event in enumerate(oldest_first):
        if event.kind != audit.SIGN_IN or event.subject_id != person.id:
            continue
        for earlier in reversed(oldest_first[:index]):
            if event.occurred_at - earlier.occurred_at > FOLD_WINDOW:
                break
            if earlier.subject_id != person.id or not _same_browser(earlier, event):
                continue
            if earlier.id in folded:
                continue
            if earlier.kind == audit.SIGN_IN_PASSWORD_PASSED:
                folded.add(earlier.id)
                break
            if earlier.kind == audit.RECOVERY_CODE_USED and "recovery code" in event.detail:
                folded.add(earlier.id)
                left = _number(earlier.detail)
                if left is not None:
                    how_extra[event.id] = f"{plural(left, 'code', 'codes')} left"
            if earlier.kind == audit.SIGN_IN:
                break
    entries = []
    for event in events:
        if event.id in folded:
            continue
        entry = describe(event, person, audience=audience)
        if event.id in how_extra:
            how = ", ".join(part for part in (entry.how, how_extra[event.id]) if part)
            entry = replace(entry, how=how)
        entries.append(entry)
    return entries


def describe(event: Event, person: User, *, audience: str = SELF) -> Entry:
    """One event as ``person``'s page tells it."""
    if event.subject_id != person.id and event.subject_name is not None:
        what, how = _done_to(event, event.subject_name)
        return Entry(
            occurred_at=event.occurred_at,
            what=what,
            how=how,
            by=person.name,
            ip=event.ip,
            user_agent=event.user_agent,
        )
    what, how, warning = _happened(event)
    by = ""
    if event.actor_id is not None and event.actor_id != person.id:
        by = event.actor_name if audience == ADMIN and event.actor_name else "an administrator"
    return Entry(
        occurred_at=event.occurred_at,
        what=what,
        how=how,
        by=by,
        warning=warning,
        ip=event.ip,
        user_agent=event.user_agent,
    )


# --- the words ------------------------------------------------------------------------


def _happened(event: Event) -> tuple[str, str, bool]:
    """What happened to the event's subject: (what, how, warning)."""
    kind, detail = event.kind, event.detail
    if kind == audit.SIGN_IN:
        return "Signed in", _sign_in_method(detail), False
    if kind == audit.SIGN_IN_PASSWORD_PASSED:
        return "Sign-in not finished", "the password was right, but no code followed", True
    if kind == audit.SIGN_IN_FAILED:
        return "Wrong password at sign-in", "", True
    if kind == audit.TWO_STEP_FAILED:
        parts = [part.strip() for part in detail.split(";") if part.strip()]
        guarding = GUARDING_A_CHANGE in parts
        where = "confirming a security change" if guarding else "at sign-in"
        reasons = [_code_failure(part) for part in parts if part != GUARDING_A_CHANGE]
        return f"Wrong code {where}", ", ".join(reason for reason in reasons if reason), True
    if kind == audit.TWO_STEP_LOCKED:
        return "Code step locked after repeated wrong codes", detail, True
    if kind == audit.PASSWORD_CONFIRM_FAILED:
        return "Wrong password when confirming a security change", "", True
    if kind == audit.SIGN_IN_REFUSED_OVERDUE:
        return "Sign-in refused", "two-step authentication was not set up by the deadline", True
    if kind == audit.PROFILE_CHANGED:
        return _profile_change(detail), "", False
    if kind == audit.EMAIL_CHANGED:
        return _profile_change(f"email {detail}"), "", False
    if kind == audit.SIGN_OUT:
        return "Signed out", "", False
    if kind == audit.SESSION_ENDED:
        return "Signed out another session", "", False
    if kind == audit.OTHER_SESSIONS_ENDED:
        return "Signed out everywhere else", _sessions_ended(detail, other=False), False
    if kind in (
        audit.PASSWORD_CHANGED,
        audit.DEVICE_CHANGED,
        audit.TWO_STEP_ENABLED,
        audit.TWO_STEP_DISABLED,
    ):
        return audit.describe(kind), _sessions_ended(detail, other=True), False
    if kind == audit.RECOVERY_CODE_USED:
        left = _number(detail)
        return "Recovery code used", f"{plural(left, 'code', 'codes')} left" if left else "", False
    if kind == audit.INVITATION_ACCEPTED:
        source = "an invitation link" if detail == "invite" else "a password link"
        return f"Password set from {source}", "", False
    if kind == audit.EMPLOYEE_ADDED:
        return "Account created", _role(detail), False
    if kind == audit.EMPLOYEE_DEACTIVATED:
        return "Account deactivated", _sessions_ended(detail, other=False), False
    if kind == audit.EMPLOYEE_REACTIVATED:
        return "Account reactivated", "", False
    if kind == audit.PASSWORD_RESET_ISSUED:
        return "Password reset: a new password link was issued", _link_detail(detail), False
    if kind == audit.TWO_STEP_RESET:
        return "Two-step authentication reset", _reason(detail), False
    if kind == audit.TWO_STEP_PAUSED:
        return "Code step paused", detail, False
    if kind == audit.TWO_STEP_RESUMED:
        return "Code step resumed", "", False
    if kind == audit.SETUP_COMPLETED:
        return "Set up the portal", detail, False
    if kind == audit.BROWSER_REMEMBERED:
        return audit.describe(kind), f"the code is not asked in it {detail}".strip(), False
    if kind == audit.REMEMBERED_BROWSERS_FORGOTTEN:
        count, _, because = detail.partition(" forgotten: ")
        if count.isdigit():
            return (
                audit.describe(kind),
                f"{plural(int(count), 'browser', 'browsers')}, {because}",
                False,
            )
    if kind == audit.TWO_STEP_POLICY_CHANGED:
        return "Changed the company's two-step authentication policy", detail, False
    return audit.describe(kind), detail, False


def _done_to(event: Event, name: str) -> tuple[str, str]:
    """An action the person took on someone else, naming them: (what, how)."""
    kind, detail = event.kind, event.detail
    if kind == audit.TWO_STEP_RESET:
        return f"Reset {name}'s two-step authentication", _reason(detail)
    if kind == audit.EMPLOYEE_ADDED:
        return f"Added {name}", _role(detail)
    if kind == audit.EMPLOYEE_DEACTIVATED:
        return f"Deactivated {name}'s account", _sessions_ended(detail, other=False)
    if kind == audit.EMPLOYEE_REACTIVATED:
        return f"Reactivated {name}'s account", ""
    if kind == audit.PASSWORD_RESET_ISSUED:
        return f"Issued {name} a new password link", _link_detail(detail)
    if kind == audit.TWO_STEP_PAUSED:
        return f"Paused {name}'s code step", detail
    if kind == audit.TWO_STEP_RESUMED:
        return f"Resumed {name}'s code step", ""
    if kind == audit.TWO_STEP_DEADLINE_EXTENDED:
        return f"Extended {name}'s deadline for two-step authentication", detail
    return f"{audit.describe(kind)}: {name}", detail


_METHODS = {
    "authenticator app": "with the authenticator app",
    "recovery code": "with a recovery code",
    "password": "with the password",
    "setup": "when setting up the portal",
}


def _sign_in_method(detail: str) -> str:
    method, _, rest = detail.partition(";")
    how = _METHODS.get(method.strip(), method.strip())
    if "paused" in rest:
        how += "; the code step is paused by an administrator"
    elif "remembered browser" in rest:
        how += "; the code was not asked in this remembered browser"
    return how


_CODE_FAILURES = {
    "wrong code": "a code that is not right",
    "wrong recovery code": "a recovery code that is not right or was used",
    "reused code": "a code that was used already",
}


def _code_failure(part: str) -> str:
    if part in _CODE_FAILURES:
        return _CODE_FAILURES[part]
    clock_off = re.fullmatch(r"clock off by about -?(\d+) minutes", part)
    if clock_off:
        return f"the phone's clock is about {plural(int(clock_off[1]), 'minute', 'minutes')} behind"
    in_a_row = re.fullmatch(r"(\d+) in a row", part)
    if in_a_row:
        return f"{in_a_row[1]} in a row"
    return part


def _profile_change(detail: str) -> str:
    changes = []
    rest = detail
    email = re.search(r"(?:^|, )email (\S+) -> (\S+)$", rest)
    if email:
        rest = rest[: email.start()]
    if rest.startswith("name"):
        name = re.fullmatch(r"name (.+) -> (.+)", rest)
        changes.append(f"Name changed from {name[1]} to {name[2]}" if name else "Name changed")
    if email:
        changes.append(f"Email changed from {email[1]} to {email[2]}")
    return "; ".join(changes) or "Profile changed"


def _sessions_ended(detail: str, *, other: bool) -> str:
    count = _number(detail)
    if count is None:
        return detail
    if count == 0:
        return ""
    words = ("other session", "other sessions") if other else ("session", "sessions")
    return f"{plural(count, *words)} signed out"


def _link_detail(detail: str) -> str:
    match = re.fullmatch(r"(\w+) link, (\d+) sessions? ended", detail)
    if not match:
        return detail
    link = "an invitation link" if match[1] == "invite" else "a reset link"
    ended = int(match[2])
    if ended:
        return f"{link}; {plural(ended, 'session', 'sessions')} signed out"
    return link


def _role(detail: str) -> str:
    if detail == "role admin":
        return "as an administrator"
    if detail == "role employee":
        return "as an employee"
    return "from the command line" if detail == "command line" else detail


def _reason(detail: str) -> str:
    return f"reason: {detail}" if detail else ""


def _number(detail: str) -> int | None:
    match = re.match(r"\s*(\d+)\b", detail)
    return int(match[1]) if match else None


def _same_browser(one: Event, other: Event) -> bool:
    return one.user_agent == other.user_agent and one.ip == other.ip
