"""Load on a real server: gunicorn with two workers, concurrent clients on loopback.

Bounded in requests and time; it starts and stops its own server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 8
DURATION_SECONDS = 5.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(workdir: Path) -> list[tuple[str, float, float, str]]:
    port = _free_port()
    env = {
        **os.environ,
        "PORTAL_SECRET_KEY": "bench",
        "PORTAL_ENCRYPTION_KEY": "bench",
        "PORTAL_DATABASE_URL": f"sqlite:///{workdir / 'load.db'}",
        "PORTAL_INSTANCE_PATH": str(workdir / "load-instance"),
        "PORTAL_RATELIMIT_ENABLED": "0",
        "PORTAL_LOG_LEVEL": "WARNING",
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [bin_dir / "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [
            bin_dir / "gunicorn",
            "-c",
            "python:portal.gunicorn_conf",
            "--access-logfile",
            "/dev/null",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/login"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError as error:
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start") from error
                time.sleep(0.2)

        latencies: list[float] = []
        errors = [0]
        lock = threading.Lock()
        stop_at = time.monotonic() + DURATION_SECONDS

        def client():
            mine = []
            while time.monotonic() < stop_at:
                start = time.perf_counter()
                try:
                    urllib.request.urlopen(url, timeout=10).read()
                    mine.append(time.perf_counter() - start)
                except OSError:
                    with lock:
                        errors[0] += 1
            with lock:
                latencies.extend(mine)

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        children = subprocess.run(
            ["pgrep", "-P", str(server.pid)], capture_output=True, text=True
        ).stdout.split()
        worker_rss = max((_rss_mib(int(pid)) for pid in children), default=0.0)
    finally:
        server.terminate()
        server.wait(timeout=30)

    ordered = sorted(latencies)
    p95 = ordered[int(len(ordered) * 0.95)] if ordered else float("inf")
    return [
        (
            f"gunicorn, 2 workers, {CLIENTS} clients: GET /login",
            len(latencies) / DURATION_SECONDS,
            -200,
            "req/s",
        ),
        ("  … p95 latency", p95 * 1e3, 100, "ms"),
        ("  … failed requests", float(errors[0]), 0, ""),
        ("  … largest worker RSS after the load", worker_rss, 150, "MiB"),
    ]
