"""The busiest pages under load, each against a bare Flask hello on the same server.

Each app runs in turn under gunicorn with 2 workers and the same options, loaded by wrk
(Debian's package; `make bench` installs it) with 20 connections for 5 s. Absolute
figures depend on the machine, so what counts is each page's throughput as a share of
the hello's (measured before and after the pages, in the same run), and its p99
latency at 20 connections: a page that hashes no password answers within 100 ms. The
largest worker's memory is read after each load.

The pages: the sign-in page (GET /login), the Security page of a signed-in employee
with two-step on, some history and other sessions, and the bell's poll (every open
tab asks for it every 30 seconds: the most frequent request of all). They run on
SQLite, and on PostgreSQL too when PORTAL_BENCH_DATABASE_URL names a server (the bench
makes a database of its own there and drops it afterwards). Beside them on SQLite, for
scale and without a target: the least signed-in page the portal's stack can serve
(bench/stack_floor.py).

Run alone with `.venv/bin/python -m bench.pages`; `make bench` runs it after the others.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench import stack_floor

ROOT = Path(__file__).resolve().parent.parent
DURATION_SECONDS = 5
CONNECTIONS = 20
THREADS = 2
WORKERS = 2
P99_TARGET_MS = 100.0
RSS_TARGET_MIB = 150.0
# What a long-standing account looks like: a few unread notices among many read ones,
# a few other signed-in browsers.
READ_NOTICES = 200
UNREAD_NOTICES = 3
OTHER_SESSIONS = 4


PORTAL_APP = "wsgi:app"
HELLO_APP = "bench.hello:app"
FLOOR_APP = "bench.stack_floor:create_app()"


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    signed_in: bool
    expect: str
    # The least share of the hello's throughput; None where none is asked.
    ratio_target: float | None
    htmx: bool = False
    app: str = PORTAL_APP


HELLO = Page("bare Flask hello (ceiling)", "/", False, "hello", None, app=HELLO_APP)
HELLO_AGAIN = Page("bare Flask hello, after the pages", "/", False, "hello", None, app=HELLO_APP)
# For scale, no target: the least signed-in page of the portal's stack (see
# bench/stack_floor.py), beside the Security page.
FLOOR = Page(
    "least signed-in page of the stack", "/page", True, "Signed in as", None, app=FLOOR_APP
)
PAGES = [
    Page("GET /login", "/login", False, 'name="password"', 0.35),
    Page(
        "GET /profile/security, signed in",
        "/profile/security",
        True,
        "Where you are signed in",
        0.30,
    ),
    Page(
        "GET /notifications/bell, signed in",
        "/notifications/bell",
        True,
        f'id="bell-count">{UNREAD_NOTICES}<',
        0.60,
        htmx=True,
    ),
]


@dataclass(frozen=True)
class Figures:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    worker_rss_mib: float


@dataclass(frozen=True)
class Row:
    database: str
    page: Page
    figures: Figures
    ratio: float | None

    @property
    def misses(self) -> list[str]:
        missed = []
        if self.figures.errors:
            missed.append("failed requests")
        target = self.page.ratio_target
        if target is not None and (self.ratio is None or self.ratio < target):
            missed.append("ratio")
        if self.page.app == PORTAL_APP and not self.figures.p99_ms < P99_TARGET_MS:
            missed.append("p99")
        if not self.figures.worker_rss_mib < RSS_TARGET_MIB:
            missed.append("RSS")
        return missed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _workers_rss_mib(server: subprocess.Popen) -> float:
    children = subprocess.run(
        ["pgrep", "-P", str(server.pid)], capture_output=True, text=True
    ).stdout.split()
    return max((_rss_mib(int(pid)) for pid in children), default=0.0)


def _environment(workdir: Path, database_url: str) -> dict[str, str]:
    return {
        **{key: value for key, value in os.environ.items() if not key.startswith("PORTAL_")},
        "PORTAL_SECRET_KEY": "bench",
        "PORTAL_ENCRYPTION_KEY": "bench",
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_INSTANCE_PATH": str(workdir / "pages-instance"),
        "PORTAL_RATELIMIT_ENABLED": "0",
        "PORTAL_LOG_LEVEL": "WARNING",
        "PORTAL_BENCH_FLOOR_DATABASE": f"sqlite:///{workdir / 'floor.db'}",
    }


def _prepare(env: dict[str, str]) -> str:
    """An employee with two-step on, notices, history and a few signed-in browsers;
    returns the cookie of one of its sessions."""
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [bin_dir / "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        from sqlalchemy import func, select, text, update

        from portal import clock, create_app
        from portal.database import db
        from portal.models import Company, Notification
        from portal.origin import Origin
        from portal.services import accounts, audit, notifications, sessions, totp, two_step

        app = create_app()
        with app.app_context():
            db.session.add(Company(id=1, name="Bench Tools"))
            user = accounts.create(name="Emma Bench", email="emma@bench.example", password=None)
            db.session.flush()
            origin = Origin("127.0.0.1", "bench")
            secret = two_step.start_enrolment(user)
            two_step.confirm_enrolment(user, totp.code_at(secret, clock.now()), origin, None)
            two_step.confirm_codes_saved(user)
            # The set-up's own notices count as read: the bell shows UNREAD_NOTICES.
            db.session.execute(update(Notification).values(read_at=clock.now()))
            for number in range(READ_NOTICES + UNREAD_NOTICES):
                notice = notifications.notify(user, notifications.NEW_BROWSER, origin=origin)
                if number < READ_NOTICES:
                    notice.read_at = notice.created_at
            for _ in range(OTHER_SESSIONS):
                audit.record(audit.SIGN_IN, origin=origin, actor=user, detail="password")
                sessions.start(user, "full", origin)
            token, row = sessions.start(user, "full", origin)
            row.second_step_at = row.created_at
            db.session.commit()
            unread = select(func.count()).where(Notification.read_at.is_(None))
            assert db.session.scalar(unread) == UNREAD_NOTICES
        with app.app_context():
            if db.engine.dialect.name == "postgresql":
                # A running server keeps its statistics (autovacuum); a database loaded a
                # moment ago has none yet, and its plans would be guesses.
                with db.engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT"
                ) as connection:
                    connection.execute(text("ANALYZE"))
            db.engine.dispose()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return f"portal_session={token}"


def serve(app_path: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    """gunicorn with WORKERS workers on 127.0.0.1:port, once it answers."""
    bin_dir = Path(sys.executable).parent
    server = subprocess.Popen(
        [
            bin_dir / "gunicorn",
            "--workers",
            str(WORKERS),
            "--bind",
            f"127.0.0.1:{port}",
            "--access-logfile",
            "/dev/null",
            app_path,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
            return server
        except urllib.error.HTTPError:
            return server  # it answers
        except OSError as error:
            if time.monotonic() > deadline or server.poll() is not None:
                server.terminate()
                raise RuntimeError(f"{app_path} did not start") from error
            time.sleep(0.2)


_LATENCY = re.compile(r"^\s*(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_SCALE = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _load(url: str, headers: dict[str, str]) -> tuple[float, float, float, int]:
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{DURATION_SECONDS}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    # A short run first, so that every app is measured warm.
    subprocess.run([*command[:3], "-d1s", *command[4:], url], check=True, capture_output=True)
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    latencies = {
        int(m.group(1)): float(m.group(2)) * _SCALE[m.group(3)] for m in _LATENCY.finditer(output)
    }
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    errors = 0
    for match in re.finditer(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", output):
        if match.group(1):
            errors += int(match.group(1))
        else:
            errors += sum(int(n) for n in re.findall(r"\d+", match.group(2)))
    return rate, latencies.get(50, math.nan), latencies.get(99, math.nan), errors


def measure(page: Page, env: dict[str, str], cookies: dict[str, str]) -> Figures:
    """One page under wrk on a server of its own; raises when it does not answer with
    the page expected (what is measured must be the real answer, not a redirect).
    ``cookies``: the signed-in cookie of each app."""
    headers = {"Cookie": cookies[page.app]} if page.signed_in else {}
    if page.htmx:
        headers["HX-Request"] = "true"
    port = _free_port()
    server = serve(page.app, port, env)
    try:
        url = f"http://127.0.0.1:{port}{page.path}"
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as answer:
            body = answer.read().decode()
            if answer.status != 200 or page.expect not in body:
                raise RuntimeError(f"{page.path} answered {answer.status}: {body[:200]!r}")
        rate, p50, p99, errors = _load(url, headers)
        return Figures(rate, p50, p99, errors, _workers_rss_mib(server))
    finally:
        server.terminate()
        server.wait(timeout=30)


def _rows(database: str, workdir: Path, database_url: str, pages: list[Page]) -> list[Row]:
    """The hello before the pages and again after them: each page's share is of the
    mean of the two, so that a machine that got busier or quieter meanwhile shows as a
    gap between the two hello rows rather than as a page's slowness."""
    env = _environment(workdir, database_url)
    cookies = {PORTAL_APP: _prepare(env)}
    if FLOOR in pages:
        cookies[FLOOR_APP] = stack_floor.prepare(env["PORTAL_BENCH_FLOOR_DATABASE"])
    before = measure(HELLO, env, cookies)
    measured = [(page, measure(page, env, cookies)) for page in pages]
    after = measure(HELLO_AGAIN, env, cookies)
    ceiling = (before.requests_per_second + after.requests_per_second) / 2
    return [
        Row(database, HELLO, before, None),
        *(
            Row(database, page, figures, figures.requests_per_second / ceiling)
            for page, figures in measured
        ),
        Row(database, HELLO_AGAIN, after, None),
    ]


