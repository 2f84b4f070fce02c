"""The bell, the notifications page, sign-in codes and "This wasn't me"."""

import re

import pytest
from sqlalchemy import text

from portal.database import db
from portal.services import audit, notifications
from tests.conftest import POSTGRES_URL
from tests.notifications.flows import (
    STRANGER,
    QueryCounter,
    code_notice_id,
    codes_to_notifications,
    notice_kinds,
    notices,
)
from tests.support import (
    HTMX_HEADERS,
    audit_rows,
    close_from_the_server,
    is_signed_in,
    page_text,
    post,
    sign_in,
    sign_in_with_code,
    totp_code,
)

BELL = "/notifications/bell"


def _shown_code(html: str) -> str | None:
    match = re.search(r"data-sign-in-code>(\d{3}) (\d{3})<", html)
    return match.group(1) + match.group(2) if match else None


def test_the_bell_poll_costs_one_query_and_a_few_bytes(client, app, employee, enrol, clock):
    secret, _ = enrol(employee)
    sign_in_with_code(client, secret, clock)
    with QueryCounter(app) as counter:
        response = client.get(BELL, headers=HTMX_HEADERS)
        again = client.get(BELL, headers=HTMX_HEADERS)
    assert again.data == response.data
    assert response.status_code == 200
    assert len(counter.statements) == 2, counter.statements  # one per poll
    body = page_text(response)
    assert len(response.data) < 1024
    assert 'hx-trigger="every 30s"' in body
    assert ">1<" in body and "unread" in body  # "two-step turned on"


def test_the_bell_sends_the_headers_of_every_page(client, app, employee, clock):
    sign_in(client, "emma@example.com")
    page = client.get("/notifications/")
    bell = client.get(BELL, headers=HTMX_HEADERS)
    assert bell.status_code == 200
    for name in (
        "Content-Security-Policy",
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Referrer-Policy",
        "Permissions-Policy",
        "Cache-Control",
    ):
        assert bell.headers[name] == page.headers[name], name
    assert "HX-Request" in bell.headers["Vary"]
    assert bell.headers["Content-Type"] == "text/html; charset=utf-8"


def test_the_bell_stops_polling_once_signed_out(client, app, employee, clock):
    sign_in(client, "emma@example.com")
    assert client.get(BELL, headers=HTMX_HEADERS).status_code == 200
    post(client, "/logout")
    response = client.get(BELL, headers=HTMX_HEADERS)
    assert (response.status_code, response.data) == (286, b"")
    assert client.get(BELL).status_code == 286


def test_the_bell_stops_for_a_session_idle_too_long(client, app, employee, clock):
    sign_in(client, "emma@example.com")
    clock.advance(days=15)
    assert client.get(BELL, headers=HTMX_HEADERS).status_code == 286


def test_the_poll_interval_is_a_setting(make_app, clock):
    app = make_app(BELL_POLL_SECONDS=2)
    from portal.database import db
    from portal.models import Company
    from portal.services import accounts

    with app.app_context():
        db.session.add(Company(id=1, name="Acme Tools"))
        accounts.create(name="Emma", email="emma@example.com", password="correct horse battery")
        db.session.commit()
    client = app.test_client()
    sign_in(client, "emma@example.com")
    assert 'hx-trigger="every 2s"' in page_text(client.get("/notifications/"))


def test_the_page_lists_notices_and_marks_them_read(client, app, employee, enrol, clock):
    secret, _ = enrol(employee)
    sign_in_with_code(client, secret, clock)
    sign_in(app.test_client(), "emma@example.com", headers={"User-Agent": STRANGER})
    page = page_text(client.get("/notifications/"))
    assert "Two-step authentication was turned on" in page
    assert "Mark all as read" in page
    assert 'id="bell-count">1<' in page

    first = notices(app, employee)[0].id
    swapped = post(client, f"/notifications/{first}/read", htmx=True)
    assert swapped.status_code == 200
    assert "Marked as read." in page_text(swapped)
    assert 'id="notifications"' in page_text(swapped)
    assert "<html" not in page_text(swapped)
    assert 'id="bell" class="bell" hx-swap-oob="true"' in page_text(swapped)
    assert "bell-count" not in page_text(swapped)
    assert all(n.read_at for n in notices(app, employee))


def test_mark_all_read_without_javascript(client, app, employee, enrol, clock):
    secret, _ = enrol(employee)
    sign_in_with_code(client, secret, clock)
    response = post(client, "/notifications/read-all")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/notifications/")
    page = page_text(client.get("/notifications/"))
    assert "All notifications are marked as read." in page
    assert "bell-count" not in page
    assert all(n.read_at for n in notices(app, employee))


def test_another_persons_notice_cannot_be_touched(client, app, make_user, enrol, clock):
    emma = make_user("emma@example.com")
    make_user("olaf@example.com", name="Olaf")
    enrol(emma)
    sign_in(client, "olaf@example.com")
    theirs = notices(app, emma)[0].id
    assert post(client, f"/notifications/{theirs}/read").status_code == 404
    assert post(client, f"/notifications/{theirs}/not-me").status_code == 409
    assert notices(app, emma)[0].read_at is None


