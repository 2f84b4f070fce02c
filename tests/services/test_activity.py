"""A person's activity as the Security page and the employee page tell it: sign-ins folded
with their password step, failures as warnings, changes that say what changed, actions on
someone else that name them, and pages of ten."""

from __future__ import annotations

from sqlalchemy import select

from portal.database import db
from portal.models import AuditEvent, User
from portal.origin import Origin
from portal.services import activity, audit, employees, two_step
from tests.support import DEFAULT_PASSWORD, post, sign_in, sign_in_with_code, totp_code, wrong_code

ORIGIN = Origin("127.0.0.1", "pytest")


def entries(app, user_id: int, *, audience: str = activity.SELF, shown: int = 10):
    with app.app_context():
        person = db.session.get(User, user_id)
        return activity.for_person(person, audience=audience, shown=shown)


def lines(page: activity.Page) -> list[str]:
    return [
        " · ".join(
            part
            for part in (
                "warning" if e.warning else "",
                e.what,
                e.how,
                f"by {e.by}" if e.by else "",
            )
            if part
        )
        for e in page.entries
    ]


def test_a_password_step_folds_into_the_sign_in_it_led_to(app, client, clock, employee, enrol):
    secret, _ = enrol(employee)
    sign_in_with_code(client, secret, clock)

    assert lines(entries(app, employee))[:1] == ["Signed in · with the authenticator app"]
    assert "Sign-in not finished" not in " ".join(lines(entries(app, employee)))


def test_a_password_step_that_no_sign_in_followed_is_a_warning(app, client, clock, employee, enrol):
    enrol(employee)
    sign_in(client, "emma@example.com")

    assert lines(entries(app, employee))[0] == (
        "warning · Sign-in not finished · the password was right, but no code followed"
    )


def test_wrong_codes_at_sign_in_name_nobody_and_are_warnings(app, client, clock, employee, enrol):
    secret, _ = enrol(employee)
    sign_in(client, "emma@example.com")
    post(client, "/login/code", {"code": wrong_code(secret, clock)})
    post(client, "/login/code", {"code": totp_code(secret, clock)})

    with app.app_context():
        failure = db.session.scalars(
            select(AuditEvent).where(AuditEvent.kind == audit.TWO_STEP_FAILED)
        ).one()
        assert (failure.actor_id, failure.subject_id) == (None, employee)
    assert lines(entries(app, employee, audience=activity.ADMIN))[:2] == [
        "Signed in · with the authenticator app",
        "warning · Wrong code at sign-in · a code that is not right, 1 in a row",
    ]


def test_a_wrong_code_confirming_a_change_says_so(app, clock, employee, enrol):
    secret, _ = enrol(employee)
    with app.app_context():
        user = db.session.get(User, employee)
        two_step.regenerate_recovery_codes(
            user, DEFAULT_PASSWORD, wrong_code(secret, clock), ORIGIN, None
        )

    assert lines(entries(app, employee))[0] == (
        "warning · Wrong code confirming a security change · a code that is not right, 1 in a row"
    )


def test_a_recovery_code_sign_in_says_how_and_how_many_are_left(
    app, client, clock, employee, enrol
):
    _, codes = enrol(employee)
    sign_in(client, "emma@example.com")
    assert post(client, "/login/recovery", {"code": codes[0]}).status_code == 303

    assert lines(entries(app, employee))[0] == "Signed in · with a recovery code, 9 codes left"
    assert "Recovery code used" not in " ".join(lines(entries(app, employee)))


def test_a_profile_change_says_what_changed(app, client, employee):
    sign_in(client, "emma@example.com")
    post(
        client,
        "/profile/details",
        {"name": "Emma Rivers", "email": "emma.r@example.com", "password": DEFAULT_PASSWORD},
    )

    assert lines(entries(app, employee))[:2] == [
        "Email changed from emma@example.com to emma.r@example.com",
        "Name changed from Emma Stone to Emma Rivers",
    ]


