"""The portal as a real server process for the browser tests: gunicorn on a free port.

Each server gets its own instance folder and SQLite file, upgraded with Alembic first,
exactly as `make run` does it. The setup link is read from the server's standard output.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from portal.config import PROJECT_ROOT

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
SETUP_LINK = re.compile(r"^(http://\S+/setup\?token=\S+)$")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def portal_environment(folder: Path, host: str, port: int) -> dict[str, str]:
    """The process environment: no PORTAL_* setting leaks in from the developer's shell."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PORTAL_")}
    env.update(
        HOST=host,
        PORT=str(port),
        WEB_CONCURRENCY="2",
        PYTHONUNBUFFERED="1",
        PORTAL_INSTANCE_PATH=str(folder / "instance"),
        PORTAL_SECRET_KEY="browser-test secret key " + folder.name,
        PORTAL_ENCRYPTION_KEY="browser-test encryption key " + folder.name,
        PORTAL_DATABASE_URL=f"sqlite:///{folder / 'portal.db'}",
        # Cheap argon2: the production parameters are covered by the request tests.
        PORTAL_PASSWORD_TIME_COST="1",
        PORTAL_PASSWORD_MEMORY_COST="256",
        PORTAL_LOG_LEVEL="WARNING",
    )
    return env


@dataclass
class PortalServer:
    folder: Path
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    setup_link: str | None = None
    output: list[str] = field(default_factory=list)
    _link_seen: threading.Event = field(default_factory=threading.Event)
    _reader: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return portal_environment(self.folder, self.host, self.port)

    def url(self, path: str) -> str:
        return self.base_url + path

    def flask(self, *args: str, stdin: str | None = None) -> str:
        """`flask --app wsgi ...` against this server's database and instance folder."""
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=PROJECT_ROOT,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"flask {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
            )
        return result.stdout

    def create_user(self, name: str, email: str, password: str, *, admin: bool = False) -> None:
        args = ["create-user", "--name", name, "--email", email, "--password-stdin"]
        if admin:
            args.append("--admin")
        self.flask(*args, stdin=password + "\n")

    def start(self) -> PortalServer:
        (self.folder / "instance").mkdir(parents=True, exist_ok=True)
        self.flask("db", "upgrade")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:portal.gunicorn_conf", "wsgi:app"],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read_output, daemon=True)
        self._reader.start()
        self._wait_until_ready()
        return self

    def _read_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            line = line.rstrip("\n")
            self.output.append(line)
            match = SETUP_LINK.match(line.strip())
            if match and self.setup_link is None:
                self.setup_link = match.group(1)
                self._link_seen.set()

    def _wait_until_ready(self) -> None:
        """Poll until a page answers, within a bounded time; fail with the server's log."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("The portal exited while starting:\n" + self.log_tail())
            try:
                with urllib.request.urlopen(self.url("/login"), timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"The portal did not answer within {START_TIMEOUT:.0f} s:\n" + self.log_tail()
        )

    def wait_for_setup_link(self, timeout: float = 10.0) -> str:
        if not self._link_seen.wait(timeout):
            raise AssertionError("The server printed no setup link:\n" + self.log_tail())
        return self.setup_link

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.output[-lines:])

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        if self._reader is not None:
            self._reader.join(STOP_TIMEOUT)
        if self.process.stdout is not None:
            self.process.stdout.close()
