"""Only administrators reach the administration pages; nobody else changes anything there."""

import pytest

from portal.database import db
from portal.models import Company
from tests.support import (
    HTMX_HEADERS,
    audit_rows,
    post,
    session_count,
    sign_in,
    user_by_email,
    user_row,
)

GET_ROUTES = [
    "/admin/",
    "/admin/?q=emma&page=1",
    "/admin/?state=overdue",
    "/admin/employees/new",
    "/admin/employees/{id}",
    "/admin/security",
    "/admin/audit",
    "/admin/audit?person=emma&kind=sign_in&from=2026-01-01&to=2026-12-31",
    "/admin/audit.csv",
    "/admin/audit.csv?person=emma",
]
POST_ROUTES = [
    "/admin/employees/new",
    "/admin/employees/{id}/deactivate",
    "/admin/employees/{id}/reactivate",
    "/admin/employees/{id}/reset-password",
    "/admin/security",
    "/admin/security/preview",
]
NEW_EMPLOYEE = {"name": "Mallory", "email": "mallory@example.com", "role": "admin"}
POLICY = {"mandatory": "y", "grace_days": "0", "after_deadline": "setup"}


@pytest.fixture
def colleague(make_user):
    return make_user("colin@example.com", name="Colin Park")


@pytest.mark.parametrize("path", GET_ROUTES)
@pytest.mark.parametrize("htmx", [False, True])
def test_an_employee_gets_403_on_every_page(client, employee, colleague, path, htmx):
    sign_in(client, "emma@example.com")
    response = client.get(path.format(id=colleague), headers=HTMX_HEADERS if htmx else {})
    assert response.status_code == 403


@pytest.mark.parametrize("path", POST_ROUTES)
@pytest.mark.parametrize("htmx", [False, True])
def test_an_employee_gets_403_on_every_action_and_nothing_changes(
    app, client, employee, colleague, path, htmx
):
    sign_in(client, "emma@example.com")
    other = app.test_client()
    sign_in(other, "colin@example.com")
    before = len(audit_rows(app))

    response = post(client, path.format(id=colleague), {**NEW_EMPLOYEE, **POLICY}, htmx=htmx)

    assert response.status_code == 403
    assert company_policy(app) == (False, 5, "refuse")
    target = user_row(app, colleague)
    assert target.active and target.password_hash
    assert session_count(app, colleague) == 1
    assert len(audit_rows(app)) == before
    assert user_by_email(app, "mallory@example.com") is None


@pytest.mark.parametrize("path", GET_ROUTES)
def test_signed_out_visitors_are_sent_to_sign_in(client, colleague, path):
    response = client.get(path.format(id=colleague))
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("path", POST_ROUTES)
def test_signed_out_posts_change_nothing(app, client, colleague, path):
    response = post(client, path.format(id=colleague), {**NEW_EMPLOYEE, **POLICY})
    assert response.status_code == 302
    assert user_row(app, colleague).active
    assert audit_rows(app) == []
    assert company_policy(app) == (False, 5, "refuse")


def company_policy(app) -> tuple[bool, int, str]:
    with app.app_context():
        company = db.session.get(Company, 1)
        return (
            company.two_step_mandatory,
            company.two_step_grace_days,
            company.two_step_after_deadline,
        )


def test_the_header_links_administration_for_admins_only(
    client, other_client, employee, admin_user
):
    sign_in(client, "emma@example.com")
    sign_in(other_client, "ada@example.com")
    assert 'href="/admin/"' not in client.get("/profile/").get_data(as_text=True)
    assert 'href="/admin/"' in other_client.get("/profile/").get_data(as_text=True)
