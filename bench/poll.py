"""The bell's poll under load, against a bare Flask hello on the same server settings.

Every open tab asks for /notifications/bell every 30 seconds (5,000 tabs: about 170
requests a second), so the poll must cost little more than Flask itself. Both apps run
in turn under gunicorn with 2 workers and the same options, loaded by wrk (Debian's
package; `make bench` installs it) with the same connections for the same time. The
figure that counts is the ratio of their throughputs: at least 0.60.

Run alone with `.venv/bin/python -m bench.poll`; `make bench` runs it with the others.
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
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DURATION_SECONDS = 5
CONNECTIONS = 16
THREADS = 2
WORKERS = 2
TARGET_RATIO = 0.60
# What a long-standing account looks like: a few unread notices among many read ones.
READ_NOTICES = 200
UNREAD_NOTICES = 3


@dataclass(frozen=True)
class Figures:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(workdir: Path) -> dict[str, str]:
    return {
        **{key: value for key, value in os.environ.items() if not key.startswith("PORTAL_")},
        "PORTAL_SECRET_KEY": "bench",
        "PORTAL_ENCRYPTION_KEY": "bench",
        "PORTAL_DATABASE_URL": f"sqlite:///{workdir / 'poll.db'}",
        "PORTAL_INSTANCE_PATH": str(workdir / "poll-instance"),
        "PORTAL_RATELIMIT_ENABLED": "0",
        "PORTAL_LOG_LEVEL": "WARNING",
    }


def _prepare(workdir: Path, env: dict[str, str]) -> str:
    """An employee with notices and a signed-in session; returns the session cookie."""
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
        from portal import create_app
        from portal.database import db
        from portal.models import Company, Notification
        from portal.origin import Origin
        from portal.services import accounts, notifications, sessions

        app = create_app()
        with app.app_context():
            db.session.add(Company(id=1, name="Bench Tools"))
            user = accounts.create(name="Emma Bench", email="emma@bench.example", password=None)
            db.session.flush()
            origin = Origin("127.0.0.1", "bench")
            for number in range(READ_NOTICES + UNREAD_NOTICES):
                notice = notifications.notify(user, notifications.NEW_BROWSER, origin=origin)
                if number < READ_NOTICES:
                    notice.read_at = notice.created_at
            token, row = sessions.start(user, "full", origin)
            row.second_step_at = row.created_at
            db.session.commit()
            assert db.session.query(Notification).count() == READ_NOTICES + UNREAD_NOTICES
        with app.app_context():
            db.engine.dispose()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return f"portal_session={token}"


def _serve(app_path: str, port: int, env: dict[str, str]) -> subprocess.Popen:
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


def _load(url: str, headers: dict[str, str]) -> Figures:
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{DURATION_SECONDS}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    # A short run first, so that both apps are measured warm.
    subprocess.run([*command[:3], "-d1s", url], check=True, capture_output=True)
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
    return Figures(rate, latencies.get(50, float("nan")), latencies.get(99, float("nan")), errors)


def _measure(
    app_path: str, path: str, env: dict[str, str], headers: dict[str, str], *, expect: str
) -> Figures:
    port = _free_port()
    server = _serve(app_path, port, env)
    try:
        url = f"http://127.0.0.1:{port}{path}"
        # What is measured must be the real answer (htmx's 286 "stop polling" is 2xx too).
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as answer:
            body = answer.read().decode()
            if answer.status != 200 or expect not in body:
                raise RuntimeError(f"{path} answered {answer.status}: {body[:200]!r}")
        return _load(url, headers)
    finally:
        server.terminate()
        server.wait(timeout=30)


def run(workdir: Path) -> list[tuple[str, float, float, str]]:
    """The figures as bench/__main__.py prints them: (name, value, target, unit)."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: run `make bench`, which installs it")
    env = _environment(workdir)
    cookie = _prepare(workdir, env)
    hello = _measure("bench.hello:app", "/", env, {}, expect="hello")
    poll = _measure(
        "wsgi:app",
        "/notifications/bell",
        env,
        {"Cookie": cookie, "HX-Request": "true"},
        expect=f'id="bell-count">{UNREAD_NOTICES}<',
    )
    setting = f"gunicorn, {WORKERS} workers, wrk {CONNECTIONS} connections"
    # Figures without a target of their own carry an infinite bound (always met).
    return [
        (f"{setting}: bare Flask hello", hello.requests_per_second, math.inf, "req/s"),
        ("  … p50 latency", hello.p50_ms, math.inf, "ms"),
        ("  … p99 latency", hello.p99_ms, math.inf, "ms"),
        (f"{setting}: GET /notifications/bell", poll.requests_per_second, math.inf, "req/s"),
        ("  … p50 latency", poll.p50_ms, math.inf, "ms"),
        ("  … p99 latency", poll.p99_ms, math.inf, "ms"),
        ("  … failed requests (both)", float(hello.errors + poll.errors), 0, ""),
        (
            "bell poll throughput, % of the Flask hello's",
            100 * poll.requests_per_second / hello.requests_per_second,
            -100 * TARGET_RATIO,
            "%",
        ),
    ]


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="portal-poll-bench-"))
    try:
        results = run(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    missed = 0
    for name, value, target, unit in results:
        ok = value >= -target if target < 0 else value <= target
        missed += not ok
        bound = (
            "" if target == math.inf else (f">= {-target:g}" if target < 0 else f"<= {target:g}")
        )
        print(f"{name:<58} {value:>9.2f} {unit:<5} {bound:<8} {'ok' if ok else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
