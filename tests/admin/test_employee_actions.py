"""The employee page: deactivate, reactivate, reset a password, and what gets recorded."""

import pytest

from portal.services import audit
from tests.admin.flows import add_employee, invitations_of, link_in
from tests.support import (
    CONFIRMED,
    DEFAULT_PASSWORD,
    audit_rows,
    is_signed_in,
    page_text,
    post,
    session_count,
    sign_in,
    user_by_email,
    user_row,
)

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def emma_browser(app, employee):
    """Emma, signed in on her own browser."""
    browser = app.test_client()
    assert sign_in(browser, "emma@example.com").status_code == 303
    assert is_signed_in(browser)
    return browser


def set_password_with(app, path: str, password: str = NEW_PASSWORD):
    browser = app.test_client()
    return post(browser, path, {"password": password, "confirm": password})


def test_the_page_shows_details_status_and_actions(admin_client, employee):
    response = admin_client.get(f"/admin/employees/{employee}")
    html = page_text(response)
    assert response.status_code == 200
    assert "hx-swap-oob" not in html
    assert "Emma Stone" in html and "emma@example.com" in html
    assert 'id="employee-access"' in html
    for action in ("deactivate", "reset-password"):
        url = f"/admin/employees/{employee}/{action}"
        assert f'method="post" action="{url}" hx-post="{url}"' in html
    assert "reactivate" not in html


@pytest.mark.parametrize("user_id", ["999", "0", "99999999999999999999"])
def test_an_unknown_employee_is_not_found(admin_client, user_id):
    assert admin_client.get(f"/admin/employees/{user_id}").status_code == 404
    assert (
        post(admin_client, f"/admin/employees/{user_id}/deactivate", CONFIRMED).status_code == 404
    )


@pytest.mark.parametrize("action", ["reactivate"])
def test_actions_are_posts_only(app, admin_client, employee, action):
    # A GET (Back or a reload after the post) changes nothing and leads to the page.
    response = admin_client.get(f"/admin/employees/{employee}/{action}")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/employees/{employee}"
    emma = user_row(app, employee)
    assert emma.active and emma.password_hash


@pytest.mark.parametrize("action", ["deactivate", "reset-password"])
def test_actions_without_csrf_token_change_nothing(
    app, admin_client, employee, emma_browser, action
):
    response = admin_client.post(f"/admin/employees/{employee}/{action}")
    assert response.status_code == 400
    emma = user_row(app, employee)
    assert emma.active and emma.password_hash
    assert is_signed_in(emma_browser)
    assert (
        audit_rows(app, audit.EMPLOYEE_DEACTIVATED)
        == audit_rows(app, audit.PASSWORD_RESET_ISSUED)
        == []
    )


def test_deactivation_ends_sessions_blocks_sign_in_and_is_recorded(
    app, admin_client, admin_user, employee, emma_browser, clock
):
    sign_in(app.test_client(), "emma@example.com")  # a second browser of hers
    assert session_count(app, employee) == 2

    response = post(
        admin_client,
        f"/admin/employees/{employee}/deactivate",
        CONFIRMED,
        headers={"User-Agent": "AdminBrowser/2.0"},
    )

    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/employees/{employee}")
    page = admin_client.get(response.headers["Location"])
    assert "Emma Stone is deactivated" in page_text(page)
    assert "Deactivated" in page_text(page)
    assert user_row(app, employee).active is False
    assert session_count(app, employee) == 0
    assert not is_signed_in(emma_browser)
    refused = sign_in(app.test_client(), "emma@example.com")
    assert refused.status_code == 422
    assert "do not match an active account" in page_text(refused)

    (event,) = audit_rows(app, audit.EMPLOYEE_DEACTIVATED)
    assert (event.actor_id, event.subject_id, event.ip) == (admin_user, employee, "127.0.0.1")
    assert event.user_agent == "AdminBrowser/2.0"
    assert event.occurred_at == clock.now()
    assert event.detail == "2 sessions ended"
    assert "Account deactivated" in page_text(page)  # in the recent activity list


