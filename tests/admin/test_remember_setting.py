"""The security settings page's "remember a browser for N days": its field, saving, the
preview, the audit row, and what turning it off does to the remembered browsers."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal.database import db
from portal.models import Company, RememberedBrowser
from tests.support import audit_rows, page_text, post, sign_in, totp_code

PAGE = "/admin/security"
PREVIEW = "/admin/security/preview"
POLICY = {"grace_days": "5", "after_deadline": "refuse"}


def saved_days(app) -> int:
    with app.app_context():
        return db.session.get(Company, 1).remember_browser_days


def remembered_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(RememberedBrowser.id)))


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_off_by_default_and_the_field_is_labelled(app, admin_client):
    assert saved_days(app) == 0
    html = page_text(admin_client.get(PAGE))
    field = re.search(r'<input[^>]*name="remember_days"[^>]*>', html).group(0)
    assert 'id="remember_days"' in field and 'value="0"' in field
    assert 'type="number"' in field and 'inputmode="numeric"' in field
    assert 'min="0"' in field and 'max="90"' in field
    assert '<label class="field__label" for="remember_days">Remember a browser for</label>' in html
    assert "Browsers are not remembered: the code is asked at every sign-in." in text_of(html)


@pytest.mark.parametrize("htmx", [False, True])
def test_saving_the_days_is_recorded(app, admin_client, admin_user, htmx):
    response = post(admin_client, PAGE, {**POLICY, "remember_days": "30"}, htmx=htmx)

    assert response.status_code == (200 if htmx else 303)
    assert saved_days(app) == 30
    [event] = audit_rows(app, "two_step_policy_changed")
    assert event.actor_id == admin_user
    assert event.detail == "remember a browser: off -> 30 days"
    html = page_text(admin_client.get(PAGE))
    assert 'value="30"' in re.search(r'<input[^>]*name="remember_days"[^>]*>', html).group(0)
    assert "Employees may have a browser remembered for 30 days" in text_of(html)


@pytest.mark.parametrize("value", ["91", "-1", "2.5", "٣", "thirty", "9" * 20])
@pytest.mark.parametrize("path", [PAGE, PREVIEW])
def test_bad_days_get_a_message_and_change_nothing(app, admin_client, value, path):
    response = post(admin_client, path, {**POLICY, "remember_days": value}, htmx=True)

    assert response.status_code == 422
    assert "from 0 to 90 (0 turns it off)" in page_text(response)
    assert 'role="alert"' in page_text(response)
    assert saved_days(app) == 0
    assert audit_rows(app, "two_step_policy_changed") == []


def test_left_empty_it_is_off(app, admin_client):
    post(admin_client, PAGE, {**POLICY, "remember_days": "14"})
    response = post(admin_client, PAGE, {**POLICY, "remember_days": ""})
    assert response.status_code == 303
    assert saved_days(app) == 0
    assert audit_rows(app, "two_step_policy_changed")[-1].detail == (
        "remember a browser: 14 days -> off"
    )


def test_the_preview_says_what_saving_would_do(app, admin_client):
    response = post(admin_client, PREVIEW, {**POLICY, "remember_days": "1"}, htmx=True)
    text = text_of(page_text(response))
    assert "If you save these settings" in text
    assert "Employees may have a browser remembered for 1 day: it skips the code" in text
    assert saved_days(app) == 0


def test_turning_it_off_forgets_every_remembered_browser(
    app, client, clock, admin_user, employee, enrol
):
    secret, _ = enrol(employee)
    admin_secret, _ = enrol(admin_user)
    with app.app_context():
        db.session.get(Company, 1).remember_browser_days = 30
        db.session.commit()
    sign_in(client, "emma@example.com")
    post(client, "/login/code", {"code": totp_code(secret, clock), "remember": "y"})
    clock.advance(seconds=30)
    admin = app.test_client()
    sign_in(admin, "ada@example.com")
    post(admin, "/login/code", {"code": totp_code(admin_secret, clock), "remember": "y"})
    clock.advance(seconds=30)
    assert remembered_count(app) == 2

    preview = post(admin, PREVIEW, {**POLICY, "remember_days": "0"}, htmx=True)
    assert "the 2 remembered browsers are forgotten" in text_of(page_text(preview))
    assert remembered_count(app) == 2

    assert post(admin, PAGE, {**POLICY, "remember_days": "0"}).status_code == 303

    assert remembered_count(app) == 0
    assert audit_rows(app, "two_step_policy_changed")[-1].detail == (
        "remember a browser: 30 days -> off; 2 remembered browsers forgotten"
    )
    # Turned on again, the old cookies do not come back to life.
    with app.app_context():
        db.session.get(Company, 1).remember_browser_days = 30
        db.session.commit()
    post(client, "/logout")
    assert sign_in(client, "emma@example.com").headers["Location"].startswith("/login/code")
