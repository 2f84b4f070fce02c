"""The activity list on an employee's page: ten at a time, "Show more" by htmx or as a
plain link, and what an administrator did to others named on their own page."""

from __future__ import annotations

from tests.support import page_text, post, sign_in


def sign_ins(app, email: str, count: int) -> None:
    for _ in range(count):
        assert sign_in(app.test_client(), email).status_code == 303


def test_ten_entries_and_a_link_to_more(app, admin_client, employee):
    sign_ins(app, "emma@example.com", 12)
    html = page_text(admin_client.get(f"/admin/employees/{employee}"))
    events = html[html.index('id="employee-events"') :]
    assert events.count("<tr>") == 1 + 10  # the head row and ten entries
    assert f'href="/admin/employees/{employee}?activity=20#employee-events"' in events
    assert f'hx-get="/admin/employees/{employee}/activity?shown=20"' in events


def test_show_more_by_htmx_swaps_the_list_with_more_entries(app, admin_client, employee):
    sign_ins(app, "emma@example.com", 12)
    response = admin_client.get(
        f"/admin/employees/{employee}/activity?shown=20", headers={"HX-Request": "true"}
    )
    html = page_text(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card admin-events" id="employee-events"')
    assert "<html" not in html and "hx-swap-oob" not in html
    assert html.count("<tr>") == 1 + 12
    assert "Show more" not in html


def test_show_more_without_javascript_is_the_page_with_more_entries(app, admin_client, employee):
    sign_ins(app, "emma@example.com", 12)
    response = admin_client.get(f"/admin/employees/{employee}/activity?shown=20")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(
        f"/admin/employees/{employee}?activity=20#employee-events"
    )
    html = page_text(admin_client.get(f"/admin/employees/{employee}?activity=20"))
    assert html[html.index('id="employee-events"') :].count("<tr>") == 1 + 12


def test_an_odd_count_asked_for_is_kept_in_range(app, admin_client, employee):
    for shown in ("abc", "-1", "99999999999999999999", "1e9"):
        response = admin_client.get(
            f"/admin/employees/{employee}/activity?shown={shown}", headers={"HX-Request": "true"}
        )
        assert response.status_code == 200


def test_an_administrators_own_page_names_whom_they_acted_on(app, admin_client, admin_user):
    post(
        admin_client,
        "/admin/employees/new",
        {"name": "Carol Chen", "email": "carol@example.com", "role": "employee"},
    )
    html = page_text(admin_client.get(f"/admin/employees/{admin_user}"))
    events = html[html.index('id="employee-events"') :]
    assert "Added Carol Chen" in events
    assert "themselves" not in events
    assert "Employee added" not in events
