"""The profile page: name and email, and changing the password."""

import pytest

from portal.services import accounts, audit
from tests.support import (
    DEFAULT_PASSWORD,
    audit_rows,
    is_signed_in,
    page_text,
    post,
    session_count,
    sign_in,
    user_row,
)

NEW_PASSWORD = "another good passphrase"


@pytest.fixture
def emma(client, employee):
    sign_in(client, "emma@example.com")
    return client


def change_password(client, current=DEFAULT_PASSWORD, new=NEW_PASSWORD, confirm=None, **kwargs):
    return post(
        client,
        "/profile/password",
        {
            "current_password": current,
            "new_password": new,
            "confirm": new if confirm is None else confirm,
        },
        **kwargs,
    )


def test_the_profile_shows_name_and_email_with_labels(emma):
    html = page_text(emma.get("/profile/"))
    assert 'value="Emma Stone"' in html and 'value="emma@example.com"' in html
    for field in ("name", "email", "current_password", "new_password", "confirm"):
        assert f'for="{field}"' in html


def test_signed_out_visitors_are_sent_to_sign_in(client):
    assert client.get("/profile/").status_code == 302


def test_name_and_email_are_saved(app, emma, employee):
    response = post(
        emma,
        "/profile/details",
        {
            "name": " Emma Rivers ",
            "email": "Emma.Rivers@Example.com",
            "password": DEFAULT_PASSWORD,
        },
    )

    assert response.status_code == 303
    user = user_row(app, employee)
    assert (user.name, user.email) == ("Emma Rivers", "emma.rivers@example.com")
    assert "Your profile is saved." in page_text(emma.get(response.headers["Location"]))
    (event,) = audit_rows(app, audit.PROFILE_CHANGED)
    assert event.actor_id == employee and event.ip == "127.0.0.1"
    assert event.detail == "name Emma Stone -> Emma Rivers"
    (changed,) = audit_rows(app, audit.EMAIL_CHANGED)
    assert changed.actor_id == employee and changed.ip == "127.0.0.1"
    assert changed.detail == "emma@example.com -> emma.rivers@example.com"
    assert sign_in(app.test_client(), "emma.rivers@example.com").status_code == 303


def test_the_name_alone_changes_without_the_password(app, emma, employee):
    response = post(emma, "/profile/details", {"name": "Emma Rivers", "email": "emma@example.com"})
    assert response.status_code == 303
    assert user_row(app, employee).name == "Emma Rivers"
    assert audit_rows(app, audit.EMAIL_CHANGED) == []


@pytest.mark.parametrize(
    ("password", "message"),
    [("", "Enter your current password to change your email."), ("wrong one", "not right")],
)
def test_a_new_email_needs_the_current_password(app, emma, employee, password, message):
    response = post(
        emma,
        "/profile/details",
        {"name": "Emma Rivers", "email": "emma.rivers@example.com", "password": password},
    )
    assert response.status_code == 422
    assert message in page_text(response)
    user = user_row(app, employee)
    assert (user.name, user.email) == ("Emma Stone", "emma@example.com")
    assert audit_rows(app, audit.EMAIL_CHANGED) == []
    assert audit_rows(app, audit.PROFILE_CHANGED) == []
    if password:
        assert len(audit_rows(app, audit.PASSWORD_CONFIRM_FAILED)) == 1


def test_the_details_form_asks_for_the_password_with_a_label(emma):
    html = page_text(emma.get("/profile/"))
    assert '<label class="field__label" for="password">Current password</label>' in html
    assert 'autocomplete="current-password"' in html
    assert "Needed only to change your email." in html


def test_email_changes_are_rate_limited(app, emma, employee, limiter_clock):
    for n in range(5):
        response = post(
            emma,
            "/profile/details",
            {"name": "Emma", "email": f"emma{n}@example.com", "password": DEFAULT_PASSWORD},
        )
        assert response.status_code == 303
    refused = post(
        emma,
        "/profile/details",
        {"name": "Emma", "email": "emma9@example.com", "password": DEFAULT_PASSWORD},
    )
    assert refused.status_code == 429
    assert user_row(app, employee).email == "emma4@example.com"
    # Saving the name alone is not held back.
    kept = post(emma, "/profile/details", {"name": "Emma R", "email": "emma4@example.com"})
    assert kept.status_code == 303


