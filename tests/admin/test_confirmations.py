"""Destructive actions on an employee ask first: a page of its own without JavaScript."""

import pytest

from portal.services import audit
from tests.admin.flows import add_employee, link_in
from tests.support import (
    CONFIRMED,
    audit_rows,
    is_signed_in,
    page_text,
    post,
    sign_in,
    user_by_email,
    user_row,
)

ACTIONS = {
    "deactivate": ("Deactivate Emma Stone?", "Deactivate"),
    "reset-password": ("Reset Emma Stone&#39;s password?", "Reset password"),
    "reset-two-step": (
        "Reset Emma Stone&#39;s two-step authentication?",
        "Reset two-step authentication",
    ),
}


@pytest.fixture
def emma(employee, enrol):
    """Emma, with two-step authentication on, so that every action applies to her."""
    enrol(employee)
    return employee


def unchanged(app, employee) -> None:
    row = user_row(app, employee)
    assert row.active and row.password_hash and row.totp_secret is not None
    assert audit_rows(app, audit.EMPLOYEE_DEACTIVATED) == []
    assert audit_rows(app, audit.PASSWORD_RESET_ISSUED) == []
    assert audit_rows(app, audit.TWO_STEP_RESET) == []


@pytest.mark.parametrize("action", ACTIONS)
def test_a_first_click_without_javascript_asks_on_a_page_and_changes_nothing(
    admin_with_two_step, app, employee, emma, action
):
    question, button = ACTIONS[action]
    url = f"/admin/employees/{employee}/{action}"
    data = {"reason": "lost phone and codes"} if action == "reset-two-step" else {}

    asked = post(admin_with_two_step, url, data)

    assert asked.status_code == 200
    html = page_text(asked)
    assert f'<h2 id="confirm-title">{question}</h2>' in html
    assert f'<form method="post" action="{url}"' in html
    assert '<input type="hidden" name="confirmed" value="yes">' in html
    assert f'class="button button--danger">{button}</button>' in html
    assert f'href="/admin/employees/{employee}">Cancel</a>' in html
    if action == "reset-two-step":
        assert 'value="lost phone and codes"' in html  # the reason goes on with the answer
    unchanged(app, employee)


@pytest.mark.parametrize("action", ACTIONS)
def test_the_confirmation_page_opens_from_a_link_too(
    admin_with_two_step, app, employee, emma, action
):
    question, _button = ACTIONS[action]
    page = admin_with_two_step.get(f"/admin/employees/{employee}/{action}")
    assert page.status_code == 200
    html = page_text(page)
    assert question in html and "<h1" in html
    if action == "reset-two-step":
        assert 'for="reason"' in html
    unchanged(app, employee)


def test_an_answer_other_than_yes_is_refused(admin_with_two_step, app, employee, emma):
    response = post(
        admin_with_two_step, f"/admin/employees/{employee}/deactivate", {"confirmed": "no"}
    )
    assert response.status_code == 422
    assert "Nothing was done" in page_text(response)
    unchanged(app, employee)


def test_confirmed_deactivation_acts(admin_with_two_step, app, employee, emma):
    done = post(admin_with_two_step, f"/admin/employees/{employee}/deactivate", CONFIRMED)
    assert done.status_code == 303
    assert not user_row(app, employee).active


def test_confirmed_reset_of_two_step_acts_with_the_reason(admin_with_two_step, app, employee, emma):
    done = post(
        admin_with_two_step,
        f"/admin/employees/{employee}/reset-two-step",
        {**CONFIRMED, "reason": "lost phone and codes"},
    )
    assert done.status_code == 303
    assert user_row(app, employee).totp_secret is None
    assert [event.detail for event in audit_rows(app, audit.TWO_STEP_RESET)] == [
        "lost phone and codes"
    ]


def test_a_first_invitation_link_needs_no_question(admin_client, app):
    add_employee(admin_client)
    noah_id = user_by_email(app, "noah@example.com").id
    page = page_text(admin_client.get(f"/admin/employees/{noah_id}"))
    assert "data-confirm-title" not in page.split("New invitation link")[0].rsplit("<form", 1)[1]
    response = post(admin_client, f"/admin/employees/{noah_id}/reset-password")
    assert response.status_code == 200
    assert link_in(response)


def test_the_page_names_the_questions_for_the_dialog(admin_with_two_step, employee, emma):
    html = page_text(admin_with_two_step.get(f"/admin/employees/{employee}"))
    assert "hx-confirm" not in html  # the browser's own confirm() is gone
    for question, button in ACTIONS.values():
        assert f'data-confirm-title="{question}"' in html
        assert f'data-confirm-button="{button}"' in html
    assert '<script src="/static/admin.js" defer></script>' in html


def test_admin_js_is_not_loaded_outside_the_administration(app, make_user):
    make_user("olga@example.com", name="Olga Berg")
    olga = app.test_client()
    sign_in(olga, "olga@example.com")
    assert is_signed_in(olga)
    page = page_text(olga.get("/profile/security"))
    assert "Olga Berg" in page and "admin.js" not in page
