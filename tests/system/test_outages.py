"""The database or Redis goes away under a running portal: people get a clear answer
(503 with Retry-After while the database is away; sign-in limits kept in memory while
Redis is), never a 500, and the portal comes back by itself."""

from __future__ import annotations

import contextlib
import re
import shutil
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy.exc import DBAPIError

from portal import create_app
from portal.errors import database_unreachable
from portal.services import totp
from tests.support import HTMX_HEADERS, csrf_token, page_text
from tests.system.servers import (
    Browser,
    Cluster,
    Redis,
    Server,
    current_step,
    make_accounts,
    postgres_binaries,
)

_STATUS_IN_ACCESS_LOG = re.compile(r'" (\d{3}) ')
DATABASE_DOWN = "The portal cannot reach its database just now"

pytestmark = pytest.mark.system


def statuses_in_log(server: Server) -> list[int]:
    return [
        int(match.group(1))
        for line in server.output
        if (match := _STATUS_IN_ACCESS_LOG.search(line)) is not None
    ]


def assert_database_down_page(reply) -> None:
    assert reply.status == 503, (reply.status, reply.body[:300])
    assert reply.headers["Retry-After"] == "10"
    assert DATABASE_DOWN in reply.body
    assert "Traceback" not in reply.body and "psycopg" not in reply.body


# --- the database --------------------------------------------------------------------


def _wrapped(original: Exception) -> DBAPIError:
    """The error as SQLAlchemy hands it to the portal, wrapping the driver's."""
    driver_error = sqlite3.Error if isinstance(original, sqlite3.Error) else psycopg.Error
    return DBAPIError.instance("SELECT 1", {}, original, driver_error)


@pytest.mark.parametrize(
    ("error", "unreachable"),
    [
        # What psycopg raises when the server refuses the connection: no SQLSTATE.
        (_wrapped(psycopg.OperationalError("connection failed: Connection refused")), True),
        (_wrapped(psycopg.errors.AdminShutdown("terminating connection")), True),
        (_wrapped(psycopg.errors.CannotConnectNow("the database system is starting up")), True),
        (_wrapped(psycopg.errors.UniqueViolation("duplicate key")), False),
        (_wrapped(psycopg.errors.UndefinedTable('relation "users" does not exist')), False),
        (_wrapped(sqlite3.OperationalError("unable to open database file")), True),
        (_wrapped(sqlite3.OperationalError("no such table: users")), False),
        (_wrapped(sqlite3.IntegrityError("UNIQUE constraint failed")), False),
    ],
    ids=[
        "refused",
        "admin-shutdown",
        "starting-up",
        "unique",
        "no-table",
        "sqlite-cannot-open",
        "sqlite-no-table",
        "sqlite-unique",
    ],
)
def test_only_a_database_out_of_reach_is_a_503(error, unreachable):
    """A query's own mistake stays a 500 (and is logged with its trace): only the
    database being away is something to wait out."""
    assert database_unreachable(error) is unreachable


def test_an_sqlite_file_that_cannot_be_opened_is_a_503(tmp_path):
    missing = tmp_path / "no such folder" / "portal.db"
    app = create_app(
        {
            "SECRET_KEY": "k",
            "ENCRYPTION_KEY": "k",
            "DATABASE_URL": f"sqlite:///{missing}",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "LOG_LEVEL": "ERROR",
        }
    )
    client = app.test_client()

    page = client.get("/")
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "10"
    text = page_text(page)
    assert "<html" in text and DATABASE_DOWN in text and "Traceback" not in text
    assert "sqlite" not in text.lower()

    # A sign-in attempt from the sign-in page (which needs no database to draw).
    token = csrf_token(client, "/login")
    attempt = client.post(
        "/login", data={"csrf_token": token, "email": "a@example.com", "password": "x" * 12}
    )
    assert attempt.status_code == 503

    fragment = client.get("/", headers=HTMX_HEADERS)
    assert fragment.status_code == 503
    assert fragment.headers["HX-Retarget"] == "#alerts"
    assert fragment.headers["Retry-After"] == "10"
    assert "<html" not in page_text(fragment) and DATABASE_DOWN in page_text(fragment)


@pytest.fixture
def cluster():
    if postgres_binaries() is None:
        pytest.skip("needs PostgreSQL's server programs (initdb, pg_ctl)")
    # Under /tmp itself: the postgres user must reach the folder, and pytest's own
    # temporary folders are private to the user running the tests.
    folder = Path(tempfile.mkdtemp(prefix="portal-cluster-"))
    cluster = Cluster(folder)
    try:
        yield cluster.init()
    finally:
        cluster.destroy()
        shutil.rmtree(folder, ignore_errors=True)


