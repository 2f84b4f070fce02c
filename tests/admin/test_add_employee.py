"""Adding an employee: the account, its invitation link shown once, the audit row, bad input."""

from datetime import timedelta

import pytest

from portal.services import audit
from tests.admin.flows import add_employee, invitations_of, link_in
from tests.support import audit_rows, csrf_token, page_text, post, user_by_email


def test_the_form_has_a_label_for_every_field(admin_client):
    html = page_text(admin_client.get("/admin/employees/new"))
    for field in ("name", "email", "role"):
        assert f'for="{field}"' in html and f'id="{field}"' in html
    assert 'method="post" action="/admin/employees/new"' in html
    assert 'hx-post="/admin/employees/new"' in html


def test_adding_makes_an_account_without_password_and_a_seven_day_link(
    app, admin_client, admin_user, clock
):
    response = post(
        admin_client,
        "/admin/employees/new",
        {"name": "  Noah Brook ", "email": "Noah@Example.com", "role": "employee"},
        headers={"User-Agent": "AdminBrowser/1.0"},
    )

    assert response.status_code == 200
    html = page_text(response)
    assert "Noah Brook is added" in html
    assert 'data-copy-target="invite-link-url"' in html and "data-needs-js" in html
    assert response.headers["Cache-Control"] == "no-store"
    path = link_in(response)

    noah = user_by_email(app, "noah@example.com")
    assert noah.name == "Noah Brook"
    assert noah.password_hash is None and noah.active and noah.role == "employee"
    (invitation,) = invitations_of(app, noah.id)
    assert invitation.purpose == "invite" and invitation.used_at is None
    assert invitation.created_by_id == admin_user
    assert invitation.expires_at == clock.now() + timedelta(days=7)
    assert path.rsplit("/", 1)[1] not in invitation.token_hash  # only a hash is stored

    (event,) = audit_rows(app, audit.EMPLOYEE_ADDED)
    assert (event.actor_id, event.subject_id) == (admin_user, noah.id)
    assert event.ip == "127.0.0.1" and event.user_agent == "AdminBrowser/1.0"
    assert event.occurred_at == clock.now()
    assert "employee" in event.detail


def test_the_link_is_shown_once_only(app, admin_client):
    path = add_employee(admin_client)
    noah = user_by_email(app, "noah@example.com")
    later = page_text(admin_client.get(f"/admin/employees/{noah.id}"))
    assert path not in later
    assert "An unused invitation link is waiting" in later
    assert path not in page_text(admin_client.get("/admin/"))


def test_an_administrator_can_be_added(app, admin_client):
    add_employee(admin_client, "Ida Boss", "ida@example.com", role="admin")
    assert user_by_email(app, "ida@example.com").role == "admin"


def test_htmx_gets_the_panel_back_with_the_link(app, admin_client):
    response = post(
        admin_client,
        "/admin/employees/new",
        {"name": "Noah Brook", "email": "noah@example.com", "role": "employee"},
        htmx=True,
    )
    html = page_text(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="add-employee"')
    assert "<html" not in html
    link_in(response)


def test_htmx_form_errors_come_back_in_the_panel(admin_client):
    response = post(
        admin_client,
        "/admin/employees/new",
        {"name": "", "email": "x", "role": "employee"},
        htmx=True,
    )
    html = page_text(response)
    assert response.status_code == 422
    assert html.lstrip().startswith('<section class="card" id="add-employee"')
    assert "Enter the employee&#39;s name." in html
    assert "Enter a valid email address." in html


@pytest.mark.parametrize("email", ["emma@example.com", " EMMA@example.COM "])
def test_a_taken_email_is_refused_with_a_clear_message(app, admin_client, employee, email):
    before = len(audit_rows(app))
    response = post(
        admin_client,
        "/admin/employees/new",
        {"name": "Emma Two", "email": email, "role": "employee"},
    )
    assert response.status_code == 422
    assert "An account with this email already exists." in page_text(response)
    assert 'aria-invalid="true"' in page_text(response)
    assert user_by_email(app, "emma@example.com").name == "Emma Stone"
    assert invitations_of(app, employee) == []
    assert len(audit_rows(app)) == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"name": "", "email": "a@example.com", "role": "employee"},
            "Enter the employee&#39;s name.",
        ),
        (
            {"name": "   ", "email": "a@example.com", "role": "employee"},
            "Enter the employee&#39;s name.",
        ),
        ({"name": "Al", "email": "", "role": "employee"}, "Enter the employee&#39;s email."),
        (
            {"name": "Al", "email": "not an email", "role": "employee"},
            "Enter a valid email address.",
        ),
        (
            {"name": "Al", "email": "a@example.com", "role": "owner"},
            "Choose Employee or Administrator.",
        ),
        ({"name": "Al\x00", "email": "a@example.com", "role": "employee"}, "Use letters, digits"),
        ({"name": "Al", "email": "a\x00@example.com", "role": "employee"}, "Use letters, digits"),
        (
            {"name": "A" * 1_000_000, "email": "a@example.com", "role": "employee"},
            "Field cannot be longer than 120",
        ),
        (
            {"name": "Al", "email": "a" * 300 + "@example.com", "role": "employee"},
            "Field cannot be longer than 254",
        ),
    ],
)
def test_bad_input_is_refused_and_nothing_is_made(app, admin_client, data, message):
    before = len(audit_rows(app))
    response = post(admin_client, "/admin/employees/new", data)
    assert response.status_code == 422
    assert message in page_text(response)
    assert user_by_email(app, "a@example.com") is None
    assert len(audit_rows(app)) == before


def test_without_a_role_the_new_account_is_an_employee(app, admin_client):
    add_employee_response = post(
        admin_client, "/admin/employees/new", {"name": "Al", "email": "a@example.com"}
    )
    assert add_employee_response.status_code == 200
    assert user_by_email(app, "a@example.com").role == "employee"


def test_invalid_utf8_is_refused(app, admin_client):
    token = csrf_token(admin_client).encode()
    parts = [
        (b"csrf_token", token),
        (b"name", b"Al\xff\xfe"),
        (b"email", b"a@example.com"),
        (b"role", b"employee"),
    ]
    body = (
        b"".join(
            b'--B\r\nContent-Disposition: form-data; name="' + name + b'"\r\n\r\n' + value + b"\r\n"
            for name, value in parts
        )
        + b"--B--\r\n"
    )
    response = admin_client.post(
        "/admin/employees/new", data=body, content_type="multipart/form-data; boundary=B"
    )
    assert response.status_code == 422
    assert "Use letters, digits" in page_text(response)
    assert user_by_email(app, "a@example.com") is None


def test_without_the_csrf_token_nothing_is_made(app, admin_client):
    response = admin_client.post(
        "/admin/employees/new", data={"name": "Al", "email": "a@example.com", "role": "employee"}
    )
    assert response.status_code == 400
    assert user_by_email(app, "a@example.com") is None
    assert audit_rows(app, audit.EMPLOYEE_ADDED) == []
