"""`flask --app wsgi doctor`: each check's good and bad case, on real parts, and the exit status."""

from __future__ import annotations

import secrets
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from alembic import command

from portal import create_app
from portal.cli import alembic_config
from portal.database import db
from portal.services import doctor
from tests.conftest import FAST_HASHING


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def good_settings(tmp_path: Path) -> dict:
    """A deployment with nothing to fix: own keys, behind one TLS proxy, a migrated SQLite."""
    return {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ENCRYPTION_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'instance' / 'portal.db'}",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "HTTPS": True,
        "TRUSTED_PROXIES": 1,
        "RATELIMIT_STORAGE_URL": "memory://",
        "SMTP_HOST": "",
        "LOG_LEVEL": "WARNING",
        **FAST_HASHING,
    }


@pytest.fixture
def deployment(tmp_path) -> Iterator:
    """Makes an app from the good settings with some changed; the database is migrated."""
    (tmp_path / "instance").mkdir()
    made = []

    def make(**changes):
        app = create_app({**good_settings(tmp_path), **changes})
        made.append(app)
        return app

    migrated = make()
    result = migrated.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    yield make
    for app in made:
        with app.app_context():
            db.engine.dispose()


def finding(app, check, *args) -> doctor.Finding:
    with app.app_context():
        return check(*args)


# keys


def test_own_long_keys_pass(deployment):
    result = finding(deployment(), doctor.check_keys)
    assert result.ok, result.message


def test_the_examples_keys_are_refused(deployment):
    examples = sorted(doctor.example_keys())
    # deploy/config.py.example shows placeholder keys; a copy of them is found.
    assert len(examples) >= 2
    result = finding(
        deployment(SECRET_KEY=examples[0], ENCRYPTION_KEY=examples[1]), doctor.check_keys
    )
    assert not result.ok
    assert "SECRET_KEY is the example value" in result.message
    assert "ENCRYPTION_KEY is the example value" in result.message
    assert "instance/config.py" in result.message


def test_short_and_identical_keys_are_refused(deployment):
    result = finding(deployment(SECRET_KEY="secret", ENCRYPTION_KEY="secret"), doctor.check_keys)
    assert not result.ok
    assert "SECRET_KEY is only 6 characters long" in result.message
    assert "the same" in result.message


def test_an_instance_config_only_its_owner_reads_passes(deployment, tmp_path):
    config = tmp_path / "instance" / "config.py"
    config.write_text("SMTP_HOST = ''\n")
    config.chmod(0o600)
    assert finding(deployment(), doctor.check_key_file).ok


def test_an_instance_config_others_may_read_is_a_problem(deployment, tmp_path):
    config = tmp_path / "instance" / "config.py"
    config.write_text("SMTP_HOST = ''\n")
    config.chmod(0o644)
    result = finding(deployment(), doctor.check_key_file)
    assert not result.ok
    assert f"chmod 600 {config}" in result.message


# HTTPS and proxies


def test_https_behind_one_proxy_passes(deployment):
    assert finding(deployment(), doctor.check_https).ok


@pytest.mark.parametrize(
    ("https", "proxies", "fix"),
    [
        (False, 1, "set PORTAL_HTTPS=1"),
        (True, 0, "PORTAL_TRUSTED_PROXIES=1"),
        (False, 0, "put nginx with TLS in front"),
    ],
)
def test_https_flag_that_does_not_match_the_proxy_is_a_problem(deployment, https, proxies, fix):
    result = finding(deployment(HTTPS=https, TRUSTED_PROXIES=proxies), doctor.check_https)
    assert not result.ok
    assert fix in result.message


@pytest.mark.parametrize("proxies", [0, 1])
def test_no_proxy_or_one_proxy_is_consistent_and_explained(deployment, proxies):
    result = finding(deployment(TRUSTED_PROXIES=proxies), doctor.check_proxies)
    assert result.ok
    assert "X-Forwarded-For" in result.message


def test_more_proxies_than_the_nginx_site_forwards_is_a_problem(deployment):
    result = finding(deployment(TRUSTED_PROXIES=2), doctor.check_proxies)
    assert not result.ok
    assert "one shared rate limit" in result.message
    assert "PORTAL_TRUSTED_PROXIES=1" in result.message


# database


def test_a_migrated_database_passes(deployment):
    result = finding(deployment(), doctor.check_database)
    assert result.ok, result.message


def test_an_unmigrated_sqlite_database_is_a_problem(deployment, tmp_path):
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    result = finding(deployment(DATABASE_URL=f"sqlite:///{empty}"), doctor.check_database)
    assert not result.ok
    assert "(none: empty)" in result.message
    assert "flask --app wsgi db upgrade" in result.message


