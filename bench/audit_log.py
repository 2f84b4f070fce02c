"""The audit log with a year of events: 1,000,000 rows, 500 people, filtered pages.

The rows are written in bulk (executemany on SQLite, COPY on PostgreSQL), not through the
ORM. The pages are then asked for through the app, as an administrator's browser would,
with the filters an administrator uses: a person, a kind, a date range, all combined,
and the deepest page a filter reaches.

On PostgreSQL (PORTAL_BENCH_DATABASE_URL names a server and a database to connect to)
the figures come from a database of their own, made for the run and dropped after it.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from sqlalchemy import Table, create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from portal import create_app
from portal.database import Base, db
from portal.models import AuditEvent, Company, User
from portal.services import accounts, audit

AUDIT_TABLE = cast(Table, AuditEvent.__table__)

EVENTS = 1_000_000
PEOPLE = 500
ADMINS = 5
REPEAT = 15
TARGET_MS = 50
PASSWORD = "bench password 1"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
# The person under a password-guessing attack: 8% of all events are failures against them.
ATTACKED = 42

# What a year of a 500-person company looks like, by share of events.
ORDINARY_KINDS = [
    (audit.SIGN_IN_PASSWORD_PASSED, 22),
    (audit.SIGN_IN, 22),
    (audit.SIGN_OUT, 14),
    (audit.SIGN_IN_FAILED, 8),
    (audit.SESSION_ENDED, 6),
    (audit.TWO_STEP_FAILED, 4),
    (audit.OTHER_SESSIONS_ENDED, 2),
    (audit.PASSWORD_CONFIRM_FAILED, 1),
    (audit.PROFILE_CHANGED, 1),
    (audit.PASSWORD_CHANGED, 1),
    (audit.RECOVERY_CODE_USED, 0.3),
    (audit.TWO_STEP_ENABLED, 0.2),
    (audit.DEVICE_CHANGED, 0.2),
    (audit.RECOVERY_CODES_REGENERATED, 0.2),
    (audit.TWO_STEP_LOCKED, 0.1),
    (audit.TWO_STEP_DISABLED, 0.05),
]
ADMIN_KINDS = [
    audit.EMPLOYEE_ADDED,
    audit.PASSWORD_RESET_ISSUED,
    audit.TWO_STEP_RESET,
    audit.EMPLOYEE_DEACTIVATED,
    audit.EMPLOYEE_REACTIVATED,
]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36",
]
FIRST = ["Emma", "Noah", "Olivia", "Liam", "Ava", "Lucas", "Mia", "Ethan", "Zoe", "Leo"]
LAST = ["Stone", "Brook", "Park", "Meyer", "Novak", "Silva", "Berg", "Kowalski", "Sato", "Reyes"]


def _people() -> list[dict]:
    people = []
    for number in range(1, PEOPLE + 1):
        first, last = FIRST[number % 10], LAST[(number // 10) % 10]
        people.append(
            {
                "id": number,
                "name": f"{first} {last} {number}",
                "email": f"{first.lower()}.{last.lower()}.{number}@bench.example",
                "role": "admin" if number <= ADMINS else "employee",
                "active": True,
                "created_at": NOW - timedelta(days=400),
                "second_step_failures": 0,
                "password_hash": None,
            }
        )
    return people


def _events(count: int) -> Iterator[tuple]:
    """(occurred_at, kind, actor_id, subject_id, ip, user_agent, detail), oldest first."""
    rng = random.Random(2026)
    kinds = [kind for kind, _share in ORDINARY_KINDS]
    shares = [share for _kind, share in ORDINARY_KINDS]
    # Some people sign in far more often than others.
    weights = [1 / (rank**0.6) for rank in range(1, PEOPLE + 1)]
    start = NOW - timedelta(days=365)
    step = timedelta(days=365) / count
    drawn_kinds = rng.choices(kinds, shares, k=count)
    drawn_people = rng.choices(range(1, PEOPLE + 1), weights, k=count)
    for index in range(count):
        at = start + step * index
        roll = rng.random()
        if roll < 0.08:  # the attack: failures against one account, from many addresses
            yield (
                at,
                audit.SIGN_IN_FAILED,
                None,
                ATTACKED,
                f"203.0.113.{index % 250}",
                "python-requests/2.32",
                "",
            )
            continue
        if roll < 0.085:  # an administrator's action
            admin = 1 + index % ADMINS
            subject = drawn_people[index]
            kind = ADMIN_KINDS[index % len(ADMIN_KINDS)]
            detail = "lost phone and recovery codes" if kind == audit.TWO_STEP_RESET else ""
            yield (at, kind, admin, subject, "10.0.0.5", AGENTS[0], detail)
            continue
        person: int | None = drawn_people[index]
        kind = drawn_kinds[index]
        actor = None if kind in (audit.SIGN_IN_FAILED, audit.TWO_STEP_FAILED) else person
        if kind == audit.SIGN_IN_FAILED and roll > 0.99:
            person, detail = None, "unknown email someone@elsewhere.example"
        else:
            detail = "password" if kind == audit.SIGN_IN else ""
        agent = AGENTS[(person or 0) % len(AGENTS)]
        yield (at, kind, actor, person, f"192.0.2.{(person or 0) % 250}", agent, detail)


COLUMNS = ("occurred_at", "kind", "actor_id", "subject_id", "ip", "user_agent", "detail")


def fill(app, count: int = EVENTS) -> None:
    """500 people and ``count`` events; the first person is the administrator who looks.

    The audit indexes are built after the rows are in, as a restore would do it.
    """
    with app.app_context():
        engine = db.engine
        Base.metadata.create_all(engine)
        indexes = list(AUDIT_TABLE.indexes)
        with engine.begin() as connection:
            for index in indexes:
                index.drop(connection)
            connection.execute(insert(Company), [{"id": 1, "name": "Bench Ltd"}])
            people = _people()
            people[0]["password_hash"] = accounts.password_hasher().hash(PASSWORD)
            connection.execute(insert(User), people)
        if engine.dialect.name == "postgresql":
            _copy(engine, count)
        else:
            _executemany(engine, count)
        with engine.begin() as connection:
            for index in indexes:
                index.create(connection)
        if engine.dialect.name == "postgresql":
            # What autovacuum does soon after a bulk load: statistics, and the visibility
            # map that lets counts be read from the index alone.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE audit_events"))
                connection.execute(text("ANALYZE users"))


def _executemany(engine, count: int) -> None:
    # The column's own conversion, so that the stored text compares as the app's does.
    to_database = AUDIT_TABLE.c.occurred_at.type.bind_processor(engine.dialect)
    assert to_database is not None
    statement = f"INSERT INTO audit_events ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("BEGIN")
        chunk: list[tuple] = []
        for row in _events(count):
            chunk.append((to_database(row[0]), *row[1:]))
            if len(chunk) == 50_000:
                cursor.executemany(statement, chunk)
                chunk = []
        cursor.executemany(statement, chunk)
        cursor.execute("COMMIT")
    finally:
        raw.close()


def _copy(engine, count: int) -> None:
    raw = engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cursor:
            with cursor.copy(f"COPY audit_events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in _events(count):
                    copy.write_row(row)
            cursor.execute("SELECT setval('audit_events_id_seq', max(id)) FROM audit_events")
            cursor.execute("SELECT setval('users_id_seq', max(id)) FROM users")
        raw.commit()
    finally:
        raw.close()


def _filters(app) -> dict[str, dict[str, str]]:
    with app.app_context():
        typical = db.session.get(User, 120)
        attacked = db.session.get(User, ATTACKED)
        assert typical is not None and attacked is not None
        return {
            "person (email)": {"person": typical.email},
            "person under attack": {"person": attacked.email},
            "person (part of a name, 5 people)": {"person": "olivia stone"},
            "kind (rare)": {"kind": audit.TWO_STEP_RESET},
            "kind (common)": {"kind": audit.SIGN_IN_FAILED},
            "date range (a week)": {"from": "2026-06-01", "to": "2026-06-07"},
            "combined": {
                "person": typical.email,
                "kind": audit.SIGN_IN,
                "from": "2026-04-01",
                "to": "2026-09-30",
            },
            "last page, kind (common)": {"kind": audit.SIGN_IN_FAILED, "page": "999"},
            "last page, person under attack": {"person": attacked.email, "page": "999"},
            "no filter": {},
        }


def measure(app) -> tuple[list[float], dict[str, float]]:
    client = app.test_client()
    administrator = _people()[0]["email"]
    response = client.post("/login", data={"email": administrator, "password": PASSWORD})
    assert response.status_code == 303, response.status_code
    samples: list[float] = []
    medians: dict[str, float] = {}
    for name, query in _filters(app).items():
        mine = []
        for attempt in range(REPEAT + 1):
            start = time.perf_counter()
            response = client.get("/admin/audit", query_string=query)
            elapsed = time.perf_counter() - start
            assert response.status_code == 200, (name, response.status_code)
            if attempt:  # the first warms the caches, as any page seen before would
                mine.append(elapsed)
        samples.extend(mine)
        medians[name] = statistics.median(mine) * 1e3
    return samples, medians


def _p(samples: list[float], percentile: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * percentile))]


def _app(url: str, workdir: Path):
    return create_app(
        {
            "SECRET_KEY": "bench",
            "ENCRYPTION_KEY": "bench",
            "DATABASE_URL": url,
            "INSTANCE_PATH": str(workdir),
            "RATELIMIT_ENABLED": False,
            "WTF_CSRF_ENABLED": False,
            "LOG_LEVEL": "WARNING",
        }
    )


@contextlib.contextmanager
def _postgres_database(server_url: str) -> Iterator[str]:
    name = f"portal_bench_{secrets.token_hex(6)}"
    server = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def _figures(label: str, app, verbose: bool) -> list[tuple[str, float, float, str]]:
    start = time.perf_counter()
    fill(app)
    filled = time.perf_counter() - start
    samples, medians = measure(app)
    with app.app_context():
        db.engine.dispose()
    if verbose:
        print(f"audit log on {label}: filled {EVENTS:,} events in {filled:.1f} s")
        for name, median in medians.items():
            print(f"  {name:<40} median {median:6.1f} ms")
    title = f"audit log, filtered page, 1,000,000 events, {label}"
    return [
        (f"{title} p50", _p(samples, 0.50) * 1e3, TARGET_MS, "ms"),
        (f"{title} p99", _p(samples, 0.99) * 1e3, TARGET_MS, "ms"),
    ]


def run(workdir: Path, verbose: bool = False) -> list[tuple[str, float, float, str]]:
    database = workdir / "audit.db"
    try:
        results = _figures("SQLite", _app(f"sqlite:///{database}", workdir), verbose)
    finally:
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            path.unlink(missing_ok=True)
    server_url = os.environ.get("PORTAL_BENCH_DATABASE_URL", "")
    if server_url:
        with _postgres_database(server_url) as url:
            results += _figures("PostgreSQL", _app(url, workdir), verbose)
    return results


if __name__ == "__main__":
    import sys
    import tempfile

    for row in run(Path(tempfile.mkdtemp(prefix="portal-bench-")), verbose=True):
        print(f"{row[0]:<70} {row[1]:8.1f} {row[3]}")
    sys.exit(0)
