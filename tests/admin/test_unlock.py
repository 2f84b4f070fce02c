"""A code step locked by wrong codes, as the administrator sees it, and unlocking it."""

import re

from portal.services import audit
from tests.admin.flows import lock_out
from tests.support import audit_rows, page_text, post, sign_in, totp_code, user_row

LOCK_BADGE = '<span class="badge badge--danger">Code step locked</span>'
UNLOCK_BUTTON = '<button type="submit" class="button">Unlock</button>'


def plain(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page_text(response)).split())


def test_a_locked_code_step_shows_on_the_employee_page_and_in_the_list(
    admin_client, app, employee, enrol, clock
):
    secret, _codes = enrol(employee)
    before = page_text(admin_client.get(f"/admin/employees/{employee}"))
    assert LOCK_BADGE not in before and UNLOCK_BUTTON not in before

    lock_out(app.test_client(), secret, clock)

    html = page_text(admin_client.get(f"/admin/employees/{employee}"))
    assert LOCK_BADGE in html and UNLOCK_BUTTON in html
    page = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert re.search(r"locked Emma Stone's code step until 2026-03-02 \d\d:\d\d", page)
    listing = plain(admin_client.get("/admin/?q=emma"))
    assert re.search(r"Locked code step until 2026-03-02 \d\d:\d\d", listing)

    clock.advance(minutes=16)  # the lock runs out by itself
    assert LOCK_BADGE not in page_text(admin_client.get(f"/admin/employees/{employee}"))
    assert "Locked" not in plain(admin_client.get("/admin/?q=emma"))


def test_unlock_lets_the_employee_in_at_once_and_is_recorded(
    admin_client, app, admin_user, employee, enrol, clock
):
    secret, _codes = enrol(employee)
    emma = app.test_client()
    lock_out(emma, secret, clock)
    sign_in(emma, "emma@example.com")
    assert post(emma, "/login/code", {"code": totp_code(secret, clock)}).status_code == 429

    response = post(admin_client, f"/admin/employees/{employee}/unlock-two-step", htmx=True)
    assert response.status_code == 200
    assert "Emma Stone can type codes again now." in page_text(response)
    assert LOCK_BADGE not in page_text(response) and UNLOCK_BUTTON not in page_text(response)
    row = user_row(app, employee)
    assert (row.second_step_failures, row.second_step_locked_until) == (0, None)
    (event,) = audit_rows(app, audit.TWO_STEP_UNLOCKED)
    assert (event.actor_id, event.subject_id) == (admin_user, employee)
    assert "Code step unlocked by an administrator" in page_text(response)  # activity, oob

    clock.advance(seconds=30)
    sign_in(emma, "emma@example.com")
    assert post(emma, "/login/code", {"code": totp_code(secret, clock)}).status_code == 303


def test_unlock_without_javascript_and_when_nothing_is_locked(
    admin_client, app, employee, enrol, clock
):
    secret, _codes = enrol(employee)
    nothing = post(admin_client, f"/admin/employees/{employee}/unlock-two-step")
    assert nothing.status_code == 422
    assert "is not locked" in page_text(nothing)
    assert audit_rows(app, audit.TWO_STEP_UNLOCKED) == []

    lock_out(app.test_client(), secret, clock)
    done = post(admin_client, f"/admin/employees/{employee}/unlock-two-step")
    assert done.status_code == 303
    assert done.headers["Location"] == f"/admin/employees/{employee}"
    assert "Emma Stone can type codes again now." in page_text(
        admin_client.get(done.headers["Location"])
    )
    # A second administrator's click, a moment later, finds nothing to unlock.
    again = post(admin_client, f"/admin/employees/{employee}/unlock-two-step")
    assert again.status_code == 422
    assert len(audit_rows(app, audit.TWO_STEP_UNLOCKED)) == 1


def test_an_administrator_cannot_unlock_their_own_code_step(admin_client, app, admin_user, clock):
    from datetime import timedelta

    from portal.database import db
    from portal.models import User

    with app.app_context():
        ada = db.session.get(User, admin_user)
        ada.second_step_failures = 10
        ada.second_step_locked_until = clock.now() + timedelta(minutes=15)
        db.session.commit()
    page = page_text(admin_client.get(f"/admin/employees/{admin_user}"))
    assert LOCK_BADGE in page and UNLOCK_BUTTON not in page
    refused = post(admin_client, f"/admin/employees/{admin_user}/unlock-two-step")
    assert refused.status_code == 422
    assert "Ask another administrator" in page_text(refused)
    assert user_row(app, admin_user).second_step_failures == 10
    assert audit_rows(app, audit.TWO_STEP_UNLOCKED) == []
