"""The company's two-step policy at sign-in: the banner before the deadline, refused or
confined after it, paused second steps, and turning off refused while it is mandatory."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.auth.current import SET_UP_ENDPOINTS
from portal.database import db
from portal.models import AuditEvent, User, UserSession
from portal.origin import Origin
from portal.services import audit, policy, totp
from tests.support import (
    DEFAULT_PASSWORD,
    HTMX_HEADERS,
    page_text,
    post,
    sign_in,
    sign_in_with_code,
)

ORIGIN = Origin("127.0.0.1", "pytest")


@pytest.fixture
def admin(make_user, enrol) -> int:
    admin_id = make_user("ada@example.com", name="Ada Admin", admin=True)
    enrol(admin_id)
    return admin_id


def make_mandatory(app, admin: int, *, grace_days: int = 5, after_deadline: str = "refuse"):
    with app.app_context():
        policy.save_settings(
            mandatory=True,
            grace_days=grace_days,
            after_deadline=after_deadline,
            by=db.session.get(User, admin),
            origin=ORIGIN,
        )


def kinds(app, kind: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.kind == kind))


def sessions_of(app, user_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count(UserSession.id)).where(UserSession.user_id == user_id)
        )


# --- before the deadline: the banner ----------------------------------------------------


def test_the_banner_counts_the_days_left_and_says_today_on_the_last_day(
    app, client, clock, admin, employee
):
    make_mandatory(app, admin, grace_days=5)
    sign_in(client, "emma@example.com")
    page = page_text(client.get("/profile/"))
    assert "Your company requires two-step authentication." in page
    assert "5 days left to set it up" in page
    clock.advance(days=3)
    assert "2 days left to set it up" in page_text(client.get("/profile/"))
    clock.advance(days=1)
    assert "Set it up by tomorrow" in page_text(client.get("/profile/"))
    clock.advance(hours=23)  # the deadline's own day
    assert "Set it up today" in page_text(client.get("/profile/"))


def test_the_banner_can_be_put_off_but_not_in_its_last_three_days(
    app, client, clock, admin, employee
):
    make_mandatory(app, admin, grace_days=10)
    sign_in(client, "emma@example.com")
    assert 'id="deadline-banner"' in page_text(client.get("/profile/"))
    dismissed = post(client, "/profile/deadline-banner/dismiss", {"next": "/profile/"})
    assert dismissed.status_code == 303
    assert dismissed.headers["Location"] == "/profile/"
    assert 'id="deadline-banner"' not in page_text(client.get("/profile/"))
    clock.advance(days=8)  # two days left: the last three days have begun
    page = page_text(client.get("/profile/"))
    assert 'id="deadline-banner"' in page
    assert "Remind me later" not in page


def test_no_banner_once_two_step_is_on_or_when_it_is_not_mandatory(
    app, client, clock, admin, employee, enrol
):
    sign_in(client, "emma@example.com")
    assert 'id="deadline-banner"' not in page_text(client.get("/profile/"))
    make_mandatory(app, admin)
    assert 'id="deadline-banner"' in page_text(client.get("/profile/"))
    post(client, "/logout")
    secret, _ = enrol(employee)
    sign_in_with_code(client, secret, clock)
    assert 'id="deadline-banner"' not in page_text(client.get("/profile/"))


# --- after the deadline: refuse sign-in ---------------------------------------------------


def test_past_the_deadline_the_password_step_is_refused_and_recorded(
    app, client, clock, admin, employee
):
    make_mandatory(app, admin, grace_days=2)
    clock.advance(days=2, seconds=1)
    response = sign_in(client, "emma@example.com")
    assert response.status_code == 403
    assert "Contact your administrator" in page_text(response)
    assert kinds(app, audit.SIGN_IN_REFUSED_OVERDUE) == 1
    assert sessions_of(app, employee) == 0
    # A wrong password learns nothing about the deadline.
    wrong = sign_in(client, "emma@example.com", "not the password at all")
    assert wrong.status_code == 422
    assert "deadline" not in page_text(wrong)


def test_an_open_session_ends_at_its_next_request_once_overdue(app, client, clock, admin, employee):
    make_mandatory(app, admin, grace_days=1)
    sign_in(client, "emma@example.com")
    assert client.get("/profile/").status_code == 200
    clock.advance(days=1, minutes=1)
    response = client.get("/profile/")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert sessions_of(app, employee) == 0
    assert "deadline to set it up has passed" in page_text(client.get("/login"))


def test_an_overdue_sessions_bell_poll_ends_it_too(app, client, clock, admin, employee):
    """An open tab polls the bell and loads no page: its poll applies the policy as a
    page would, so the session does not live on in the background."""
    make_mandatory(app, admin, grace_days=1)
    sign_in(client, "emma@example.com")
    bell = client.get("/notifications/bell", headers=HTMX_HEADERS)
    assert bell.status_code == 200 and "Notifications" in page_text(bell)  # before the deadline
    clock.advance(days=1, minutes=1)
    bell = client.get("/notifications/bell", headers=HTMX_HEADERS)
    assert bell.headers["HX-Redirect"] == "/login"
    assert sessions_of(app, employee) == 0
    assert "deadline to set it up has passed" in page_text(client.get("/login"))


def test_the_bell_of_an_employee_confined_to_set_up_keeps_counting(
    app, client, clock, admin, employee
):
    """Where the company requires set-up, the poll must not pull the page away from the
    set-up the employee is in the middle of."""
    make_mandatory(app, admin, grace_days=1, after_deadline="setup")
    clock.advance(days=1, minutes=1)
    sign_in(client, "emma@example.com")
    bell = client.get("/notifications/bell", headers=HTMX_HEADERS)
    assert bell.status_code == 200
    assert "HX-Redirect" not in bell.headers
    assert sessions_of(app, employee) == 1


def test_lengthening_the_grace_period_lets_an_overdue_employee_in_again(
    app, client, clock, admin, employee
):
    make_mandatory(app, admin, grace_days=1)
    clock.advance(days=2)
    assert sign_in(client, "emma@example.com").status_code == 403
    make_mandatory(app, admin, grace_days=10)
    assert sign_in(client, "emma@example.com").status_code == 303


# --- after the deadline: set-up right after the password --------------------------------


def test_past_the_deadline_only_the_set_up_is_reachable(app, client, clock, admin, employee):
    make_mandatory(app, admin, grace_days=1, after_deadline="setup")
    clock.advance(days=2)
    signed_in = sign_in(client, "emma@example.com")
    assert signed_in.status_code == 303
    assert signed_in.headers["Location"] == "/profile/security"
    page = page_text(client.get("/profile/security"))
    assert "Set it up now to use the portal" in page
    assert 'id="sessions"' not in page

    # Every other route, GET or POST, plain or htmx, leads to the set-up and changes nothing.
    before = sessions_of(app, employee)
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SET_UP_ENDPOINTS:
            continue
        path = rule.build(dict.fromkeys(rule.arguments, 1), append_unknown=False)[1]
        for method in sorted(rule.methods & {"GET", "POST"}):
            plain = client.open(path, method=method, data={"csrf_token": ""})
            assert plain.status_code in (302, 303), (rule.endpoint, method, plain.status_code)
            assert plain.headers["Location"].startswith("/profile/security"), rule.endpoint
            htmx = client.open(path, method=method, headers=HTMX_HEADERS)
            assert htmx.status_code == 204, (rule.endpoint, method, htmx.status_code)
            assert htmx.headers["HX-Redirect"] == "/profile/security", rule.endpoint
    assert sessions_of(app, employee) == before


def test_setting_it_up_past_the_deadline_opens_the_portal_again(
    app, client, clock, admin, employee
):
    make_mandatory(app, admin, grace_days=1, after_deadline="setup")
    clock.advance(days=2)
    sign_in(client, "emma@example.com")
    enabled = post(client, "/profile/security/enable", follow_redirects=True)
    secret = totp_secret_in(page_text(enabled))
    confirmed = post(
        client, "/profile/security/confirm", {"code": totp.code_at(secret, clock.now())}
    )
    assert confirmed.status_code == 303
    assert client.get("/profile/").status_code == 200


def totp_secret_in(html: str) -> str:
    from tests.support import secret_from_page

    return secret_from_page(html)


# --- turning off, pauses --------------------------------------------------------------


def test_turning_off_is_refused_while_mandatory_but_a_new_phone_is_allowed(
    app, client, clock, admin, employee, enrol
):
    secret, _ = enrol(employee)
    make_mandatory(app, admin)
    sign_in_with_code(client, secret, clock)
    page = page_text(client.get("/profile/security"))
    assert "cannot be turned off" in page
    assert "/profile/security?open=turn-off" not in page
    refused = post(
        client,
        "/profile/security/turn-off",
        {"password": DEFAULT_PASSWORD, "code": totp.code_at(secret, clock.now())},
    )
    assert refused.status_code == 422
    assert "requires two-step authentication" in page_text(refused)
    with app.app_context():
        assert db.session.get(User, employee).two_step_enabled
    device = post(
        client,
        "/profile/security/device",
        {"password": DEFAULT_PASSWORD, "code": totp.code_at(secret, clock.now())},
    )
    assert device.status_code == 303


def test_a_paused_second_step_is_skipped_until_the_pause_ends(
    app, client, clock, admin, employee, enrol
):
    enrol(employee)
    with app.app_context():
        policy.pause(
            db.session.get(User, employee), days=2, by=db.session.get(User, admin), origin=ORIGIN
        )
    signed_in = sign_in(client, "emma@example.com")
    assert signed_in.headers["Location"] == "/profile/security"
    post(client, "/logout")
    clock.advance(days=2, seconds=1)
    assert sign_in(client, "emma@example.com").headers["Location"].startswith("/login/code")


def test_a_reset_while_mandatory_gives_a_fresh_deadline(app, client, clock, admin, employee, enrol):
    enrol(employee)
    make_mandatory(app, admin, grace_days=2)
    clock.advance(days=30)
    with app.app_context():
        from portal.services import employees

        employees.reset_two_step(
            db.session.get(User, employee),
            by=db.session.get(User, admin),
            origin=ORIGIN,
            reason="lost phone",
        )
    assert sign_in(client, "emma@example.com").status_code == 303
    assert "days left to set it up" in page_text(client.get("/profile/"))
    clock.advance(days=2, seconds=1)
    post(client, "/logout")
    assert sign_in(client, "emma@example.com").status_code == 403
