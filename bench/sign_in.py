"""What a sign-in costs on the server beyond the password hash itself.

A whole sign-in is three requests, made in-process through Flask's test client as a
browser makes them: GET /login (the form and its CSRF token), POST /login with the
password (production argon2id parameters), and POST /login/code with the authenticator
app's code. Each is a real, accepted sign-in: a new browser each time, on one of several
accounts with two-step on, and the portal's clock moved on by one code step between
sign-ins so that the replay guard takes every code. CSRF protection is on, as in
production; the rate limits are off, as elsewhere in the bench (hundreds of sign-ins a
minute from one process would trip them). Sign-ins and argon2id verifications alone take
turns, so that a busy machine slows both alike and their ratio holds. The times are the
server's (see ServerTime), not the test client's.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import insert, select
from werkzeug.test import TestResponse

from bench import stack_floor
from portal import clock, create_app
from portal.database import Base, db
from portal.models import Company, User
from portal.services import accounts, totp

ACCOUNTS = 40
RUNS = 300
PASSWORD = "bench password 1"
SECOND_STEP_TARGET_MS = 5
WHOLE_TO_HASH_TARGET = 1.15
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class _Clock:
    """Stands in for portal.clock.now: time moves only when the bench moves it."""

    def __init__(self, moment: datetime) -> None:
        self.current = moment

    def now(self) -> datetime:
        return self.current


@contextmanager
def _moved_clock(moment: datetime) -> Iterator[_Clock]:
    original = clock.now
    stand_in = _Clock(moment)
    clock.now = stand_in.now
    try:
        yield stand_in
    finally:
        clock.now = original


def _app(workdir: Path) -> Flask:
    return create_app(
        {
            "SECRET_KEY": "bench",
            "ENCRYPTION_KEY": "bench",
            "DATABASE_URL": f"sqlite:///{workdir / 'sign_in.db'}",
            "INSTANCE_PATH": str(workdir),
            "RATELIMIT_ENABLED": False,
            "LOG_LEVEL": "WARNING",
        }
    )


def _accounts(app: Flask) -> dict[str, str]:
    """ACCOUNTS people with a password and two-step on; their emails and TOTP secrets."""
    keyring = app.extensions["keyring"]
    password_hash = accounts.password_hasher().hash(PASSWORD)
    secrets = {number: totp.new_secret() for number in range(1, ACCOUNTS + 1)}
    people = [
        {
            "id": number,
            "name": f"Bench Person {number}",
            "email": f"person{number}@bench.example",
            "role": "employee",
            "active": True,
            "created_at": START - timedelta(days=100),
            "password_hash": password_hash,
            "password_changed_at": START - timedelta(days=100),
            "second_step_failures": 0,
            "totp_secret": keyring.encrypt_secret(secret, user_id=number),
            "totp_enabled_at": START - timedelta(days=100),
        }
        for number, secret in secrets.items()
    ]
    Base.metadata.create_all(db.engine)
    with db.engine.begin() as connection:
        connection.execute(insert(Company), [{"id": 1, "name": "Bench Ltd"}])
        connection.execute(insert(User), people)
    return {person["email"]: secrets[person["id"]] for person in people}


class ServerTime:
    """Times each request inside the app, from the WSGI call until its body is complete:
    the server's time, without the test client's own work around it."""

    def __init__(self, app: Flask) -> None:
        self.inner = app.wsgi_app
        app.wsgi_app = self  # type: ignore[method-assign]
        self.last = 0.0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start = time.perf_counter()
        body = self.inner(environ, start_response)
        try:
            data = b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        self.last = time.perf_counter() - start
        return [data]

    def of(self, request: Callable[[], TestResponse]) -> tuple[float, TestResponse]:
        """The server's time of ``request`` (a test client call), and its response."""
        response = request()
        return self.last, response


