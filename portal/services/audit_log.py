"""The administrators' audit log: every security event, filtered, paged and exported.

Queries first find the ids of the events to show, newest first, from the indexes alone
(``(column, occurred_at, id, ...)`` on audit_events), and then read just those rows with
the names of the people involved. A page deep in the log thus walks index entries, not
rows.

The person filter matches the actor OR the subject. An OR over two columns cannot follow
one index in order, so each side is read from its own index, newest first and no further
than the page needs, and the two are merged: the cost stays bounded by the page, not by
how many events the person has (an account under a password-guessing attack may have
hundreds of thousands).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import CompoundSelect, Row, Select, and_, func, or_, select, tuple_, union_all
from sqlalchemy.orm import aliased

from portal.database import db
from portal.models import AuditEvent, User
from portal.services import accounts, audit
from portal.services.employees import clean_query
from portal.wording import describe_browser

PER_PAGE = 50
# Pages reach this far back; beyond it the page asks for narrower filters (the CSV has
# everything). It keeps the count and the deepest page a walk of at most this many index
# entries, whatever the log holds.
MAX_ROWS = 10_000
# A person search broader than this is a first name or a domain name, not a person; each
# person found is two more index streams to merge.
MAX_PEOPLE = 20
EXPORT_BATCH = 1_000
MAX_SUGGESTIONS = 2_000

CSV_HEADER = (
    "When (UTC)",
    "Event",
    "Detail",
    "By",
    "By email",
    "Whom",
    "Whom email",
    "IP",
    "Browser",
    "User agent",
    "Kind",
)
# Spreadsheets run a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class AuditFilters:
    """What the administrator asked for; every part is optional. Dates are inclusive, UTC."""

    person: str = ""
    kind: str = ""
    start: date | None = None
    end: date | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> tuple[AuditFilters, dict[str, str]]:
        """The filters from a query string, and a message for each value that was left out."""
        problems: dict[str, str] = {}
        kind = _text(args.get("kind"))
        if kind and kind not in audit.DESCRIPTIONS:
            problems["kind"] = "There is no such kind of event; events of every kind are shown."
            kind = ""
        start = _date(args.get("from"), "start", problems)
        end = _date(args.get("to"), "end", problems)
        if start and end and start > end:
            problems["to"] = "The end date is before the start date, so no event can match."
        return cls(clean_query(_text(args.get("person"))), kind, start, end), problems

    @property
    def active(self) -> bool:
        return bool(self.person or self.kind or self.start or self.end)

    def query_args(self) -> dict[str, str]:
        """The filters as URL arguments, for links that keep them (pages, the CSV)."""
        values = {
            "person": self.person,
            "kind": self.kind,
            "from": self.start.isoformat() if self.start else "",
            "to": self.end.isoformat() if self.end else "",
        }
        return {name: value for name, value in values.items() if value}


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    email: str


@dataclass(frozen=True)
class AuditRow:
    id: int
    occurred_at: datetime
    kind: str
    detail: str
    actor: Person | None
    subject: Person | None
    ip: str
    user_agent: str

    @property
    def description(self) -> str:
        return audit.describe(self.kind)

    @property
    def browser(self) -> str:
        return describe_browser(self.user_agent) if self.user_agent else ""


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    total: int  # up to MAX_ROWS; see more
    more: bool  # more than MAX_ROWS events match
    page: int
    pages: int
    # None without a person filter; else who the search found (empty: nobody).
    people: list[Person] | None
    too_many_people: bool

    @property
    def first_shown(self) -> int:
        return (self.page - 1) * PER_PAGE + 1 if self.rows else 0

    @property
    def last_shown(self) -> int:
        return (self.page - 1) * PER_PAGE + len(self.rows)


def kind_choices() -> list[tuple[str, str]]:
    """Every kind of event with its description, by description."""
    return sorted(audit.DESCRIPTIONS.items(), key=lambda item: item[1].lower())


def person_suggestions() -> Sequence[Row[str, str]]:
    """Everyone's name and email, by name, for the person field's suggestions (a company
    of up to a few thousand people; beyond that, typing part of a name still works)."""
    return db.session.execute(
        select(User.name, User.email).order_by(User.name, User.id).limit(MAX_SUGGESTIONS)
    ).all()


def page_number(raw: str | None) -> int:
    """A ?page= argument: unreadable counts as the first page; too large (any length) is
    cut to the last page by ``page``."""
    raw = raw or ""
    if not (raw.isascii() and raw.isdigit()):
        return 1
    return max(1, int(raw)) if len(raw) <= 9 else 10**9


def page(filters: AuditFilters, number: int) -> AuditPage:
    """One page of matching events, newest first; a page past the end is the last one."""
    scope = _Scope.of(filters)
    if scope.nothing:
        return AuditPage([], 0, False, 1, 1, scope.people, scope.too_many_people)
    counted = (
        db.session.scalar(
            select(func.count()).select_from(_newest(scope, limit=MAX_ROWS + 1).subquery())
        )
        or 0
    )
    total = min(counted, MAX_ROWS)
    pages = max(1, -(-total // PER_PAGE))
    number = min(max(1, number), pages)
    rows = _rows(_newest(scope, limit=PER_PAGE, offset=(number - 1) * PER_PAGE))
    return AuditPage(rows, total, counted > MAX_ROWS, number, pages, scope.people, False)


def batches(filters: AuditFilters, size: int | None = None) -> Iterator[list[AuditRow]]:
    """Every matching event, newest first, ``size`` at a time.

    Each batch is read in a transaction of its own that ends before the batch is handed
    on: a slow download holds no lock (SQLite) and no old snapshot (PostgreSQL) meanwhile.
    Each batch starts below the last one's key, so events recorded during the export do
    not shift the rows already read.
    """
    size = size or EXPORT_BATCH
    scope = _Scope.of(filters)
    if scope.nothing:
        return
    before: tuple[datetime, int] | None = None
    while True:
        try:
            rows = _rows(_newest(scope, limit=size, before=before))
        finally:
            db.session.rollback()
        if rows:
            yield rows
        if len(rows) < size:
            return
        before = (rows[-1].occurred_at, rows[-1].id)


def export_csv(filters: AuditFilters) -> Iterator[str]:
    """The matching events as CSV text, a batch at a time (with a BOM so Excel reads UTF-8)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(CSV_HEADER)
    yield buffer.getvalue()
    for rows in batches(filters):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(csv_cells(row) for row in rows)
        yield buffer.getvalue()


