"""An administrator resets two-step authentication for someone who lost phone and codes."""

from sqlalchemy import select

from portal.database import db
from portal.models import AuditEvent
from tests.support import (
    CONFIRMED,
    DEFAULT_PASSWORD,
    page_text,
    post,
    recovery_code_hashes,
    sign_in,
    user_row,
)


def test_reset_needs_a_reason_and_is_recorded(
    admin_with_two_step, other_client, app, admin_user, employee, enrol
):
    admin = admin_with_two_step
    enrol(employee)
    sign_in(other_client, "emma@example.com")  # Emma's pending sign-in on the lost phone's browser

    page = page_text(admin.get(f"/admin/employees/{employee}"))
    assert "Reset two-step authentication" in page and 'for="reason"' in page

    no_reason = post(
        admin, f"/admin/employees/{employee}/reset-two-step", {**CONFIRMED, "reason": "  "}
    )
    assert no_reason.status_code == 422
    assert "it is recorded" in page_text(no_reason)
    assert user_row(app, employee).totp_secret is not None

    done = post(
        admin,
        f"/admin/employees/{employee}/reset-two-step",
        {**CONFIRMED, "reason": "lost phone and codes"},
    )
    assert done.status_code == 303
    assert user_row(app, employee).totp_secret is None
    assert recovery_code_hashes(app, employee) == set()
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.kind == "two_step_reset")
        ).one()
        assert (event.actor_id, event.subject_id, event.detail) == (
            admin_user,
            employee,
            "lost phone and codes",
        )
    # The pending sign-in ended; a fresh sign-in needs only the password now.
    assert other_client.get("/login/code").status_code == 303
    assert (
        sign_in(other_client, "emma@example.com").headers["Location"].endswith("/profile/security")
    )


def test_reset_is_for_administrators_and_not_for_oneself(
    admin_with_two_step, app, admin_user, employee, make_user, enrol
):
    admin = admin_with_two_step
    enrol(employee)
    own = post(
        admin, f"/admin/employees/{admin_user}/reset-two-step", {**CONFIRMED, "reason": "testing"}
    )
    assert own.status_code == 422
    assert user_row(app, admin_user).totp_secret is not None

    make_user("olga@example.com", name="Olga")
    other = app.test_client()
    sign_in(other, "olga@example.com")
    assert (
        post(
            other, f"/admin/employees/{employee}/reset-two-step", {**CONFIRMED, "reason": "x"}
        ).status_code
        == 403
    )
    assert user_row(app, employee).totp_secret is not None


def sign_in_to(client, destination: str):
    """Emma's password step, on its way to ``destination`` (?next=)."""
    return post(
        client,
        "/login",
        {"email": "emma@example.com", "password": DEFAULT_PASSWORD, "next": destination},
    )


def make_mandatory(app, admin_user, grace_days: int = 5) -> None:
    from portal.models import User
    from portal.origin import Origin
    from portal.services import policy

    with app.app_context():
        policy.save_settings(
            mandatory=True,
            grace_days=grace_days,
            after_deadline="refuse",
            by=db.session.get(User, admin_user),
            origin=Origin("127.0.0.1", "pytest"),
        )


def test_after_a_reset_the_next_sign_in_leads_to_the_set_up_when_optional(
    admin_with_two_step, app, employee, enrol
):
    enrol(employee)
    done = post(
        admin_with_two_step,
        f"/admin/employees/{employee}/reset-two-step",
        {**CONFIRMED, "reason": "lost phone"},
        htmx=True,
    )
    told = " ".join(page_text(done).split())
    assert "They set it up again after their next sign-in" not in told
    assert (
        "At their next sign-in with their password they are asked to set it up again; the "
        "company does not require it, so until they do, their password alone signs them in."
    ) in told

    emma = app.test_client()
    # Wherever the sign-in was headed, it leads to the Security page first.
    signed_in = sign_in_to(emma, "/profile")
    assert signed_in.status_code == 303
    assert signed_in.headers["Location"] == "/profile/security"
    page = page_text(emma.get("/profile/security"))
    assert 'class="alert alert--warning"' in page
    assert "An administrator reset your two-step authentication" in page
    assert "until you do, your password alone protects your account" in page
    # Said once, at the sign-in: reloading the page does not say it again.
    assert "An administrator reset" not in page_text(emma.get("/profile/security"))


def test_after_a_reset_under_the_policy_the_deadline_is_said_to_both(
    admin_with_two_step, app, admin_user, employee, enrol, clock
):
    enrol(employee)
    make_mandatory(app, admin_user, grace_days=5)
    clock.advance(days=10)
    done = post(
        admin_with_two_step,
        f"/admin/employees/{employee}/reset-two-step",
        {**CONFIRMED, "reason": "lost phone"},
    )
    told = " ".join(page_text(admin_with_two_step.get(done.headers["Location"])).split())
    # The clock starts on 2 March 2026 at 09:00; ten days on, five days of grace.
    assert "they are asked to set it up again, by the end of 17 March 2026 (UTC)." in told

    emma = app.test_client()
    assert sign_in(emma, "emma@example.com").headers["Location"] == "/profile/security"
    page = " ".join(page_text(emma.get("/profile/security")).split())
    assert "Set it up again below with your phone by the end of 17 March 2026 (UTC)." in page


def test_no_reminder_once_it_is_set_up_again(admin_with_two_step, app, employee, enrol, clock):
    enrol(employee)
    post(
        admin_with_two_step,
        f"/admin/employees/{employee}/reset-two-step",
        {**CONFIRMED, "reason": "lost phone"},
    )
    clock.advance(minutes=1)
    enrol(employee)  # set up again...
    clock.advance(minutes=1)
    with app.app_context():
        from portal.models import User
        from portal.services import two_step

        user = db.session.get(User, employee)
        two_step._remove_two_step(user)  # ...and turned off again by herself
        db.session.commit()
    emma = app.test_client()
    assert sign_in_to(emma, "/profile").headers["Location"] == "/profile"