def _timed(function: Callable[[], bool]) -> tuple[float, bool]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def _sign_in(
    app: Flask, timer: ServerTime, email: str, secret: str, number: int
) -> tuple[float, float, float]:
    """One whole sign-in in a new browser: the server's time of each of its three requests."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"198.51.100.{number % 250}"
    form_time, form = timer.of(lambda: client.get("/login"))
    assert form.status_code == 200, form.status_code
    match = _CSRF.search(form.get_data(as_text=True))
    assert match, "no CSRF token on the sign-in page"
    token = match.group(1)
    password_time, passed = timer.of(
        lambda: client.post(
            "/login", data={"csrf_token": token, "email": email, "password": PASSWORD}
        )
    )
    assert passed.status_code == 303, passed.status_code
    assert passed.location.startswith("/login/code"), passed.location
    # The browser follows the redirect to the code form; the sign-in renewed the CSRF
    # token. Not timed: the form is not part of the three requests measured.
    code_form = client.get(passed.location)
    match = _CSRF.search(code_form.get_data(as_text=True))
    assert match, "no CSRF token on the code page"
    token = match.group(1)
    code = totp.code_at(secret, clock.now())
    code_time, signed_in = timer.of(
        lambda: client.post("/login/code", data={"csrf_token": token, "code": code})
    )
    assert signed_in.status_code == 303, signed_in.status_code
    assert signed_in.location == "/profile/security", signed_in.location
    return form_time, password_time, code_time


def measure(app: Flask, runs: int = RUNS) -> dict[str, list[float]]:
    """Samples in seconds: "verify" (argon2id alone), "form", "password", "code" and
    "whole" (the three requests of one sign-in)."""
    samples: dict[str, list[float]] = {
        "verify": [],
        "form": [],
        "password": [],
        "code": [],
        "whole": [],
    }
    timer = ServerTime(app)
    with _moved_clock(START) as moved:
        with app.app_context():
            people = list(_accounts(app).items())
        for number in range(runs + 1):
            # Its own app context: a request within one would share its session and g.
            with app.app_context():
                person = db.session.scalars(select(User).where(User.id == 1)).one()
                db.session.commit()
                verify_time, matched = _timed(partial(accounts.verify_password, person, PASSWORD))
                assert matched
            email, secret = people[number % len(people)]
            form, password, code = _sign_in(app, timer, email, secret, number)
            # The next code step: the replay guard refuses a step already used.
            moved.current += timedelta(seconds=totp.PERIOD)
            if number == 0:
                continue  # the first of each warms caches, as any page seen before would
            samples["verify"].append(verify_time)
            samples["form"].append(form)
            samples["password"].append(password)
            samples["code"].append(code)
            samples["whole"].append(form + password + code)
    return samples


def measure_floor(workdir: Path, runs: int = RUNS) -> dict[str, list[float]]:
    """The stack's least password step (bench/stack_floor.py), measured as the portal's
    is: a new browser each time, the request and argon2id alone taking turns. Samples in
    seconds: "verify" and "password"."""
    url = f"sqlite:///{workdir / 'floor_sign_in.db'}"
    stack_floor.prepare(url)
    app = stack_floor.create_app(url)
    timer = ServerTime(app)
    hasher = stack_floor.hasher()
    stored = hasher.hash(stack_floor.PASSWORD)
    samples: dict[str, list[float]] = {"verify": [], "password": []}
    for number in range(runs + 1):
        verify_time, _ = _timed(partial(hasher.verify, stored, stack_floor.PASSWORD))
        client = app.test_client()
        match = _CSRF.search(client.get("/login").get_data(as_text=True))
        assert match, "no CSRF token on the floor's sign-in page"
        form = {
            "csrf_token": match.group(1),
            "email": stack_floor.EMAIL,
            "password": stack_floor.PASSWORD,
        }
        password_time, passed = timer.of(partial(client.post, "/login", data=form))
        assert passed.status_code == 303, passed.status_code
        if number:
            samples["verify"].append(verify_time)
            samples["password"].append(password_time)
    return samples


def run(workdir: Path, verbose: bool = False) -> list[tuple[str, float, float, str]]:
    app = _app(workdir)
    try:
        samples = measure(app)
        floor = measure_floor(workdir)
    finally:
        with app.app_context():
            db.engine.dispose()
        for name in ("sign_in.db", "floor_sign_in.db"):
            for suffix in ("", "-wal", "-shm"):
                (workdir / f"{name}{suffix}").unlink(missing_ok=True)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    floor_ratio = statistics.median(floor["password"]) / statistics.median(floor["verify"])
    if verbose:
        for name, median in medians.items():
            print(f"  {name:<10} median {median * 1e3:6.2f} ms")
    return [
        (
            "POST /login/code (right code, pending sign-in), median",
            medians["code"] * 1e3,
            SECOND_STEP_TARGET_MS,
            "ms",
        ),
        # The password step is the sign-in's own request: the one that hashes. Its whole
        # server time, form check, session and cookie included, is held to the hash alone.
        # (The three requests together carry the code step's own budget besides, above.)
        (
            "POST /login (password step) / argon2id verify, medians",
            medians["password"] / medians["verify"],
            WHOLE_TO_HASH_TARGET,
            "×",
        ),
        # For scale: the same ratio for the least password step the portal's stack can
        # make (bench/stack_floor.py), in the same run.
        (
            "least password step of the stack / argon2id verify, medians",
            floor_ratio,
            float("inf"),
            "×",
        ),
        (
            "whole sign-in (3 requests) / argon2id verify, medians",
            medians["whole"] / medians["verify"],
            float("inf"),
            "×",
        ),
    ]


if __name__ == "__main__":
    import sys
    import tempfile

    for row in run(Path(tempfile.mkdtemp(prefix="portal-bench-")), verbose=True):
        print(f"{row[0]:<70} {row[1]:8.2f} {row[3]}  (target {row[2]:g})")
    sys.exit(0)