def csv_cells(row: AuditRow) -> list[str]:
    cells = [
        row.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
        row.description,
        row.detail,
        row.actor.name if row.actor else "",
        row.actor.email if row.actor else "",
        row.subject.name if row.subject else "",
        row.subject.email if row.subject else "",
        row.ip,
        row.browser,
        row.user_agent,
        row.kind,
    ]
    return [neutralise(cell) for cell in cells]


def neutralise(cell: str) -> str:
    """A cell a spreadsheet would run as a formula gets a leading apostrophe: shown as text."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


# Queries.


@dataclass(frozen=True)
class _Scope:
    kind: str
    conditions: tuple  # the date range
    people: list[Person] | None
    too_many_people: bool = False
    impossible: bool = False  # an end date before the start date

    @classmethod
    def of(cls, filters: AuditFilters) -> _Scope:
        conditions = []
        if filters.start:
            conditions.append(AuditEvent.occurred_at >= _midnight(filters.start))
        if filters.end and filters.end < date.max:
            conditions.append(AuditEvent.occurred_at < _midnight(filters.end + timedelta(days=1)))
        impossible = bool(filters.start and filters.end and filters.start > filters.end)
        if not filters.person:
            return cls(filters.kind, tuple(conditions), None, impossible=impossible)
        people = people_matching(filters.person)
        if len(people) > MAX_PEOPLE:
            return cls(
                filters.kind, tuple(conditions), [], too_many_people=True, impossible=impossible
            )
        return cls(filters.kind, tuple(conditions), people, impossible=impossible)

    @property
    def nothing(self) -> bool:
        """Nothing can match: no such person, too many, or an impossible range."""
        return self.impossible or self.too_many_people or self.people == []


def people_matching(text: str) -> list[Person]:
    """The person with exactly this email, else everyone whose name or email contains it,
    in any case and with or without accents (at most MAX_PEOPLE + 1, so that a broader
    search can be told apart)."""
    exact = db.session.execute(
        select(User.id, User.name, User.email).where(User.email == text.lower())
    ).first()
    if exact is not None:
        return [Person(*exact)]
    # The employees list's own rule: any case, with or without accents ("Emile" finds
    # "Émile"), from the accounts' search key.
    found = db.session.execute(
        accounts.matching(text)
        .with_only_columns(User.id, User.name, User.email)
        .order_by(User.search_key, User.id)
        .limit(MAX_PEOPLE + 1)
    )
    return [Person(*row) for row in found]


def _newest(
    scope: _Scope, *, limit: int, offset: int = 0, before: tuple[datetime, int] | None = None
) -> Select | CompoundSelect:
    """The (id, occurred_at) of matching events, newest first, read from the indexes."""
    conditions = list(scope.conditions)
    if before is not None:
        conditions.append(tuple_(AuditEvent.occurred_at, AuditEvent.id) < tuple_(*before))
    if scope.people is None:
        if scope.kind:
            conditions.append(AuditEvent.kind == scope.kind)
        return (
            select(AuditEvent.id, AuditEvent.occurred_at)
            .where(*conditions)
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
            .limit(limit)
            .offset(offset)
        )
    # Per person, the events about them and those they did to someone else: streams that
    # never share an event, each the newest rows of one index, merged in order (UNION ALL)
    # up to what the page needs. A subject is set whenever an actor is, unless the
    # subject's account was deleted since.
    if scope.kind:
        # Compared as an expression, so that the kind's index cannot serve it: without
        # statistics SQLite may otherwise take that one, as good a match on paper, and go
        # through every event of the kind to find this person's few. The person's own
        # indexes hold the kind, to check it with.
        conditions.append(AuditEvent.kind.concat("") == scope.kind)
    ids = [person.id for person in scope.people]
    others = or_(AuditEvent.subject_id.is_(None), AuditEvent.subject_id.not_in(ids))
    streams = [
        select(AuditEvent.id, AuditEvent.occurred_at).where(involves, *conditions)
        for person in ids
        for involves in (
            AuditEvent.subject_id == person,
            and_(AuditEvent.actor_id == person, others),
        )
    ]
    if db.session.get_bind().dialect.name == "sqlite":
        # SQLite merges the streams of a compound with one ORDER BY, reading each index
        # only as far as the LIMIT needs.
        compound = union_all(*streams)
        columns = compound.selected_columns
        return (
            compound.order_by(columns.occurred_at.desc(), columns.id.desc())
            .limit(limit)
            .offset(offset)
        )
    # PostgreSQL (before 17) sorts a compound whole; it merges streams that are ordered
    # and cut one by one.
    cut = [
        stream.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(offset + limit)
        .subquery()
        for stream in streams
    ]
    merged = union_all(*(select(stream.c.id, stream.c.occurred_at) for stream in cut)).subquery()
    return (
        select(merged.c.id, merged.c.occurred_at)
        .order_by(merged.c.occurred_at.desc(), merged.c.id.desc())
        .limit(limit)
        .offset(offset)
    )


_actor = aliased(User, name="actor")
_subject = aliased(User, name="subject")


def _rows(newest: Select | CompoundSelect) -> list[AuditRow]:
    chosen = newest.subquery()
    actor, subject = _actor, _subject  # the users table twice: who acted, and about whom
    result = db.session.execute(
        select(
            AuditEvent.id,
            AuditEvent.occurred_at,
            AuditEvent.kind,
            AuditEvent.detail,
            AuditEvent.ip,
            AuditEvent.user_agent,
            actor.id,
            actor.name,
            actor.email,
            subject.id,
            subject.name,
            subject.email,
        )
        .join(chosen, chosen.c.id == AuditEvent.id)
        .outerjoin(actor, actor.id == AuditEvent.actor_id)
        .outerjoin(subject, subject.id == AuditEvent.subject_id)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    )
    return [
        AuditRow(
            id=row[0],
            occurred_at=row[1],
            kind=row[2],
            detail=row[3],
            ip=row[4],
            user_agent=row[5],
            actor=Person(row[6], row[7], row[8]) if row[6] is not None else None,
            subject=Person(row[9], row[10], row[11]) if row[9] is not None else None,
        )
        for row in result
    ]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _text(raw: str | None) -> str:
    return raw if isinstance(raw, str) else ""


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_WORDS = {"start": ("from", "start"), "end": ("to", "end")}


def _date(raw: str | None, which: str, problems: dict[str, str]) -> date | None:
    text = _text(raw).strip()
    if not text:
        return None
    field, word = _DATE_WORDS[which]
    if _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    problems[field] = f"The {word} date is not a date of the form YYYY-MM-DD, so it is left out."
    return None
