"""Helpers for the tests (not collected: the name does not start with test_)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from portal.database import db, make_engine
from portal.models import AuditEvent, RecoveryCode, User, UserSession
from portal.services import totp

HTMX_HEADERS = {"HX-Request": "true", "HX-Current-URL": "http://localhost/"}
DEFAULT_PASSWORD = "correct horse battery"
# What a destructive admin action's confirmation (dialog or page) adds to its form.
CONFIRMED = {"confirmed": "yes"}

_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@dataclass
class MovableClock:
    """Stands in for portal.clock.now: time moves only when a test moves it."""

    current: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta) -> datetime:
        self.current += timedelta(**delta)
        return self.current

    def set(self, moment: datetime) -> None:
        self.current = moment

    def timestamp(self) -> float:
        return self.current.timestamp()


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of this client's browser session, read from a page as htmx would."""
    response = client.get(path, follow_redirects=True)
    match = _CSRF_META.search(response.get_data(as_text=True))
    assert match, f"no csrf meta tag on {path}"
    return match.group(1)


def post(client: FlaskClient, path: str, data: dict | None = None, *, htmx: bool = False, **kwargs):
    """A form post with this client's CSRF token, as the browser would send it: in the form
    body for a plain post, in the X-CSRFToken header (and not in the body) for htmx."""
    data = dict(data or {})
    headers = dict(kwargs.pop("headers", {}) or {})
    if htmx:
        headers.update(HTMX_HEADERS)
        headers.setdefault("X-CSRFToken", csrf_token(client))
    else:
        data.setdefault("csrf_token", csrf_token(client))
    return client.post(path, data=data, headers=headers, **kwargs)


def sign_in(client: FlaskClient, email: str, password: str = DEFAULT_PASSWORD, **kwargs):
    return post(client, "/login", {"email": email, "password": password}, **kwargs)


def page_text(response) -> str:
    return response.get_data(as_text=True)


_SECRET_KEY_IN_PAGE = re.compile(r'<span class="secret-key" id="secret-key">([A-Z2-7 ]+)</span>')
_RECOVERY_CODE_IN_PAGE = re.compile(r"<li>([2-9a-z]{5}-[2-9a-z]{5})</li>")


def secret_from_page(html: str) -> str:
    """The key as a person would type it from the Security page, without the spaces."""
    match = _SECRET_KEY_IN_PAGE.search(html)
    assert match, "no secret key on the page"
    return match.group(1).replace(" ", "")


def recovery_codes_from_page(html: str) -> list[str]:
    return _RECOVERY_CODE_IN_PAGE.findall(html)


def assert_friendly_429(response) -> None:
    """A rate limit's answer: 429 with a page that tells a person to wait."""
    assert response.status_code == 429
    text = page_text(response)
    assert "Too many attempts" in text
    assert "Please try again in a few minutes." in text
    assert "Traceback" not in text
    assert response.headers["Content-Security-Policy"]


def user_row(app, user_id: int) -> User:
    """A detached copy of the user's row as the database holds it now."""
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def user_by_email(app, email: str) -> User | None:
    """A detached copy of the row with this email, or None."""
    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == email)).first()
        if user is not None:
            db.session.expunge(user)
        return user


def recovery_code_hashes(app, user_id: int) -> set[str]:
    """The stored hashes of all the user's recovery codes, used or not."""
    with app.app_context():
        return set(
            db.session.scalars(
                select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user_id)
            )
        )


def recovery_codes_left(app, user_id: int) -> int:
    """How many of the user's recovery codes are still unused."""
    with app.app_context():
        return db.session.scalar(
            select(func.count(RecoveryCode.id)).where(
                RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
            )
        )


def audit_kinds(app, user_id: int) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(select(AuditEvent.kind).where(AuditEvent.subject_id == user_id))
        )


def audit_rows(app, kind: str | None = None) -> list[AuditEvent]:
    with app.app_context():
        statement = select(AuditEvent).order_by(AuditEvent.id)
        if kind:
            statement = statement.where(AuditEvent.kind == kind)
        rows = list(db.session.scalars(statement))
        db.session.expunge_all()
        return rows


def session_count(app, user_id: int) -> int:
    with app.app_context():
        return len(
            list(db.session.scalars(select(UserSession).where(UserSession.user_id == user_id)))
        )


def is_signed_in(client) -> bool:
    """A signed-in browser sees its profile; a signed-out one is sent to sign in."""
    return client.get("/profile/").status_code == 200


def totp_code(secret: str, clock: MovableClock, steps: int = 0) -> str:
    """The code the authenticator app shows now, or `steps` time steps (of 30 s) away."""
    return totp.code_at_step(secret, totp.step_at(clock.now()) + steps)


def wrong_code(secret: str, clock: MovableClock) -> str:
    """Six digits that are not the current code."""
    return "000000" if totp_code(secret, clock) != "000000" else "111111"


def sign_in_with_code(
    client: FlaskClient, secret: str, clock: MovableClock, email: str = "emma@example.com"
) -> None:
    """Both steps; the clock then moves on so that the next code is a new one."""
    sign_in(client, email)
    response = post(client, "/login/code", {"code": totp_code(secret, clock)})
    assert response.status_code == 303, page_text(response)
    clock.advance(seconds=30)


def race(work, count: int = 20) -> list:
    """Runs work(index) in `count` threads released together; an exception becomes its repr."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index):
        barrier.wait()
        try:
            results[index] = work(index)
        except Exception as error:
            results[index] = repr(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def close_from_the_server(database_url: str, pid: int) -> None:
    """Ends PostgreSQL backend ``pid`` from the server's side, as a restart would."""
    other = make_engine(database_url)
    try:
        with other.connect() as connection:
            connection.execute(text(f"SELECT pg_terminate_backend({pid})"))
            connection.commit()
    finally:
        other.dispose()
