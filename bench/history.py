"""Pages whose cost must not grow with the portal's history, as ratios of server time.

- The employees list (an administrator's GET /admin/) with 10,000 employees, against the
  same list with 100: a page of 25 and the counts of each two-step state either way.
- The Security page (GET /profile/security, signed in) over a year of history, against
  the same page on an empty database. The history is bench.audit_log's: 1,000,000 audit
  events over 500 people, the measured person among them with thousands of their own;
  and 100,000 sessions that ended long ago without anyone signing out (unused beyond
  the idle limit, or a sign-in that never got its code), the measured person's
  hundreds included, left in place as if the purge (flask purge) had not run.

Each comparison runs on two databases side by side, one request on each in turn, so that
a machine busy with other work slows both alike. The rows go in by bulk inserts, not
through the services one by one. The Security page is compared on PostgreSQL too when
PORTAL_BENCH_DATABASE_URL names a server, in databases made for the run and dropped after.
"""

from __future__ import annotations

import os
import random
import statistics
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from flask import Flask
from sqlalchemy import insert, text, update

from bench import audit_log
from bench.sign_in import ServerTime
from portal import clock
from portal.database import Base, db
from portal.models import (
    ROLE_ADMIN,
    ROLE_EMPLOYEE,
    STAGE_FULL,
    STAGE_PASSWORD,
    AuditEvent,
    Company,
    User,
    UserSession,
    fold_for_search,
)
from portal.services import accounts, audit, totp

FEW_EMPLOYEES = 100
MANY_EMPLOYEES = 10_000
OLD_SESSIONS = 100_000
REPEAT = 150
WARM_UP = 5
EMPLOYEES_TARGET = 1.5
SECURITY_TARGET = 1.2
PASSWORD = audit_log.PASSWORD
# The person whose Security page is measured: the one under a password-guessing attack,
# whose own events are about a tenth of the whole log.
MEASURED = audit_log.ATTACKED


def _app(url: str, workdir: Path) -> Flask:
    return audit_log._app(url, workdir)


def _sign_in(app: Flask, email: str):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 303, response.status_code
    assert response.location == "/profile/security", response.location
    return client


def _compare(apps: tuple[Flask, Flask], emails: tuple[str, str], path: str) -> tuple[float, float]:
    """The median server time of ``path`` on each app, signed in as each email, one
    request on each in turn."""
    clients = [_sign_in(app, email) for app, email in zip(apps, emails, strict=True)]
    timers = [ServerTime(app) for app in apps]
    samples: tuple[list[float], list[float]] = ([], [])
    for attempt in range(WARM_UP + REPEAT):
        for client, timer, mine in zip(clients, timers, samples, strict=True):
            elapsed, response = timer.of(partial(client.get, path))
            assert response.status_code == 200, (path, response.status_code)
            if attempt >= WARM_UP:
                mine.append(elapsed)
    return statistics.median(samples[0]), statistics.median(samples[1])


# --- the employees list --------------------------------------------------------------


