"""An administrator resets two-step authentication for someone who lost phone and codes."""

from sqlalchemy import select

from portal.database import db
from portal.models import AuditEvent
from tests.support import CONFIRMED, page_text, post, recovery_code_hashes, sign_in, user_row


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
