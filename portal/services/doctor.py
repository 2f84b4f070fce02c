"""Checks of a deployment (`flask --app wsgi doctor`): each says ok, or the problem and its fix."""

from __future__ import annotations

import logging
import re
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from portal.config import PROJECT_ROOT
from portal.database import alembic_config

# A network check gives up after this many seconds.
TIMEOUT = 3
# Documents and files whose example values must never be a deployment's keys.
EXAMPLE_SOURCES = ("README.md", "CONTRIBUTING.md", "deploy")
KEY_NAMES = ("SECRET_KEY", "ENCRYPTION_KEY")
SHORTEST_KEY = 32
# File systems on which SQLite's locking cannot be trusted.
NETWORK_FILE_SYSTEMS = {
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "ncpfs",
    "9p",
    "afs",
    "ceph",
    "glusterfs",
    "fuse.sshfs",
    "fuse.glusterfs",
    "fuse.s3fs",
}
_KEY_VALUE = re.compile(
    r"(?:PORTAL_)?(SECRET_KEY|ENCRYPTION_KEY)\s*[=:]\s*[\"']?([^\"'\s`]+)", re.IGNORECASE
)


def _sentence(error: BaseException) -> str:
    """An exception as part of a sentence: its first line, without a closing full stop."""
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__).rstrip(".")


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    message: str


def example_keys(root: Path = PROJECT_ROOT) -> set[str]:
    """Every value given to a key in the README, CONTRIBUTING or deploy/ files."""
    found: set[str] = set()
    for source in EXAMPLE_SOURCES:
        path = root / source
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if not file.is_file():
                continue
            text = file.read_text(encoding="utf-8", errors="replace")
            found.update(match.group(2) for match in _KEY_VALUE.finditer(text))
    found.discard("...")
    return found


def check_keys() -> Finding:
    config = current_app.config
    examples = example_keys()
    problems = []
    for name in KEY_NAMES:
        value = str(config.get(name) or "")
        if not value:
            problems.append(f"{name} is not set")
        elif value in examples:
            problems.append(f"{name} is the example value from the documentation")
        elif len(value) < SHORTEST_KEY:
            problems.append(f"{name} is only {len(value)} characters long")
    if config["SECRET_KEY"] and config["SECRET_KEY"] == config["ENCRYPTION_KEY"]:
        problems.append("SECRET_KEY and ENCRYPTION_KEY are the same")
    if problems:
        return Finding(
            "keys",
            False,
            "; ".join(problems) + ". Fix: put fresh random keys in instance/config.py "
            "(python -c 'import secrets; print(secrets.token_urlsafe(48))' gives one). "
            "Before an ENCRYPTION_KEY in use is replaced, know that every enrolled "
            "authenticator then needs a 2FA reset.",
        )
    return Finding("keys", True, "SECRET_KEY and ENCRYPTION_KEY are set, long and your own.")


def check_key_file() -> Finding:
    path = Path(current_app.instance_path) / "config.py"
    if not path.is_file():
        return Finding("key file", True, f"No {path}: the keys come from the environment.")
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        return Finding(
            "key file",
            False,
            f"{path} holds the keys but other users may read it (mode {mode:o}). "
            f"Fix: chmod 600 {path}.",
        )
    return Finding("key file", True, f"{path} is readable by its owner only.")


