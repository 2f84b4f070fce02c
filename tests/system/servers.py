"""Real processes for the system tests: gunicorn serving the portal on a database of its
own, a throwaway PostgreSQL cluster, a throwaway Redis, and browsers made of urllib.

The portal runs as `make run` runs it (tests/browser/server.py's way), with settings
given through PORTAL_* variables: the database, the rate-limit storage, the workers.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from glob import glob
from http.cookiejar import CookieJar
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from portal import create_app
from portal.database import db
from portal.models import Company, User
from portal.origin import Origin
from portal.services import accounts, totp, two_step
from tests.browser.server import PortalServer, free_port

PASSWORD = "correct horse battery"
SECRET_KEY = "system-test secret key"
ENCRYPTION_KEY = "system-test encryption key"
POSTGRES_URL = os.environ.get("PORTAL_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "")
# Cheap argon2, as the browser tests' server has it: sign-ins cost requests, not hashing.
FAST_HASHING = {"PASSWORD_TIME_COST": 1, "PASSWORD_MEMORY_COST": 256, "PASSWORD_PARALLELISM": 1}

_CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def on_postgres() -> bool:
    return POSTGRES_URL.startswith("postgresql")


@dataclass
class Server(PortalServer):
    """PortalServer with its database and settings chosen by the test."""

    database_url: str = ""
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = super().env
        env.update(
            PORTAL_SECRET_KEY=SECRET_KEY,
            PORTAL_ENCRYPTION_KEY=ENCRYPTION_KEY,
            PORTAL_DATABASE_URL=self.database_url or f"sqlite:///{self.folder / 'portal.db'}",
        )
        env.update(self.settings)
        return env

    def log(self) -> str:
        return "\n".join(self.output)


def portal_app(database_url: str):
    """The portal's app in this process, on the servers' database and keys: for setting
    up accounts and for reading what the database holds."""
    return create_app(
        {
            "SECRET_KEY": SECRET_KEY,
            "ENCRYPTION_KEY": ENCRYPTION_KEY,
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": tempfile.gettempdir(),
            "LOG_LEVEL": "WARNING",
            **FAST_HASHING,
        }
    )


@contextlib.contextmanager
def postgres_database(server_url: str = POSTGRES_URL) -> Iterator[str]:
    """A fresh, empty database on the PostgreSQL server of ``server_url``, dropped after."""
    url = make_url(server_url)
    name = f"portal_system_{os.getpid()}_{free_port()}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Account:
    email: str
    secret: str
    recovery_codes: list[str]
    last_step: int = -1  # the last time step whose code this account has used


def make_accounts(database_url: str, count: int, *, prefix: str = "person") -> list[Account]:
    """The company and ``count`` employees with two-step authentication on, made through
    the services as an enrolment makes them; each may use the current code at once."""
    app = portal_app(database_url)
    made = []
    origin = Origin("127.0.0.1", "system tests")
    with app.app_context():
        if db.session.get(Company, 1) is None:
            db.session.add(Company(id=1, name="Northwind Tools"))
            db.session.commit()
        for index in range(count):
            user = accounts.create(
                name=f"Person {index}", email=f"{prefix}{index}@example.com", password=PASSWORD
            )
            db.session.commit()
            secret = two_step.start_enrolment(user)
            outcome = two_step.confirm_enrolment(user, totp.code_at(secret, _now()), origin, None)
            assert outcome.ok, outcome.message
            two_step.confirm_codes_saved(user)
            made.append(Account(user.email, secret, outcome.codes))
        # The enrolment used the current step; the tests start with every code unused.
        db.session.query(User).update({User.totp_last_step: None})
        db.session.commit()
        db.engine.dispose()
    return made


def _now():
    from portal import clock

    return clock.now()


def current_step() -> int:
    return int(time.time()) // totp.PERIOD


# --- browsers --------------------------------------------------------------------------


class Reply:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: str, url: str):
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url


class Browser:
    """One browser: its own cookie jar and, behind a trusted proxy, its own address.
    Redirects are followed (as a browser does after a form post); 4xx and 5xx answers
    come back as replies, not exceptions."""

    def __init__(self, base_url: str, *, address: str | None = None, timeout: float = 60):
        self.base_url = base_url
        self.jar = CookieJar()
        self.address = address
        self.timeout = timeout
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def request(
        self,
        path: str,
        form: dict[str, str] | None = None,
        *,
        htmx: bool = False,
        base_url: str | None = None,
    ) -> Reply:
        url = (base_url or self.base_url) + path
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(url, data=data)
        if self.address:
            request.add_header("X-Forwarded-For", self.address)
        if htmx:
            request.add_header("HX-Request", "true")
            request.add_header("HX-Current-URL", url)
        try:
            response = self.opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as error:
            response = error  # a 4xx or 5xx answer: a reply like any other
        with response:
            return Reply(
                response.status,
                response.headers,
                response.read().decode("utf-8", "replace"),
                response.url,
            )

    def get(self, path: str, **kwargs) -> Reply:
        return self.request(path, **kwargs)

    def post(self, path: str, form: dict[str, str], *, page: Reply | None = None, **kwargs):
        """A form post with the CSRF token of ``page`` (or of the page at ``path``)."""
        base_url = kwargs.get("base_url")
        page = page or self.get(path, base_url=base_url)
        match = _CSRF_INPUT.search(page.body) or _CSRF_META.search(page.body)
        assert match, f"no CSRF token on {page.url} ({page.status})"
        return self.request(path, {"csrf_token": match.group(1), **form}, **kwargs)

    def password_step(self, email: str, password: str = PASSWORD, **kwargs) -> Reply:
        return self.post("/login", {"email": email, "password": password}, **kwargs)

    def code_step(self, code: str, **kwargs) -> Reply:
        return self.post("/login/code", {"code": code}, **kwargs)


def at_once(calls: list) -> list:
    """Runs each call in a thread of its own, all released together; returns the results
    (an exception in a call fails the test)."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    if errors:
        raise errors[0]
    return results


# --- throwaway PostgreSQL and Redis ----------------------------------------------------


def postgres_binaries() -> Path | None:
    found = sorted(glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def _as_postgres(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)


@dataclass
class Cluster:
    """A PostgreSQL cluster of its own (initdb) on a free port, owned by the postgres user
    (initdb refuses root), that a test may stop and start again."""

    folder: Path
    port: int = field(default_factory=free_port)

    @property
    def bin(self) -> Path:
        found = postgres_binaries()
        assert found is not None
        return found

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/portal"

    def init(self) -> Cluster:
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        _as_postgres(
            [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"]
        )
        self.start()
        _as_postgres(
            [str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "portal"]
        )
        return self

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def start(self) -> None:
        _as_postgres(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.folder / "server.log"),
                "-o",
                f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off",
                "-w",
                "start",
            ],
            timeout=60,
        )

    def stop(self) -> None:
        _as_postgres(
            [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"],
            timeout=60,
        )

    def destroy(self) -> None:
        """Stops the cluster whatever state it is in (an immediate stop if a clean one
        fails), so that no server outlives the test."""
        for mode in ("fast", "immediate"):
            try:
                _as_postgres(
                    [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"],
                    timeout=60,
                )
                return
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                if not (self.data / "postmaster.pid").exists():
                    return


@dataclass
class Redis:
    """A redis-server of its own on a free port, that a test may kill."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