def test_deactivation_by_htmx_swaps_the_access_panel(app, admin_client, employee):
    response = post(admin_client, f"/admin/employees/{employee}/deactivate", CONFIRMED, htmx=True)
    html = page_text(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="employee-access"')
    assert "<html" not in html
    assert "Emma Stone is deactivated" in html
    assert f'action="/admin/employees/{employee}/reactivate"' in html
    assert user_row(app, employee).active is False
    # The activity list below the panel is brought up to date out of band.
    events = html[html.index('id="employee-events"') :]
    assert events.startswith(
        'id="employee-events" aria-labelledby="employee-events-title" hx-swap-oob="true"'
    )
    assert "Account deactivated" in events


def test_an_admin_cannot_deactivate_themselves(app, admin_client, admin_user):
    page = page_text(admin_client.get(f"/admin/employees/{admin_user}"))
    assert "/deactivate" not in page

    response = post(admin_client, f"/admin/employees/{admin_user}/deactivate", CONFIRMED)

    assert response.status_code == 422
    assert "You cannot deactivate your own account." in page_text(response)
    assert user_row(app, admin_user).active
    assert is_signed_in(admin_client)
    assert audit_rows(app, audit.EMPLOYEE_DEACTIVATED) == []


def test_deactivating_twice_is_refused(app, admin_client, employee):
    post(admin_client, f"/admin/employees/{employee}/deactivate", CONFIRMED)
    response = post(admin_client, f"/admin/employees/{employee}/deactivate", CONFIRMED)
    assert response.status_code == 422
    assert len(audit_rows(app, audit.EMPLOYEE_DEACTIVATED)) == 1


def test_reactivation_lets_the_employee_sign_in_again(app, admin_client, admin_user, employee):
    post(admin_client, f"/admin/employees/{employee}/deactivate", CONFIRMED)

    response = post(admin_client, f"/admin/employees/{employee}/reactivate")

    assert response.status_code == 303
    assert user_row(app, employee).active
    assert sign_in(app.test_client(), "emma@example.com").status_code == 303
    (event,) = audit_rows(app, audit.EMPLOYEE_REACTIVATED)
    assert (event.actor_id, event.subject_id, event.ip) == (admin_user, employee, "127.0.0.1")
    assert post(admin_client, f"/admin/employees/{employee}/reactivate").status_code == 422


def test_reset_password_stops_the_old_one_and_gives_a_working_link(
    app, admin_client, admin_user, employee, emma_browser
):
    response = post(admin_client, f"/admin/employees/{employee}/reset-password", CONFIRMED)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    path = link_in(response)
    assert "new password link" in page_text(response)
    assert user_row(app, employee).password_hash is None
    assert session_count(app, employee) == 0
    assert not is_signed_in(emma_browser)
    assert sign_in(app.test_client(), "emma@example.com", DEFAULT_PASSWORD).status_code == 422
    (invitation,) = invitations_of(app, employee)
    assert invitation.purpose == "reset" and invitation.created_by_id == admin_user
    (event,) = audit_rows(app, audit.PASSWORD_RESET_ISSUED)
    assert (event.actor_id, event.subject_id, event.ip) == (admin_user, employee, "127.0.0.1")
    assert "1 session ended" in event.detail

    # The link lets Emma choose a new password; only that one works afterwards.
    form = app.test_client().get(path)
    assert form.status_code == 200 and "Choose a new password" in page_text(form)
    assert set_password_with(app, path).status_code == 303
    assert sign_in(app.test_client(), "emma@example.com", DEFAULT_PASSWORD).status_code == 422
    assert sign_in(app.test_client(), "emma@example.com", NEW_PASSWORD).status_code == 303


def test_reset_by_htmx_shows_the_link_in_the_panel(admin_client, employee):
    response = post(
        admin_client, f"/admin/employees/{employee}/reset-password", CONFIRMED, htmx=True
    )
    html = page_text(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="employee-access"')
    link_in(response)
    # The Details card rides along: the old password no longer counts as "last set".
    details = html[html.index('id="employee-details"') :]
    details = details[: details.index("</section>")]
    assert 'hx-swap-oob="true"' in html[html.index('id="employee-details"') - 40 :][:200]
    assert "reset, waiting for a new one" in details and "last set" not in details


def test_a_new_link_replaces_the_unused_invitation(app, admin_client):
    first = add_employee(admin_client)
    noah = user_by_email(app, "noah@example.com")
    page = page_text(admin_client.get(f"/admin/employees/{noah.id}"))
    assert "New invitation link" in page and "Reset password" not in page

    second = link_in(post(admin_client, f"/admin/employees/{noah.id}/reset-password", CONFIRMED))

    assert app.test_client().get(first).status_code == 404
    assert app.test_client().get(second).status_code == 200
    assert [i.purpose for i in invitations_of(app, noah.id)] == ["invite", "invite"]


def test_no_password_link_for_a_deactivated_employee(app, admin_client, employee):
    post(admin_client, f"/admin/employees/{employee}/deactivate", CONFIRMED)
    response = post(admin_client, f"/admin/employees/{employee}/reset-password", CONFIRMED)
    assert response.status_code == 422
    assert "Reactivate the account" in page_text(response)
    assert invitations_of(app, employee) == []
    assert user_row(app, employee).password_hash is not None


def test_an_admin_can_reset_another_admin(app, admin_client, make_user):
    other = make_user("olga@example.com", name="Olga Admin", admin=True)
    assert (
        post(admin_client, f"/admin/employees/{other}/reset-password", CONFIRMED).status_code == 200
    )
    assert user_row(app, other).password_hash is None


def test_recent_activity_shows_what_happened_to_the_employee(
    app, admin_client, employee, emma_browser
):
    post(admin_client, f"/admin/employees/{employee}/deactivate", CONFIRMED)
    post(admin_client, f"/admin/employees/{employee}/reactivate")
    html = page_text(admin_client.get(f"/admin/employees/{employee}"))
    events = html[html.index("Recent activity") :]
    assert (
        events.index("Account reactivated")
        < events.index("Account deactivated")
        < events.index("Signed in")
    )
    assert "Ada Admin" in events and "127.0.0.1" in events
    assert "<caption" in events