def test_htmx_save_swaps_the_details_panel(app, emma, employee):
    response = post(
        emma, "/profile/details", {"name": "Emma Rivers", "email": "emma@example.com"}, htmx=True
    )
    html = page_text(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="profile-details"')
    assert "Your profile is saved." in html
    assert user_row(app, employee).name == "Emma Rivers"


@pytest.mark.parametrize("email", ["bob@example.com", "BOB@Example.com"])
def test_someone_elses_email_is_refused_without_saying_it_is_taken(
    app, emma, employee, make_user, email
):
    make_user("bob@example.com", name="Bob Brown")
    # Without the password the form says nothing about the address at all.
    unproven = post(emma, "/profile/details", {"name": "Emma Stone", "email": email})
    assert unproven.status_code == 422
    assert "Enter your current password to change your email." in page_text(unproven)
    assert "cannot be used" not in page_text(unproven)

    response = post(
        emma,
        "/profile/details",
        {"name": "Emma Stone", "email": email, "password": DEFAULT_PASSWORD},
    )
    assert response.status_code == 422
    text = page_text(response)
    assert accounts.EMAIL_REFUSED in text
    assert "already" not in text and "another account" not in text.lower()
    assert user_row(app, employee).email == "emma@example.com"
    assert audit_rows(app, audit.PROFILE_CHANGED) == []
    assert audit_rows(app, audit.EMAIL_CHANGED) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "email": "emma@example.com"}, "Enter your name."),
        ({"name": "Emma", "email": "nope"}, "Enter a valid email address."),
        ({"name": "E" * 1_000_000, "email": "emma@example.com"}, "Field cannot be longer than 120"),
        ({"name": "Emma\x00", "email": "emma@example.com"}, "Use letters, digits"),
        ({"name": "Emma", "email": "emma\x00@example.com"}, "Use letters, digits"),
    ],
)
def test_bad_details_are_refused(app, emma, employee, data, message):
    response = post(emma, "/profile/details", data)
    assert response.status_code == 422
    assert message in page_text(response)
    user = user_row(app, employee)
    assert (user.name, user.email) == ("Emma Stone", "emma@example.com")


def test_changing_the_password_signs_out_the_other_sessions(app, emma, other_client, employee):
    sign_in(other_client, "emma@example.com")
    assert session_count(app, employee) == 2

    response = change_password(emma)

    assert response.status_code == 303
    assert is_signed_in(emma)
    assert not is_signed_in(other_client)
    assert session_count(app, employee) == 1
    assert sign_in(app.test_client(), "emma@example.com", DEFAULT_PASSWORD).status_code == 422
    assert sign_in(app.test_client(), "emma@example.com", NEW_PASSWORD).status_code == 303
    (event,) = audit_rows(app, audit.PASSWORD_CHANGED)
    assert event.actor_id == employee and event.ip == "127.0.0.1"
    assert "1 other session ended" in event.detail


def test_htmx_password_change_swaps_the_password_panel(emma):
    response = change_password(emma, htmx=True)
    html = page_text(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="profile-password"')
    assert "Your password is changed." in html


def test_a_wrong_current_password_is_refused(app, emma, other_client, employee):
    sign_in(other_client, "emma@example.com")
    before = user_row(app, employee).password_hash

    response = change_password(emma, current="not my password")

    assert response.status_code == 422
    assert "The current password is not right." in page_text(response)
    assert user_row(app, employee).password_hash == before
    assert is_signed_in(other_client)
    assert audit_rows(app, audit.PASSWORD_CHANGED) == []


@pytest.mark.parametrize(
    ("new", "confirm", "message"),
    [
        ("short", "short", "Use at least 10 characters."),
        (NEW_PASSWORD, "not the same one", "The two passwords differ."),
        ("emma@example.com", "emma@example.com", "must not be your email"),
    ],
)
def test_a_bad_new_password_is_refused(app, emma, employee, new, confirm, message):
    before = user_row(app, employee).password_hash
    response = change_password(emma, new=new, confirm=confirm)
    assert response.status_code == 422
    assert message in page_text(response)
    assert user_row(app, employee).password_hash == before


def test_profile_posts_need_the_csrf_token(app, emma, employee):
    response = emma.post("/profile/details", data={"name": "Mallory", "email": "m@example.com"})
    assert response.status_code == 400
    assert user_row(app, employee).name == "Emma Stone"


@pytest.mark.parametrize(
    ("new", "confirm", "other_problem"),
    [
        ("short", "short", "Use at least 10 characters."),
        (NEW_PASSWORD, "not the same one", "The two passwords differ."),
        ("emma@example.com", "emma@example.com", "must not be your email"),
    ],
)
@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_a_wrong_current_password_is_said_with_the_other_problems(
    app, emma, employee, new, confirm, other_problem, htmx
):
    before = user_row(app, employee).password_hash
    response = change_password(emma, current="not my password", new=new, confirm=confirm, htmx=htmx)
    assert response.status_code == 422
    text = page_text(response)
    assert "The current password is not right." in text
    assert other_problem in text
    assert user_row(app, employee).password_hash == before


def test_the_right_current_password_is_not_flagged_with_other_problems(emma):
    response = change_password(emma, new="short", confirm="short")
    assert response.status_code == 422
    assert "The current password is not right." not in page_text(response)


def test_the_length_error_replaces_the_hint(emma):
    shown = page_text(emma.get("/profile/"))
    assert "At least 10 characters." in shown
    response = change_password(emma, new="short", confirm="short", htmx=True)
    text = page_text(response)
    assert "Use at least 10 characters." in text
    assert "At least 10 characters." not in text