def test_the_code_reaches_a_signed_in_browser_and_goes_when_the_sign_in_ends(
    client, other_client, app, company, employee, enrol, clock, caplog
):
    caplog.set_level("DEBUG")
    codes_to_notifications(app)
    secret, _ = enrol(employee)
    sign_in_with_code(client, secret, clock)
    sign_in(other_client, "emma@example.com", headers={"User-Agent": STRANGER})

    bell = page_text(client.get(BELL, headers=HTMX_HEADERS))
    assert _shown_code(bell) == totp_code(secret, clock)
    assert "Firefox on Windows" in bell and "This wasn't me" in bell
    assert 'hx-trigger="every 5s"' in bell
    page = page_text(client.get("/notifications/"))
    assert _shown_code(page) == totp_code(secret, clock)
    clock.advance(seconds=30)
    assert _shown_code(page_text(client.get(BELL, headers=HTMX_HEADERS))) == totp_code(
        secret, clock
    )

    code = totp_code(secret, clock)
    assert code not in caplog.text
    assert all(code not in n.detail for n in notices(app, employee))
    assert post(other_client, "/login/code", {"code": code}).status_code == 303
    after = page_text(client.get(BELL, headers=HTMX_HEADERS))
    assert _shown_code(after) is None and 'hx-trigger="every 30s"' in after
    assert "This sign-in is over" in page_text(client.get("/notifications/"))


def test_the_code_goes_when_the_pending_sign_in_times_out(
    client, other_client, app, company, employee, enrol, clock
):
    codes_to_notifications(app)
    secret, _ = enrol(employee)
    sign_in_with_code(client, secret, clock)
    sign_in(other_client, "emma@example.com")
    assert _shown_code(page_text(client.get(BELL, headers=HTMX_HEADERS)))
    clock.advance(minutes=5, seconds=1)
    assert _shown_code(page_text(client.get(BELL, headers=HTMX_HEADERS))) is None


def test_no_code_notice_while_the_option_is_off(client, other_client, app, employee, enrol, clock):
    secret, _ = enrol(employee)
    sign_in_with_code(client, secret, clock)
    sign_in(other_client, "emma@example.com")
    assert notifications.SIGN_IN_CODE not in notice_kinds(app, employee)


def test_the_code_is_shown_only_to_a_session_that_passed_the_second_step(
    client, other_client, app, company, make_user, enrol, clock
):
    from portal.database import db
    from portal.models import User
    from portal.origin import Origin
    from portal.services import policy

    emma = make_user("emma@example.com")
    ada = make_user("ada@example.com", name="Ada Admin", admin=True)
    codes_to_notifications(app)
    secret, _ = enrol(emma)
    by_admin = Origin("127.0.0.1", "pytest")
    with app.app_context():
        policy.pause(
            db.session.get(User, emma), days=1, by=db.session.get(User, ada), origin=by_admin
        )
    sign_in(client, "emma@example.com")  # the password alone, while paused
    assert is_signed_in(client)
    with app.app_context():
        policy.resume(db.session.get(User, emma), by=db.session.get(User, ada), origin=by_admin)
    sign_in(other_client, "emma@example.com")
    assert code_notice_id(app, emma)
    for body in (
        page_text(client.get(BELL, headers=HTMX_HEADERS)),
        page_text(client.get("/notifications/")),
    ):
        assert _shown_code(body) is None
        assert totp_code(secret, clock) not in body
        assert "shown only on a browser that signed in with two-step" in body


def test_this_wasnt_me_ends_the_pending_sign_in_and_tells_the_administrators(
    client, other_client, app, company, make_user, enrol, clock
):
    emma = make_user("emma@example.com")
    ada = make_user("ada@example.com", name="Ada Admin", admin=True)
    codes_to_notifications(app)
    secret, _ = enrol(emma)
    sign_in_with_code(client, secret, clock)
    sign_in(other_client, "emma@example.com", headers={"User-Agent": STRANGER})
    notice = code_notice_id(app, emma)

    response = post(client, f"/notifications/{notice}/not-me")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/profile/#profile-password")
    landing = page_text(client.get("/profile/"))
    assert "Change your password now" in landing

    refused = post(other_client, "/login/code", {"code": totp_code(secret, clock)})
    assert refused.status_code == 303 and refused.headers["Location"].endswith("/login")
    assert not is_signed_in(other_client)
    assert notice_kinds(app, ada) == [notifications.SIGN_IN_DENIED]
    assert "Emma Stone" in notices(app, ada)[0].detail
    [denied] = audit_rows(app, audit.SIGN_IN_DENIED)
    assert denied.actor_id == emma and "Firefox on Windows" in denied.detail
    assert _shown_code(page_text(client.get(BELL, headers=HTMX_HEADERS))) is None

    again = post(client, f"/notifications/{notice}/not-me", htmx=True)
    assert again.status_code == 409
    assert "over already" in page_text(again)
    assert len(audit_rows(app, audit.SIGN_IN_DENIED)) == 1