def check_https() -> Finding:
    config = current_app.config
    https, proxies = config["HTTPS"], config["TRUSTED_PROXIES"]
    if proxies > 0 and not https:
        return Finding(
            "https",
            False,
            f"The portal trusts {proxies} proxy in front (PORTAL_TRUSTED_PROXIES) but "
            "PORTAL_HTTPS is off: cookies go without Secure and no HSTS is sent. The nginx "
            "site in deploy/ ends TLS. Fix: set PORTAL_HTTPS=1.",
        )
    if https and proxies == 0:
        return Finding(
            "https",
            False,
            "PORTAL_HTTPS is on but no proxy is trusted (PORTAL_TRUSTED_PROXIES=0): gunicorn "
            "speaks plain HTTP, so unless something in front ends TLS the Secure cookies never "
            "come back and nobody can sign in. Fix: behind nginx (deploy/portal.nginx) set "
            "PORTAL_TRUSTED_PROXIES=1.",
        )
    if not https:
        return Finding(
            "https",
            False,
            "PORTAL_HTTPS is off and no proxy is in front: passwords and codes travel in "
            "clear. Fix: put nginx with TLS in front (deploy/portal.nginx) and set "
            "PORTAL_HTTPS=1 and PORTAL_TRUSTED_PROXIES=1.",
        )
    return Finding("https", True, "PORTAL_HTTPS is on behind a TLS proxy.")


def check_proxies() -> Finding:
    proxies = current_app.config["TRUSTED_PROXIES"]
    if proxies < 0:
        return Finding(
            "proxies", False, "PORTAL_TRUSTED_PROXIES is negative. Fix: set 0, or 1 behind nginx."
        )
    if proxies == 0:
        return Finding(
            "proxies",
            True,
            "No proxy is trusted: the client's address is the socket's and X-Forwarded-For, "
            "-Proto and -Host are ignored (right when nothing sits in front of gunicorn).",
        )
    if proxies == 1:
        return Finding(
            "proxies",
            True,
            "One proxy is trusted: the portal takes the client's address from the last "
            "X-Forwarded-For entry and the scheme and host from X-Forwarded-Proto and -Host, "
            "which deploy/portal.nginx sets. gunicorn must listen on 127.0.0.1 only, or anyone "
            "could send these headers themselves.",
        )
    return Finding(
        "proxies",
        False,
        f"PORTAL_TRUSTED_PROXIES={proxies}: the portal expects at least {proxies} "
        "X-Forwarded-For entries, one added by each proxy. deploy/portal.nginx replaces the "
        "header with one entry, so with it the portal finds too few, takes nginx's own address "
        "for every client and gives everyone one shared rate limit. Fix: set "
        "PORTAL_TRUSTED_PROXIES=1 with one nginx; with a load balancer in front of nginx, make "
        "nginx append ($proxy_add_x_forwarded_for) and count both.",
    )


def _migration_state(database_url: str) -> tuple[str | None, str | None]:
    """(the database's revision, the newest revision); raises SQLAlchemyError if unreachable."""
    # Alembic logs each step at INFO: the doctor's own lines are the report.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    engine = create_engine(
        database_url, poolclass=NullPool, connect_args=_connect_args(database_url)
    )
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
    return current, head


def _connect_args(database_url: str) -> dict:
    if make_url(database_url).get_backend_name() == "postgresql":
        return {"connect_timeout": TIMEOUT}
    return {}


def check_database() -> Finding:
    url = current_app.config["DATABASE_URL"]
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if path and path != ":memory:" and not Path(path).is_file():
            return Finding(
                "database",
                False,
                f"There is no SQLite database at {path}. Fix: flask --app wsgi db upgrade.",
            )
    try:
        current, head = _migration_state(url)
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        return Finding(
            "database",
            False,
            f"Cannot reach the database {shown}: {reason.rstrip('.')}. Fix: check PORTAL_DATABASE_URL "
            "and that the database server runs.",
        )
    if current != head:
        return Finding(
            "database",
            False,
            f"The database {shown} is at revision {current or '(none: empty)'}, the newest is "
            f"{head}. Fix: flask --app wsgi db upgrade.",
        )
    return Finding("database", True, f"The database {shown} is reachable and at {head}.")


def mount_of(path: Path, mounts: Path) -> tuple[str, str]:
    """(mount point, file system type) of the mount that holds path."""
    best = ("/", "")
    for line in mounts.read_text().splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        # /proc/mounts writes a space in a mount point as \040.
        point = fields[1].replace("\\040", " ")
        inside = path == Path(point) or Path(point) in path.parents
        if inside and len(point) >= len(best[0]):
            best = (point, fields[2])
    return best


