"""Speed and memory figures of the portal's hot paths, checked against its targets.

Run with `make bench` (or `.venv/bin/python -m bench`). Prints one line per figure, then
the table of the pages under load (bench/pages.py), and exits non-zero when a target is
missed. Figures come from the real code on a temporary
SQLite database, in this process, with production argon2 parameters for sign-in. The
audit log's figures come from SQLite and, when PORTAL_BENCH_DATABASE_URL names a
PostgreSQL server (postgresql+psycopg://user@host:port/database), from a database the
bench makes there for the run and drops after it.
"""

from __future__ import annotations

import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import audit_log, history, pages, sign_in
from portal import clock, create_app
from portal.database import Base, db
from portal.models import Company
from portal.origin import Origin
from portal.services import accounts, recovery_codes, totp, two_step

ORIGIN = Origin("127.0.0.1", "bench")


def _time(function, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return samples


def _p(samples: list[float], percentile: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * percentile))]


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    app = create_app(
        {
            "SECRET_KEY": "bench",
            "ENCRYPTION_KEY": "bench",
            "DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
            "INSTANCE_PATH": str(workdir),
            "RATELIMIT_ENABLED": False,
            "WTF_CSRF_ENABLED": False,
            "LOG_LEVEL": "WARNING",
        }
    )
    results: list[tuple[str, float, float, str]] = []  # name, value, target, unit

    with app.app_context():
        Base.metadata.create_all(db.engine)
        db.session.add(Company(id=1, name="Bench Ltd"))
        user = accounts.create(
            name="Bench User", email="bench@example.com", password="bench password 1"
        )
        db.session.commit()
        secret = two_step.start_enrolment(user)
        two_step.confirm_enrolment(user, totp.code_at(secret, clock.now()), ORIGIN, None)
        two_step.confirm_codes_saved(user)
        keyring = app.extensions["keyring"]

        def check_code():
            plain = keyring.decrypt_secret(user.totp_secret, user_id=user.id)
            totp.check(plain, "000000", clock.now())

        samples = _time(check_code, 2000)
        results.append(
            ("TOTP code check incl. decryption, p99", _p(samples, 0.99) * 1e6, 1000, "µs")
        )

        samples = _time(lambda: keyring.hash_recovery_code("abcde23456", user_id=user.id), 2000)
        results.append(("recovery code hash, p99", _p(samples, 0.99) * 1e6, 100, "µs"))

        def redeem_and_undo():
            recovery_codes.redeem(user, "abcde-23456", ORIGIN)
            db.session.rollback()

        samples = _time(redeem_and_undo, 200)
        results.append(
            (
                "recovery code redeem (one UPDATE), median",
                statistics.median(samples) * 1e3,
                10,
                "ms",
            )
        )

        samples = _time(lambda: accounts.verify_password(user, "bench password 1"), 10)
        results.append(
            ("argon2id verify (m=19 MiB, t=2), median", statistics.median(samples) * 1e3, 250, "ms")
        )

    client = app.test_client()
    samples = _time(lambda: client.get("/login"), 300)
    results.append(("GET /login, median", statistics.median(samples) * 1e3, 15, "ms"))

    client.post("/login", data={"email": "bench@example.com", "password": "bench password 1"})
    samples = _time(lambda: client.get("/login/code"), 200)
    results.append(
        ("GET /login/code (pending sign-in), median", statistics.median(samples) * 1e3, 15, "ms")
    )

    # The enrolment used the current step; the next one is still within the drift window.
    next_step = totp.step_at(clock.now()) + 1
    client.post("/login/code", data={"code": totp.code_at_step(secret, next_step)})
    samples = _time(lambda: client.get("/profile/security"), 200)
    results.append(
        ("GET /profile/security (signed in), median", statistics.median(samples) * 1e3, 30, "ms")
    )

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results.append(("peak memory of this process", peak_mib, 200, "MiB"))

    results.extend(audit_log.run(workdir))
    results.extend(sign_in.run(workdir))
    results.extend(history.run(workdir))
    rows = pages.run(workdir)

    missed = 0
    print(f"{'figure':<74} {'value':>10}   target")
    for name, value, target, unit in results:
        # A negative target means "at least": throughput, where higher is better.
        ok = value >= -target if target < 0 else value <= target
        bound = f">= {-target:g}" if target < 0 else f"<= {target:g}"
        if target == float("inf"):
            bound = "(no target)"
        shown = abs(value)
        missed += not ok
        # Ratios near their bound need two decimals: "1.2 <= 1.2 MISSED" would read as a bug.
        places = 2 if unit == "×" else 1
        print(
            f"{name:<74} {shown:>8.{places}f} {unit:<4} {bound} {unit}  {'ok' if ok else 'MISSED'}"
        )
    print()
    missed += pages.print_table(rows)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
