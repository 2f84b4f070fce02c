"""The way back in for someone who lost phone and recovery codes: `flask reset-2fa`."""

from sqlalchemy import select

from portal.database import db
from portal.models import AuditEvent, RecoveryCode, User
from tests.support import sign_in


def test_reset_removes_two_step_ends_sessions_and_is_recorded(app, client, runner, employee, enrol):
    enrol(employee)
    result = runner.invoke(
        args=["reset-2fa", "EMMA@example.com", "--reason", "lost phone and codes"]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.get(User, employee)
        assert user.totp_secret is None and user.second_step_failures == 0
        assert (
            db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == employee)).all()
            == []
        )
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.kind == "two_step_reset")
        ).one()
        assert event.subject_id == employee and "lost phone and codes" in event.detail
    assert sign_in(client, "emma@example.com").headers["Location"].endswith("/profile/security")


def test_reset_of_an_unknown_email_fails_cleanly(runner, employee):
    result = runner.invoke(args=["reset-2fa", "nobody@example.com", "--reason", "x"])
    assert result.exit_code != 0
    assert "no account" in result.output