def test_an_administrators_actions_on_others_name_them(app, employee, admin_user):
    with app.app_context():
        admin = db.session.get(User, admin_user)
        emma = db.session.get(User, employee)
        employees.deactivate(emma, by=admin, origin=ORIGIN)
        employees.reactivate(emma, by=admin, origin=ORIGIN)

    assert lines(entries(app, admin_user, audience=activity.ADMIN)) == [
        "Reactivated Emma Stone's account · by Ada Admin",
        "Deactivated Emma Stone's account · by Ada Admin",
    ]
    # The employee reads it as something done to them, by an administrator.
    assert lines(entries(app, employee)) == [
        "Account reactivated · by an administrator",
        "Account deactivated · by an administrator",
    ]
    assert lines(entries(app, employee, audience=activity.ADMIN))[0] == (
        "Account reactivated · by Ada Admin"
    )


def test_a_two_step_reset_names_the_employee_on_the_administrators_page(
    app, clock, employee, admin_user, enrol
):
    enrol(employee)
    with app.app_context():
        admin = db.session.get(User, admin_user)
        emma = db.session.get(User, employee)
        employees.reset_two_step(emma, reason="lost phone", by=admin, origin=ORIGIN)

    assert lines(entries(app, admin_user, audience=activity.ADMIN)) == [
        "Reset Emma Stone's two-step authentication · reason: lost phone · by Ada Admin"
    ]


def test_ten_at_a_time_with_more_to_show(app, employee):
    for _ in range(12):
        sign_in(app.test_client(), "emma@example.com")
    first = entries(app, employee)
    assert (len(first.entries), first.more) == (10, True)
    second = entries(app, employee, shown=20)
    assert (len(second.entries), second.more) == (12, False)
    assert lines(second)[:10] == lines(first)


def test_folding_across_a_page_boundary_keeps_ten_entries(app, clock, employee, enrol):
    secret, _ = enrol(employee)
    for _ in range(11):
        sign_in_with_code(app.test_client(), secret, clock)
    page = entries(app, employee)
    assert (len(page.entries), page.more) == (10, True)
    assert set(lines(page)) == {"Signed in · with the authenticator app"}


def test_the_shown_count_stays_in_whole_pages_within_bounds():
    assert activity.shown_count(None) == 10
    assert activity.shown_count("x") == 10
    assert activity.shown_count("-5") == 10
    assert activity.shown_count("15") == 20
    assert activity.shown_count("99999999") == activity.MOST_SHOWN


def test_failures_at_sign_in_name_no_actor(app, client, clock, employee, enrol):
    secret, _ = enrol(employee)
    sign_in(client, "emma@example.com", "not the password")
    for failures in range(1, two_step.LOCK_AFTER_FAILURES + 1):
        sign_in(client, "emma@example.com")
        post(client, "/login/code", {"code": wrong_code(secret, clock)})
        clock.advance(seconds=two_step.delay_after(failures).total_seconds() + 1)
    with app.app_context():
        failures = list(
            db.session.scalars(
                select(AuditEvent).where(
                    AuditEvent.kind.in_(
                        [audit.SIGN_IN_FAILED, audit.TWO_STEP_FAILED, audit.TWO_STEP_LOCKED]
                    )
                )
            )
        )
        assert {event.kind for event in failures} == {
            audit.SIGN_IN_FAILED,
            audit.TWO_STEP_FAILED,
            audit.TWO_STEP_LOCKED,
        }
        assert {(event.actor_id, event.subject_id) for event in failures} == {(None, employee)}
    page = entries(app, employee, audience=activity.ADMIN, shown=20)
    assert all(entry.by == "" for entry in page.entries if entry.warning)
    assert "warning · Wrong password at sign-in" in lines(page)


def test_a_sign_in_refused_past_the_deadline_names_no_actor(app, employee):
    from portal.services import policy

    with app.app_context():
        policy.refuse_sign_in(db.session.get(User, employee), ORIGIN)
        event = db.session.scalars(select(AuditEvent)).one()
        assert (event.actor_id, event.subject_id) == (None, employee)
    assert lines(entries(app, employee)) == [
        "warning · Sign-in refused · two-step authentication was not set up by the deadline"
    ]
