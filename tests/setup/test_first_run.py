"""First run: the setup page opens only with the printed token, and only once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.database import db
from portal.models import ROLE_ADMIN, AuditEvent, Company, User, UserSession
from portal.services import accounts, first_run
from tests.support import csrf_token, page_text

ADMIN = {
    "company_name": "Acme Tools",
    "admin_name": "Ada Admin",
    "email": "Ada@Example.com",
    "password": "a long enough passphrase",
    "confirm": "a long enough passphrase",
}


@pytest.fixture
def token(app) -> str:
    return first_run.ensure_token(app.instance_path)


def counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(Company)),
            db.session.scalar(select(func.count()).select_from(User)),
            db.session.scalar(select(func.count()).select_from(UserSession)),
        )


def submit(client, token: str | None, **changes):
    data = {**ADMIN, **changes, "csrf_token": csrf_token(client)}
    if token is not None:
        data["token"] = token
    return client.post("/setup", data=data)


def test_setup_without_the_token_is_refused(client, app, token):
    page = client.get("/setup")
    assert page.status_code == 403
    assert "setup link" in page_text(page)
    assert "flask --app wsgi setup-link" in page_text(page)

    assert submit(client, None).status_code == 403
    assert counts(app) == (0, 0, 0)


@pytest.mark.parametrize("wrong", ["", "not-the-token", "x" * 5000])
def test_setup_with_a_wrong_token_is_refused(client, app, token, wrong):
    assert client.get("/setup", query_string={"token": wrong}).status_code == 403
    assert submit(client, wrong).status_code == 403
    assert counts(app) == (0, 0, 0)


def test_setup_is_refused_before_any_token_was_printed(client, app):
    # No token file yet: a guess such as an empty string must not match "nothing".
    assert not (Path(app.instance_path) / first_run.TOKEN_FILE).exists()
    assert submit(client, "").status_code == 403
    assert counts(app) == (0, 0, 0)


def test_setup_with_the_token_creates_company_and_admin_and_signs_in(client, app, token):
    page = client.get("/setup", query_string={"token": token})
    assert page.status_code == 200
    assert "Create the portal" in page_text(page)

    response = submit(client, token)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/profile/security")

    security = client.get("/profile/security")
    assert security.status_code == 200
    assert "Ada Admin" in page_text(security)
    assert "Acme Tools" in page_text(security)

    with app.app_context():
        assert db.session.get(Company, 1).name == "Acme Tools"
        admin = db.session.scalars(select(User)).one()
        assert (admin.email, admin.role, admin.active) == ("ada@example.com", ROLE_ADMIN, True)
        assert accounts.verify_password(admin, ADMIN["password"])
        kinds = set(db.session.scalars(select(AuditEvent.kind)))
        assert {"setup_completed", "sign_in"} <= kinds
    assert counts(app) == (1, 1, 1)
    # The token is spent: it cannot be replayed even if setup were somehow open again.
    assert not (Path(app.instance_path) / first_run.TOKEN_FILE).exists()


def test_setup_is_gone_for_good_once_it_is_done(client, other_client, app, token):
    assert submit(client, token).status_code == 303
    for attempt in (other_client, client):
        assert attempt.get("/setup").status_code == 404
        assert attempt.get("/setup", query_string={"token": token}).status_code == 404
        assert submit(attempt, token, email="mallory@example.com").status_code == 404
    # Even a freshly printed token opens nothing.
    with app.app_context():
        assert not first_run.is_needed()
    assert submit(other_client, first_run.ensure_token(app.instance_path)).status_code == 404
    assert counts(app)[:2] == (1, 1)


def test_setup_is_closed_once_any_user_exists(client, app, token):
    # An administrator made on the command line before anyone opened the link.
    with app.app_context():
        accounts.create(
            name="Cli Admin",
            email="cli@example.com",
            password="cli admin passphrase",
            role=ROLE_ADMIN,
        )
        db.session.commit()
    assert client.get("/setup", query_string={"token": token}).status_code == 404
    assert submit(client, token).status_code == 404
    assert counts(app) == (0, 1, 0)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"password": "short", "confirm": "short"}, "at least 10 characters"),
        ({"password": "aaaaaaaaaaaa", "confirm": "aaaaaaaaaaaa"}, "too easy to guess"),
        ({"password": "ada@example.com", "confirm": "ada@example.com"}, "must not be your email"),
        ({"confirm": "something else entirely"}, "two passwords differ"),
        ({"email": "not an email"}, "valid email"),
        ({"company_name": ""}, "Enter the company name"),
    ],
)
def test_setup_refuses_weak_passwords_and_bad_fields(client, app, token, changes, message):
    response = submit(client, token, **changes)
    assert response.status_code == 422
    assert message in page_text(response)
    assert counts(app) == (0, 0, 0)
    # The link still works afterwards.
    assert submit(client, token).status_code == 303


def test_two_racing_setups_cannot_both_win(app, token):
    start = threading.Barrier(2)
    statuses: dict[str, int] = {}
    failures: list[BaseException] = []

    def run_setup(name: str) -> None:
        # No app context is pushed around the requests: each request then gets its own,
        # as on a server, instead of sharing one database session (and its transaction).
        try:
            client = app.test_client()
            data = {
                **ADMIN,
                "company_name": f"Company {name}",
                "admin_name": f"Admin {name}",
                "email": f"{name}@example.com",
                "token": token,
                "csrf_token": csrf_token(client),
            }
            start.wait(timeout=30)
            statuses[name] = client.post("/setup", data=data).status_code
        except BaseException as error:  # reported in the main thread
            failures.append(error)

    threads = [threading.Thread(target=run_setup, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures
    assert sorted(statuses.values())[0] == 303, statuses
    assert sorted(statuses.values())[1] in (403, 404), statuses

    winner = next(name for name, status in statuses.items() if status == 303)
    with app.app_context():
        company = db.session.scalars(select(Company)).one()
        admin = db.session.scalars(select(User)).one()
    assert company.name == f"Company {winner}"
    assert admin.email == f"{winner}@example.com"
    assert admin.role == ROLE_ADMIN
