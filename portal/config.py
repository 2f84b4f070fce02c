"""Configuration: defaults, then the instance config file, then PORTAL_* variables."""

import os
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Defaults:
    SECRET_KEY: str | None = None
    # Key material for TOTP secrets at rest and recovery-code hashes; see portal.crypto.
    ENCRYPTION_KEY: str | None = None
    DATABASE_URL: str | None = None  # default: SQLite file in the instance folder
    RATELIMIT_STORAGE_URL = "memory://"
    RATELIMIT_ENABLED = True
    # When the shared storage (Redis) cannot be reached, each worker counts in its own
    # memory with the same limits until it answers again: sign-in stays limited, never
    # fails. Flask-Limiter logs a warning when it falls back, and again when it recovers.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    HTTPS = False
    # How many reverse proxies in front of the portal set X-Forwarded-For (0 = trust none).
    TRUSTED_PROXIES = 0
    # argon2id: OWASP's minimum for argon2id is m=19 MiB, t=2, p=1.
    PASSWORD_TIME_COST = 2
    PASSWORD_MEMORY_COST = 19456
    PASSWORD_PARALLELISM = 1
    SESSION_IDLE_DAYS = 14
    LOG_LEVEL = "INFO"
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the browser session
    WTF_CSRF_SSL_STRICT = True
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    # Mail (portal.services.mail): none is sent while SMTP_HOST is empty.
    SMTP_HOST = ""
    SMTP_PORT = 587
    SMTP_USER = ""
    SMTP_PASSWORD = ""
    SMTP_STARTTLS = True
    SMTP_FROM = ""
    SMTP_TIMEOUT = 30  # seconds, per step of one delivery
    MAIL_WORKER_INTERVAL = 5  # seconds between the mail worker's looks at the outbox
    # Purge (portal.services.purge): how often the background worker runs it (seconds;
    # 0: never, as where a systemd timer runs `flask purge`), and how long sent mail and
    # read notifications are kept.
    PURGE_INTERVAL = 3600
    PURGE_SENT_MAIL_DAYS = 30
    PURGE_READ_NOTIFICATIONS_DAYS = 90
    # How often an open page asks for the bell's count (and a live sign-in code).
    BELL_POLL_SECONDS = 30


def _coerce(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    return raw


def load(app, overrides: dict[str, Any] | None) -> None:
    app.config.from_object(Defaults)
    app.config.from_pyfile("config.py", silent=True)
    for name in dir(Defaults):
        if name.isupper() and f"PORTAL_{name}" in os.environ:
            app.config[name] = _coerce(os.environ[f"PORTAL_{name}"], getattr(Defaults, name))
    if overrides:
        app.config.update(overrides)

    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = "sqlite:///" + str(Path(app.instance_path) / "portal.db")
    missing = [key for key in ("SECRET_KEY", "ENCRYPTION_KEY") if not app.config.get(key)]
    if missing:
        raise RuntimeError(
            "Missing configuration: "
            + ", ".join(f"PORTAL_{key}" for key in missing)
            + ". Set them in the environment or in instance/config.py "
            "(`make instance` writes fresh ones)."
        )

    if str(app.config["RATELIMIT_STORAGE_URL"]).startswith(("redis://", "rediss://")):
        # A Redis host that stops answering (rather than refusing) must not hold every
        # request: after a second the limiter takes it as down and falls back.
        app.config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 1, "socket_timeout": 1}
        )

    https = app.config["HTTPS"]
    app.config.update(
        SESSION_COOKIE_NAME="portal_csrf",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        PREFERRED_URL_SCHEME="https" if https else "http",
    )
