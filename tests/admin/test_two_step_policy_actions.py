"""An administrator pauses, resumes and extends one employee's two-step authentication
from the employee's page; each is recorded and shown."""

from __future__ import annotations

from sqlalchemy import select

from portal.database import db
from portal.models import AuditEvent, User
from portal.origin import Origin
from portal.services import audit, policy
from tests.support import page_text, post


def kinds(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.kind).order_by(AuditEvent.id)))


def test_pause_then_resume_an_employees_second_step(app, client, clock, make_user, enrol):
    admin_id = make_user("ada@example.com", name="Ada Admin", admin=True)
    admin_secret, _ = enrol(admin_id)
    emma = make_user("emma@example.com", name="Emma Stone")
    enrol(emma)
    from tests.support import sign_in_with_code

    sign_in_with_code(client, admin_secret, clock, email="ada@example.com")

    page = page_text(client.get(f"/admin/employees/{emma}"))
    assert "Pause the second step" in page
    bad = post(client, f"/admin/employees/{emma}/pause-two-step", {"days": "-3"})
    assert bad.status_code == 422
    assert "whole number of days" in page_text(bad)

    paused = post(client, f"/admin/employees/{emma}/pause-two-step", {"days": "3"}, htmx=True)
    assert paused.status_code == 200
    assert "signs in without the code for 3 days" in page_text(paused)
    assert "Two-step paused" in page_text(paused)
    with app.app_context():
        assert policy.second_step_paused(db.session.get(User, emma))
    assert audit.TWO_STEP_PAUSED in kinds(app)

    resumed = post(client, f"/admin/employees/{emma}/resume-two-step")
    assert resumed.status_code == 303
    with app.app_context():
        assert not policy.second_step_paused(db.session.get(User, emma))
    assert audit.TWO_STEP_RESUMED in kinds(app)


def test_extend_a_deadline_lets_an_overdue_employee_in(app, client, clock, make_user, enrol):
    admin_id = make_user("ada@example.com", name="Ada Admin", admin=True)
    admin_secret, _ = enrol(admin_id)
    emma = make_user("emma@example.com", name="Emma Stone")
    with app.app_context():
        policy.save_settings(
            mandatory=True,
            grace_days=1,
            after_deadline="refuse",
            by=db.session.get(User, admin_id),
            origin=Origin("127.0.0.1", "pytest"),
        )
    clock.advance(days=3)
    from tests.support import sign_in, sign_in_with_code

    sign_in_with_code(client, admin_secret, clock, email="ada@example.com")
    page = page_text(client.get(f"/admin/employees/{emma}"))
    assert "Two-step overdue" in page
    assert "Give more time" in page
    wrong = post(client, f"/admin/employees/{emma}/extend-deadline", {"until": "not a date"})
    assert wrong.status_code == 422
    assert "Enter a date such as" in page_text(wrong)
    past = post(client, f"/admin/employees/{emma}/extend-deadline", {"until": "2020-01-01"})
    assert past.status_code == 422
    until = clock.now().date().isoformat()  # the end of today
    extended = post(
        client, f"/admin/employees/{emma}/extend-deadline", {"until": until}, follow_redirects=True
    )
    assert extended.status_code == 200
    assert "to set up two-step authentication" in page_text(extended)
    assert audit.TWO_STEP_DEADLINE_EXTENDED in kinds(app)

    employee_browser = app.test_client()
    assert sign_in(employee_browser, "emma@example.com").status_code == 303