def check_sqlite_disk(mounts: Path = Path("/proc/mounts")) -> Finding:
    parsed = make_url(current_app.config["DATABASE_URL"])
    if parsed.get_backend_name() != "sqlite":
        return Finding("sqlite disk", True, "Not SQLite: nothing to check.")
    if not parsed.database or parsed.database == ":memory:":
        return Finding("sqlite disk", True, "SQLite in memory: nothing to check.")
    path = Path(parsed.database).resolve()
    try:
        point, fs_type = mount_of(path, mounts)
    except OSError as error:
        return Finding("sqlite disk", False, f"Cannot read {mounts}: {error.strerror}.")
    if fs_type in NETWORK_FILE_SYSTEMS or fs_type.startswith("nfs"):
        return Finding(
            "sqlite disk",
            False,
            f"The SQLite database {path} is on {point}, a {fs_type} network file system, "
            "where SQLite's locks do not hold and the file can be corrupted. Fix: move it to "
            "a local disk (PORTAL_DATABASE_URL or the instance folder) or use PostgreSQL.",
        )
    return Finding(
        "sqlite disk", True, f"The SQLite database {path} is on a local disk ({fs_type or '?'})."
    )


def check_rate_limit_storage() -> Finding:
    url = current_app.config["RATELIMIT_STORAGE_URL"]
    scheme = url.split("://", 1)[0].lower()
    if scheme == "memory":
        return Finding(
            "rate limits",
            True,
            "Rate-limit counters live in each gunicorn worker (memory://), so each worker "
            "counts on its own; with several workers or app servers set "
            "PORTAL_RATELIMIT_STORAGE_URL=redis://... to share them.",
        )
    shown = re.sub(r"//[^@/]*@", "//***@", url)
    try:
        if scheme in {"redis", "rediss", "unix"}:
            import redis

            client = redis.Redis.from_url(
                url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT
            )
            try:
                client.ping()
            finally:
                client.close()
        else:
            from limits.storage import storage_from_string

            if not storage_from_string(url).check():
                raise ConnectionError("it does not answer")
    except Exception as error:  # any client library's failure is the same finding
        return Finding(
            "rate limits",
            False,
            f"Cannot reach the rate-limit storage {shown}: {_sentence(error)}. Fix: start it, or correct "
            "PORTAL_RATELIMIT_STORAGE_URL.",
        )
    return Finding("rate limits", True, f"The rate-limit storage {shown} answers.")


def check_mail() -> Finding:
    config = current_app.config
    host, port = config["SMTP_HOST"], config["SMTP_PORT"]
    if not host:
        return Finding(
            "mail", True, "No mail server is set (PORTAL_SMTP_HOST): notices stay in the portal."
        )
    try:
        with smtplib.SMTP(host, port, timeout=TIMEOUT) as smtp:
            smtp.ehlo()
            if config["SMTP_STARTTLS"] and not smtp.has_extn("starttls"):
                return Finding(
                    "mail",
                    False,
                    f"The mail server {host}:{port} does not offer STARTTLS, which "
                    "PORTAL_SMTP_STARTTLS=1 asks for: no mail would go. Fix: use its "
                    "submission port (587), or set PORTAL_SMTP_STARTTLS=0 only for a server "
                    "on the same machine.",
                )
    # A silent server's timeout is an OSError too.
    except (OSError, smtplib.SMTPException) as error:
        return Finding(
            "mail",
            False,
            f"Cannot reach the mail server {host}:{port}: {_sentence(error)}. "
            "Fix: correct PORTAL_SMTP_HOST and PORTAL_SMTP_PORT, or open the way to it.",
        )
    return Finding("mail", True, f"The mail server {host}:{port} answers.")


CHECKS: tuple[Callable[[], Finding], ...] = (
    check_keys,
    check_key_file,
    check_https,
    check_proxies,
    check_database,
    check_sqlite_disk,
    check_rate_limit_storage,
    check_mail,
)


def run() -> list[Finding]:
    return [check() for check in CHECKS]