def test_a_database_one_migration_behind_is_a_problem(deployment):
    app = deployment()
    with app.app_context():
        current, head = doctor._migration_state(app.config["DATABASE_URL"])
    assert current == head
    # `db upgrade` only goes up; step back with Alembic itself.
    command.downgrade(alembic_config(app.config["DATABASE_URL"]), "-1")
    result = finding(app, doctor.check_database)
    assert not result.ok
    assert f"the newest is {head}" in result.message


def test_a_missing_sqlite_file_is_a_problem_and_not_created(deployment, tmp_path):
    missing = tmp_path / "nowhere" / "portal.db"
    result = finding(deployment(DATABASE_URL=f"sqlite:///{missing}"), doctor.check_database)
    assert not result.ok
    assert "There is no SQLite database" in result.message
    assert not missing.exists()


def test_an_unreachable_database_server_is_a_problem(deployment):
    url = f"postgresql+psycopg://portal:hunter2@127.0.0.1:{closed_port()}/portal"
    result = finding(deployment(DATABASE_URL=url), doctor.check_database)
    assert not result.ok
    assert "Cannot reach the database" in result.message
    assert "hunter2" not in result.message


# SQLite's disk


def mounts_file(tmp_path: Path, fs_type: str) -> Path:
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/sda1 / ext4 rw,relatime 0 0\n"
        f"server:/export {tmp_path / 'instance'} {fs_type} rw,relatime 0 0\n"
    )
    return mounts


def test_sqlite_on_a_local_disk_passes(deployment, tmp_path):
    result = finding(deployment(), doctor.check_sqlite_disk, mounts_file(tmp_path, "xfs"))
    assert result.ok
    assert "xfs" in result.message


@pytest.mark.parametrize("fs_type", ["nfs4", "cifs"])
def test_sqlite_on_a_network_file_system_is_a_problem(deployment, tmp_path, fs_type):
    result = finding(deployment(), doctor.check_sqlite_disk, mounts_file(tmp_path, fs_type))
    assert not result.ok
    assert f"a {fs_type} network file system" in result.message


def test_sqlite_disk_is_read_from_this_machines_mounts(deployment):
    assert finding(deployment(), doctor.check_sqlite_disk).ok


# rate-limit storage


@pytest.fixture
def redis_url(tmp_path) -> Iterator[str]:
    port = closed_port()
    server = subprocess.Popen(
        [
            "redis-server",
            *("--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(tmp_path)),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_running_redis_passes(deployment, redis_url):
    result = finding(deployment(RATELIMIT_STORAGE_URL=redis_url), doctor.check_rate_limit_storage)
    assert result.ok, result.message


def test_a_redis_on_a_closed_port_is_a_problem(deployment):
    url = f"redis://:hunter2@127.0.0.1:{closed_port()}/0"
    result = finding(deployment(RATELIMIT_STORAGE_URL=url), doctor.check_rate_limit_storage)
    assert not result.ok
    assert "Cannot reach the rate-limit storage" in result.message
    assert "hunter2" not in result.message


def test_memory_storage_passes_and_says_it_is_per_worker(deployment):
    result = finding(deployment(), doctor.check_rate_limit_storage)
    assert result.ok
    assert "each worker" in result.message


# mail


class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


@pytest.fixture
def smtp_port() -> Iterator[int]:
    port = closed_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def test_a_reachable_mail_server_passes(deployment, smtp_port):
    app = deployment(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_port, SMTP_STARTTLS=False)
    result = finding(app, doctor.check_mail)
    assert result.ok, result.message


def test_a_mail_server_without_starttls_is_a_problem_when_it_is_asked_for(deployment, smtp_port):
    app = deployment(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_port, SMTP_STARTTLS=True)
    result = finding(app, doctor.check_mail)
    assert not result.ok
    assert "does not offer STARTTLS" in result.message


def test_a_mail_server_on_a_closed_port_is_a_problem(deployment):
    app = deployment(SMTP_HOST="127.0.0.1", SMTP_PORT=closed_port())
    result = finding(app, doctor.check_mail)
    assert not result.ok
    assert "Cannot reach the mail server" in result.message


def test_no_mail_server_passes(deployment):
    assert finding(deployment(), doctor.check_mail).ok


# the command


def test_doctor_exits_zero_when_nothing_is_wrong(deployment):
    app = deployment()
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    assert result.output.count("ok ") == len(doctor.CHECKS)
    assert "PROBLEM" not in result.output
    assert "No problems found." in result.output


def test_doctor_exits_non_zero_and_says_what_to_fix(deployment):
    app = deployment(
        HTTPS=False, SMTP_HOST="127.0.0.1", SMTP_PORT=closed_port(), SMTP_STARTTLS=False
    )
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 1, result.output
    assert "PROBLEM https:" in result.output
    assert "PROBLEM mail:" in result.output
    assert "ok      database:" in result.output
    assert "2 problems to fix." in result.output