class Traffic(threading.Thread):
    """A signed-in person reloading the Security page, and a stranger opening the portal,
    over and over; every answer is kept."""

    def __init__(self, signed_in: Browser, stranger: Browser):
        super().__init__(daemon=True)
        self.signed_in = signed_in
        self.stranger = stranger
        self.stop = threading.Event()
        self.replies: list = []
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            for browser, path in ((self.signed_in, "/profile/security"), (self.stranger, "/")):
                try:
                    self.replies.append(browser.get(path))
                except Exception as error:
                    self.errors.append(f"{type(error).__name__}: {error}")
            time.sleep(0.05)


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def test_a_postgresql_restart_is_a_503_and_the_portal_comes_back(cluster, tmp_path):
    server = Server(tmp_path, database_url=cluster.url, settings={"WEB_CONCURRENCY": "2"})
    server.start()
    try:
        account = make_accounts(cluster.url, 1, prefix="restart")[0]
        person = Browser(server.base_url)
        code_page = person.password_step(account.email)
        person.code_step(totp.code_at_step(account.secret, current_step()), page=code_page)
        assert person.get("/profile/security").status == 200

        traffic = [Traffic(person, Browser(server.base_url)) for _ in range(3)]
        for thread in traffic:
            thread.start()
        time.sleep(1)

        cluster.stop()
        replies_at_stop = sum(len(thread.replies) for thread in traffic)
        _wait_for(
            lambda: any(r.status == 503 for t in traffic for r in t.replies[replies_at_stop:]),
            15,
            "a 503 while the database is down",
        )
        # While it is down: the page, the htmx answer, and a sign-in attempt.
        assert_database_down_page(person.get("/profile/security"))
        fragment = person.get("/profile/security/sessions", htmx=True)
        assert fragment.status == 503 and fragment.headers["Retry-After"] == "10"
        assert "<html" not in fragment.body and DATABASE_DOWN in fragment.body
        stranger = Browser(server.base_url)
        assert_database_down_page(stranger.password_step(account.email))

        cluster.start()
        # No restart of the portal: the same workers reconnect by themselves.
        _wait_for(
            lambda: person.get("/profile/security").status == 200, 20, "a 200 after the restart"
        )
        time.sleep(1)
        for thread in traffic:
            thread.stop.set()
        for thread in traffic:
            thread.join(30)
    finally:
        server.stop()

    replies = [reply for thread in traffic for reply in thread.replies]
    log = server.log()
    assert [error for thread in traffic for error in thread.errors] == [], log
    assert {reply.status for reply in replies} == {200, 503}, log
    for reply in replies:
        if reply.status == 503:
            assert_database_down_page(reply)
    # The last answers, after the restart, are pages again: still signed in, too.
    assert [thread.replies[-1].status for thread in traffic] == [200] * len(traffic), log
    assert "/profile/security" in traffic[0].replies[-2].url
    assert 500 not in statuses_in_log(server), log
    assert "Traceback" not in log, log


# --- Redis -----------------------------------------------------------------------------

FALLBACK_WARNING = "Rate limit storage unreachable - falling back to in-memory storage"


@pytest.fixture
def redis_server():
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server")
    server = Redis().start()
    yield server
    server.kill()


def test_sign_in_stays_limited_in_memory_while_redis_is_down(
    redis_server, server_database, tmp_path
):
    server = Server(
        tmp_path,
        database_url=server_database,
        # One worker: its memory holds every count once Redis is gone.
        settings={"WEB_CONCURRENCY": "1", "PORTAL_RATELIMIT_STORAGE_URL": redis_server.url},
    )
    server.start()
    try:
        target, other = make_accounts(server_database, 2, prefix="limits")
        stranger = Browser(server.base_url)
        assert stranger.password_step(target.email, "wrong password").status == 422
        with contextlib.closing(redis.Redis.from_url(redis_server.url)) as client:
            assert client.keys("*"), "the limits are not counted in Redis"

        redis_server.kill()
        answers = [stranger.password_step(target.email, "wrong password").status for _ in range(12)]
        # The account's ten failures in fifteen minutes, counted afresh in memory.
        assert answers == [422] * 10 + [429] * 2
        # Another account signs in as usual.
        assert Browser(server.base_url).password_step(other.email).url.endswith("/login/code")
    finally:
        server.stop()

    assert not any(status >= 500 for status in statuses_in_log(server)), server.log()
    assert server.log().count(FALLBACK_WARNING) == 1, server.log()
    assert "Traceback" not in server.log()