def _employee(number: int, now: datetime, secret: bytes, password_hash: str) -> dict:
    """Employee ``number`` (1 is the administrator who looks): a mix of two-step states,
    a few deactivated, paused or locked out."""
    first = audit_log.FIRST[number % len(audit_log.FIRST)]
    last = audit_log.LAST[(number // 10) % len(audit_log.LAST)]
    name = f"{first} {last} {number}"
    email = f"{first.lower()}.{last.lower()}.{number}@bench.example"
    enrolled = number == 1 or number % 5 != 0
    return {
        "id": number,
        "name": name,
        "email": email,
        "search_key": fold_for_search(f"{name}\n{email}"),
        "role": ROLE_ADMIN if number <= 3 else ROLE_EMPLOYEE,
        "active": number == 1 or number % 31 != 0,
        "created_at": now - timedelta(days=number % 700),
        "password_hash": password_hash if number == 1 else None,
        "second_step_failures": 10 if number % 97 == 0 else 0,
        "second_step_locked_until": now + timedelta(minutes=10) if number % 97 == 0 else None,
        "totp_secret": secret if enrolled and number != 1 else None,
        "totp_enabled_at": now - timedelta(days=30) if enrolled and number != 1 else None,
        "two_step_paused_since": now - timedelta(days=1) if number % 53 == 0 else None,
    }


def _fill_employees(app: Flask, count: int) -> str:
    """``count`` employees; returns the email of the administrator who looks."""
    with app.app_context():
        Base.metadata.create_all(db.engine)
        now = clock.now()
        secret = app.extensions["keyring"].encrypt_secret(totp.new_secret(), user_id=0)
        password_hash = accounts.password_hasher().hash(PASSWORD)
        people = [_employee(number, now, secret, password_hash) for number in range(1, count + 1)]
        with db.engine.begin() as connection:
            connection.execute(insert(Company), [{"id": 1, "name": "Bench Ltd"}])
            connection.execute(insert(User), people)
        return people[0]["email"]


def employees(workdir: Path, verbose: bool = False) -> list[tuple[str, float, float, str]]:
    with _databases(workdir, "employees", 2) as urls:
        apps = (_app(urls[0], workdir), _app(urls[1], workdir))
        emails = (_fill_employees(apps[0], FEW_EMPLOYEES), _fill_employees(apps[1], MANY_EMPLOYEES))
        few, many = _compare(apps, emails, "/admin/")
        for app in apps:
            with app.app_context():
                db.engine.dispose()
    if verbose:
        print(
            f"  employees list: {FEW_EMPLOYEES:,} {few * 1e3:.2f} ms, {MANY_EMPLOYEES:,} {many * 1e3:.2f} ms"
        )
    return [
        (
            f"GET /admin/ (employees), {MANY_EMPLOYEES:,} / {FEW_EMPLOYEES} employees",
            many / few,
            EMPLOYEES_TARGET,
            "×",
        )
    ]


# --- the Security page over a year of history ----------------------------------------


def _old_sessions(count: int, now: datetime) -> Iterator[dict]:
    """Sessions that ended without a sign-out, spread over the people as their events
    are: unused beyond the idle limit, or sign-ins that never got their code."""
    rng = random.Random(2026)
    weights = [1 / (rank**0.6) for rank in range(1, audit_log.PEOPLE + 1)]
    people = rng.choices(range(1, audit_log.PEOPLE + 1), weights, k=count)
    for index, person in enumerate(people):
        started = now - timedelta(days=20 + (index * 345 / count), minutes=index % 600)
        pending = index % 4 == 0
        agent = audit_log.AGENTS[index % len(audit_log.AGENTS)]
        yield {
            "token_hash": f"{index:064x}",
            "user_id": person,
            "stage": STAGE_PASSWORD if pending else STAGE_FULL,
            "created_at": started,
            "last_seen_at": started if pending else started + timedelta(hours=index % 9),
            "password_confirmed_at": started,
            "ip": f"192.0.2.{index % 250}",
            "user_agent": agent,
            "second_step_at": None if pending else started,
        }


def _fill_history(app: Flask) -> str:
    """bench.audit_log's year of events, the old sessions, and a password for the
    measured person; returns their email."""
    audit_log.fill(app)
    with app.app_context():
        engine = db.engine
        password_hash = accounts.password_hasher().hash(PASSWORD)
        with engine.begin() as connection:
            connection.execute(
                update(User).where(User.id == MEASURED).values(password_hash=password_hash)
            )
            rows = list(_old_sessions(OLD_SESSIONS, clock.now()))
            for start in range(0, len(rows), 20_000):
                connection.execute(insert(UserSession), rows[start : start + 20_000])
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE user_sessions"))
        person = db.session.get(User, MEASURED)
        assert person is not None
        return person.email


# The measured person's activity list shows a page of entries and "Show more" over a
# year of history; the empty database holds just that page's worth (the same kind of
# entry as its newest ones: sign-in failures of the attack), so the two pages draw the
# same content and only the history beneath differs.
PAGE_OF_ACTIVITY = 11


def _fill_empty(app: Flask) -> str:
    """The company, the measured person and one page of their activity."""
    with app.app_context():
        Base.metadata.create_all(db.engine)
        person = audit_log._people()[MEASURED - 1]
        person["password_hash"] = accounts.password_hasher().hash(PASSWORD)
        person["search_key"] = fold_for_search(f"{person['name']}\n{person['email']}")
        events = [
            dict(
                zip(
                    audit_log.COLUMNS,
                    (
                        audit_log.NOW - timedelta(minutes=number),
                        audit.SIGN_IN_FAILED,
                        None,
                        MEASURED,
                        f"203.0.113.{number}",
                        "python-requests/2.32",
                        "",
                    ),
                    strict=True,
                )
            )
            for number in range(PAGE_OF_ACTIVITY)
        ]
        with db.engine.begin() as connection:
            connection.execute(insert(Company), [{"id": 1, "name": "Bench Ltd"}])
            connection.execute(insert(User), [person])
            connection.execute(insert(AuditEvent), events)
        return person["email"]


def security_page(
    workdir: Path, label: str, urls: tuple[str, str], verbose: bool = False
) -> list[tuple[str, float, float, str]]:
    apps = (_app(urls[0], workdir), _app(urls[1], workdir))
    emails = (_fill_empty(apps[0]), _fill_history(apps[1]))
    empty, full = _compare(apps, emails, "/profile/security")
    for app in apps:
        with app.app_context():
            db.engine.dispose()
    if verbose:
        print(
            f"  Security page on {label}: empty {empty * 1e3:.2f} ms, history {full * 1e3:.2f} ms"
        )
    return [
        (
            f"GET /profile/security, 1M events + 100k old sessions / empty, {label}",
            full / empty,
            SECURITY_TARGET,
            "×",
        )
    ]


@contextmanager
def _databases(workdir: Path, name: str, count: int) -> Iterator[tuple[str, ...]]:
    """``count`` SQLite databases in ``workdir``, deleted afterwards."""
    files = [workdir / f"{name}-{number}.db" for number in range(count)]
    try:
        yield tuple(f"sqlite:///{path}" for path in files)
    finally:
        for path in files:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)


def run(workdir: Path, verbose: bool = False) -> list[tuple[str, float, float, str]]:
    results = employees(workdir, verbose)
    with _databases(workdir, "history", 2) as urls:
        results += security_page(workdir, "SQLite", (urls[0], urls[1]), verbose)
    server_url = os.environ.get("PORTAL_BENCH_DATABASE_URL", "")
    if server_url:
        with ExitStack() as stack:
            empty = stack.enter_context(audit_log._postgres_database(server_url))
            full = stack.enter_context(audit_log._postgres_database(server_url))
            results += security_page(workdir, "PostgreSQL", (empty, full), verbose)
    return results


if __name__ == "__main__":
    import sys
    import tempfile

    started = datetime.now(UTC)
    for row in run(Path(tempfile.mkdtemp(prefix="portal-bench-")), verbose=True):
        print(f"{row[0]:<72} {row[1]:6.2f} {row[3]}  (target {row[2]:g})")
    print(f"took {(datetime.now(UTC) - started).total_seconds():.0f} s")
    sys.exit(0)
