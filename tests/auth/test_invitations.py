"""Invitation and password links: single use, seven days, and the invitee's first sign-in."""

import pytest

from portal.services import audit
from tests.admin.flows import add_employee, invitations_of
from tests.support import CONFIRMED, audit_rows, page_text, post, sign_in, user_by_email

PASSWORD = "my first real passphrase"


@pytest.fixture
def invitation(client, admin_user, clock) -> str:
    """The path of a fresh invitation for Noah Brook, made by Ada through the portal."""
    sign_in(client, "ada@example.com")
    return add_employee(client, "Noah Brook", "noah@example.com")


def accept(app, path: str, password: str = PASSWORD, confirm: str | None = None):
    browser = app.test_client()
    return post(
        browser, path, {"password": password, "confirm": password if confirm is None else confirm}
    )


def test_the_invitee_sets_a_password_and_signs_in(app, invitation):
    noah = app.test_client()
    page = noah.get(invitation)
    assert page.status_code == 200
    assert "Welcome, Noah Brook" in page_text(page) and "noah@example.com" in page_text(page)

    response = post(noah, invitation, {"password": PASSWORD, "confirm": PASSWORD})

    assert response.status_code == 303
    assert response.headers["Location"].endswith("/login?email=noah@example.com")
    assert sign_in(noah, "noah@example.com", PASSWORD).status_code == 303
    assert noah.get("/profile/").status_code == 200
    user = user_by_email(app, "noah@example.com")
    assert user.password_hash and user.password_changed_at is not None
    (used,) = invitations_of(app, user.id)
    assert used.used_at is not None
    (event,) = audit_rows(app, audit.INVITATION_ACCEPTED)
    assert event.actor_id == user.id and event.ip == "127.0.0.1" and event.detail == "invite"


def test_the_link_works_once(app, invitation):
    assert accept(app, invitation).status_code == 303

    again = app.test_client().get(invitation)
    assert again.status_code == 404
    assert "This link is not valid" in page_text(again)
    second = accept(app, invitation, "someone else's passphrase")
    assert second.status_code == 404
    assert (
        sign_in(app.test_client(), "noah@example.com", "someone else's passphrase").status_code
        == 422
    )
    assert sign_in(app.test_client(), "noah@example.com", PASSWORD).status_code == 303


def test_the_link_lasts_seven_days(app, invitation, clock):
    clock.advance(days=7, seconds=-1)
    assert app.test_client().get(invitation).status_code == 200
    clock.advance(seconds=1)
    assert app.test_client().get(invitation).status_code == 404
    assert accept(app, invitation).status_code == 404
    assert user_by_email(app, "noah@example.com").password_hash is None


def test_a_weak_password_is_refused_and_the_link_stays_valid(app, invitation):
    response = accept(app, invitation, "short")
    assert response.status_code == 422
    assert "Use at least 10 characters." in page_text(response)
    assert user_by_email(app, "noah@example.com").password_hash is None
    assert accept(app, invitation).status_code == 303


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        (PASSWORD, "something different", "The two passwords differ."),
        ("", "", "Choose a password."),
        ("noah@example.com", "noah@example.com", "must not be your email"),
        ("x" * 1_000_000, "x" * 1_000_000, "Field cannot be longer than"),
    ],
)
def test_bad_passwords_are_refused(app, invitation, password, confirm, message):
    response = accept(app, invitation, password, confirm)
    assert response.status_code == 422
    assert message in page_text(response)
    assert user_by_email(app, "noah@example.com").password_hash is None


def test_a_post_without_csrf_token_sets_nothing(app, invitation):
    response = app.test_client().post(invitation, data={"password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 400
    assert user_by_email(app, "noah@example.com").password_hash is None


@pytest.mark.parametrize("token", ["nope", "x" * 200, "%00", "%ff%fe"])
def test_unknown_links_are_not_found(client, company, token):
    response = client.get(f"/invitation/{token}")
    assert response.status_code == 404
    assert "This link is not valid" in page_text(response)


def test_a_deactivated_employee_cannot_use_the_link(app, client, invitation):
    noah = user_by_email(app, "noah@example.com")
    post(client, f"/admin/employees/{noah.id}/deactivate", CONFIRMED)
    assert app.test_client().get(invitation).status_code == 404
    assert accept(app, invitation).status_code == 404


def test_accepting_a_link_signs_out_the_browser_that_used_it(app, invitation, make_user):
    make_user("emma@example.com", name="Emma Stone")
    shared = app.test_client()
    sign_in(shared, "emma@example.com")
    post(shared, invitation, {"password": PASSWORD, "confirm": PASSWORD})
    assert shared.get("/profile/").status_code == 302