def run(workdir: Path) -> list[Row]:
    """The rows on SQLite, then on PostgreSQL when PORTAL_BENCH_DATABASE_URL is set."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: run `make bench`, which installs it")
    rows = _rows("SQLite", workdir, f"sqlite:///{workdir / 'pages.db'}", [*PAGES, FLOOR])
    server_url = os.environ.get("PORTAL_BENCH_DATABASE_URL", "")
    if server_url:
        from bench.audit_log import _postgres_database

        with _postgres_database(server_url) as url:
            rows += _rows("PostgreSQL", workdir, url, PAGES)
    return rows


def print_table(rows: list[Row]) -> int:
    """Prints the rows as one table; returns how many rows missed a target."""
    print(
        f"gunicorn, {WORKERS} workers, wrk {CONNECTIONS} connections for {DURATION_SECONDS} s; "
        f"targets: ratio to the hello as shown, p99 < {P99_TARGET_MS:g} ms, "
        f"worker RSS < {RSS_TARGET_MIB:g} MiB"
    )
    print(
        f"{'database':<11}{'page':<37}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'ratio':>7}{'target':>8}{'RSS MiB':>9}  result"
    )
    missed = 0
    for row in rows:
        figures = row.figures
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}"
        target = "" if row.page.ratio_target is None else f">={row.page.ratio_target:.2f}"
        misses = row.misses
        missed += bool(misses)
        result = "MISSED " + ", ".join(misses) if misses else "ok"
        print(
            f"{row.database:<11}{row.page.name:<37}{figures.requests_per_second:>8.0f}"
            f"{figures.p50_ms:>8.1f}{figures.p99_ms:>8.1f}{ratio:>7}{target:>8}"
            f"{figures.worker_rss_mib:>9.1f}  {result}"
        )
    return missed


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="portal-pages-bench-"))
    try:
        rows = run(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if print_table(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