def test_this_wasnt_me_from_htmx_leads_to_the_password(
    client, other_client, app, company, employee, enrol, clock
):
    codes_to_notifications(app)
    secret, _ = enrol(employee)
    sign_in_with_code(client, secret, clock)
    sign_in(other_client, "emma@example.com")
    response = post(client, f"/notifications/{code_notice_id(app, employee)}/not-me", htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/profile/"
    assert "Change your password now" in page_text(client.get("/profile/"))


def test_this_wasnt_me_after_the_sign_in_finished_changes_nothing(
    client, other_client, app, company, make_user, enrol, clock
):
    emma = make_user("emma@example.com")
    ada = make_user("ada@example.com", name="Ada Admin", admin=True)
    codes_to_notifications(app)
    secret, _ = enrol(emma)
    sign_in_with_code(client, secret, clock)
    sign_in_with_code(other_client, secret, clock)
    response = post(client, f"/notifications/{code_notice_id(app, emma)}/not-me")
    assert response.status_code == 409
    assert "over already" in page_text(response)
    assert is_signed_in(other_client)
    assert notice_kinds(app, ada) == []
    assert audit_rows(app, audit.SIGN_IN_DENIED) == []


def test_the_bells_query_reads_indexes_only(tmp_path):
    """On SQLite, whatever database the suite runs on: PostgreSQL's planner scans tables
    this small whatever the indexes."""
    from sqlalchemy import create_engine

    from portal.database import Base
    from portal.services.notifications import bell_statement

    engine = create_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    Base.metadata.create_all(engine)
    compiled = bell_statement().compile(engine)
    values = {
        **compiled.params,
        "token_hash": "x",
        "started_after": "2026-03-02 09:00:00.000000",
        "open_since": "2026-03-02 09:00:00.000000",
    }
    with engine.connect() as connection:
        plan = connection.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + str(compiled),
            tuple(values[name] for name in compiled.positiontup or ()),
        ).all()
    engine.dispose()
    steps = " | ".join(row[-1] for row in plan)
    assert "SCAN" not in steps, steps
    assert "ix_notifications_user_unread" in steps, steps
    assert "uq_user_sessions_token_hash" in steps or "token_hash" in steps, steps


def test_the_code_lives_as_long_as_its_pending_sign_in(
    client, other_client, app, company, employee, enrol, clock
):
    """A wait between codes keeps a pending sign-in open (sessions.pending_expires_at),
    and its code with it; the code goes when the sign-in expires."""
    from portal.database import db
    from portal.models import User
    from portal.services import sessions

    codes_to_notifications(app)
    secret, _ = enrol(employee)
    sign_in_with_code(client, secret, clock)
    sign_in(other_client, "emma@example.com")
    for _ in range(10):  # a lock of fifteen minutes
        post(
            other_client,
            "/login/code",
            {"code": "000000" if totp_code(secret, clock) != "000000" else "111111"},
        )
        with app.app_context():
            until = db.session.get(User, employee).second_step_locked_until
        if until is not None and until > clock.now():
            clock.set(until)
    clock.advance(minutes=4)
    with app.app_context():
        from sqlalchemy import select

        from portal.models import STAGE_PASSWORD, UserSession

        pending = db.session.scalars(
            select(UserSession).where(UserSession.stage == STAGE_PASSWORD)
        ).one()
        expires = sessions.pending_expires_at(pending)
    assert clock.now() - pending.created_at > sessions.PENDING_LIFETIME
    assert _shown_code(page_text(client.get(BELL, headers=HTMX_HEADERS)))
    clock.set(expires)
    assert _shown_code(page_text(client.get(BELL, headers=HTMX_HEADERS)))
    clock.advance(seconds=1)
    assert _shown_code(page_text(client.get(BELL, headers=HTMX_HEADERS))) is None


def test_a_poll_on_a_connection_the_server_closed_is_answered_and_the_next_reconnects(
    client, app, employee, clock
):
    """A database restart leaves the poll's pooled connection closed: that poll goes on
    to the Flask view, which answers it, and the next poll reads on a new connection."""
    if not POSTGRES_URL:
        pytest.skip("PORTAL_TEST_DATABASE_URL names no PostgreSQL server")
    sign_in(client, "emma@example.com")
    assert client.get(BELL, headers=HTMX_HEADERS).status_code == 200
    backend = text("SELECT pg_backend_pid()")
    # The poll's own connection, back in the pool.
    with app.app_context(), db.read_engine.connect() as connection:
        closed = connection.scalar(backend)
    close_from_the_server(POSTGRES_URL, closed)

    answered = client.get(BELL, headers=HTMX_HEADERS)
    assert answered.status_code == 200
    assert 'id="bell"' in page_text(answered)
    assert client.get(BELL, headers=HTMX_HEADERS).status_code == 200
    with app.app_context(), db.read_engine.connect() as connection:
        assert connection.scalar(backend) != closed
