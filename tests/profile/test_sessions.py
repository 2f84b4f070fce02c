"""The sessions panel of the Security page: one session ended, this one, everywhere else."""

import re
from urllib.parse import urlsplit

import pytest

from portal.auth.current import COOKIE_NAME
from portal.database import db
from portal.models import STAGE_PASSWORD, User
from portal.origin import Origin
from portal.services import audit, sessions
from tests.support import (
    audit_rows,
    is_signed_in,
    page_text,
    post,
    session_count,
    sign_in,
)

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"
IPHONE = "Mozilla/5.0 (iPhone) Safari/604.1"
EVERYWHERE_ELSE = re.compile(r"Signed out everywhere else \(1 sessions?\)")


def session_id(app, browser) -> int:
    """The id of the session row behind this browser's cookie."""
    with app.app_context():
        row = sessions.find(browser.get_cookie(COOKIE_NAME).value)
        assert row is not None, "this browser has no session"
        return row.id


def browser_with_cookie(app, token: str):
    """A new browser that presents an old session cookie, as a copied one would be."""
    browser = app.test_client()
    browser.set_cookie(COOKIE_NAME, token)
    return browser


@pytest.fixture
def two_browsers(client, other_client, employee):
    """Emma, signed in on her laptop (client) and on her phone (other_client)."""
    assert sign_in(client, "emma@example.com", headers={"User-Agent": FIREFOX}).status_code == 303
    assert (
        sign_in(other_client, "emma@example.com", headers={"User-Agent": IPHONE}).status_code == 303
    )
    return client, other_client


def test_sessions_panel_lists_and_ends_other_sessions(two_browsers):
    client, other_client = two_browsers
    page = page_text(client.get("/profile/security"))
    assert "This browser" in page and "Safari on iPhone" in page
    response = post(client, "/profile/security/sessions/end-others", htmx=True)
    assert response.status_code == 200
    assert page_text(response).lstrip().startswith('<section class="card" id="sessions"')
    assert other_client.get("/profile/security").status_code == 302
    assert client.get("/profile/security").status_code == 200


def test_sign_out_everywhere_else_without_javascript_goes_back_to_the_page_with_a_message(
    app, two_browsers, employee
):
    client, other_client = two_browsers

    response = post(client, "/profile/security/sessions/end-others")

    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/profile/security"
    next_page = page_text(client.get(response.headers["Location"]))
    assert EVERYWHERE_ELSE.search(next_page), next_page
    # A message for this one time: the page after that no longer shows it.
    assert not EVERYWHERE_ELSE.search(page_text(client.get("/profile/security")))
    assert not is_signed_in(other_client)
    assert is_signed_in(client)
    assert session_count(app, employee) == 1
    (event,) = audit_rows(app, audit.OTHER_SESSIONS_ENDED)
    assert (event.actor_id, event.subject_id) == (employee, employee)


@pytest.mark.parametrize("htmx", [False, True])
def test_ending_one_other_session_signs_that_browser_out_and_keeps_this_one(
    app, two_browsers, employee, htmx
):
    client, other_client = two_browsers
    phone = session_id(app, other_client)
    phone_cookie = other_client.get_cookie(COOKIE_NAME).value
    page = page_text(client.get("/profile/security"))
    assert f'action="/profile/security/sessions/{phone}/end"' in page

    response = post(client, f"/profile/security/sessions/{phone}/end", htmx=htmx)

    if htmx:
        assert response.status_code == 200
        panel = page_text(response)
        assert panel.lstrip().startswith('<section class="card" id="sessions"')
        assert "That session is signed out." in panel
        assert "Safari on iPhone" not in panel
    else:
        assert response.status_code == 303
        assert urlsplit(response.headers["Location"]).path == "/profile/security"
        assert "That session is signed out." in page_text(client.get("/profile/security"))
    # The phone's cookie no longer works, in the phone or copied anywhere else.
    assert not is_signed_in(other_client)
    assert not is_signed_in(browser_with_cookie(app, phone_cookie))
    assert is_signed_in(client)
    assert session_count(app, employee) == 1
    (event,) = audit_rows(app, audit.SESSION_ENDED)
    assert (event.actor_id, event.subject_id) == (employee, employee)


def test_ending_another_users_session_is_not_found_and_ends_nothing(
    client, other_client, app, employee, make_user
):
    olga = make_user("olga@example.com", name="Olga")
    sign_in(client, "emma@example.com")
    sign_in(other_client, "olga@example.com")
    olga_session = session_id(app, other_client)

    response = post(client, f"/profile/security/sessions/{olga_session}/end")

    assert response.status_code == 404
    assert other_client.get("/profile/security").status_code == 200
    assert is_signed_in(client)
    assert (session_count(app, olga), session_count(app, employee)) == (1, 1)
    assert audit_rows(app, audit.SESSION_ENDED) == []


def test_ending_this_very_session_signs_out(app, two_browsers, employee):
    client, other_client = two_browsers
    mine = session_id(app, client)
    my_cookie = client.get_cookie(COOKIE_NAME).value

    response = post(client, f"/profile/security/sessions/{mine}/end")

    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert client.get_cookie(COOKIE_NAME) is None  # the cookie is cleared
    assert not is_signed_in(client)
    assert not is_signed_in(browser_with_cookie(app, my_cookie))
    assert is_signed_in(other_client)  # only this session ended
    (event,) = audit_rows(app, audit.SIGN_OUT)
    assert (event.actor_id, event.subject_id) == (employee, employee)
    assert audit_rows(app, audit.SESSION_ENDED) == []


def test_everywhere_else_counts_the_sessions_listed_not_pending_sign_ins(app, client, employee):
    assert sign_in(client, "emma@example.com").status_code == 303
    laptop = app.test_client()
    assert sign_in(laptop, "emma@example.com", headers={"User-Agent": FIREFOX}).status_code == 303
    # Two sign-ins left half-way (password typed, never finished) on other browsers.
    # Two-step is off, so a pending row is made by hand, as a pending sign-in leaves it.
    with app.app_context():
        user = db.session.get(User, employee)
        for _ in range(2):
            sessions.start(user, STAGE_PASSWORD, Origin("10.0.0.9", IPHONE))
        db.session.commit()
    listed = page_text(client.get("/profile/security")).count("session-list__item")

    response = post(client, "/profile/security/sessions/end-others", htmx=True)

    assert listed == 2
    assert "Signed out everywhere else (1 session)." in page_text(response)
    assert session_count(app, employee) == 1


def test_a_session_unused_beyond_the_idle_limit_is_not_listed(
    app, clock, client, other_client, employee
):
    """Its row stays until something deletes it, but it has ended: the phone unused for
    15 days is not among the places Emma is signed in, while the laptop used since is."""
    assert sign_in(client, "emma@example.com", headers={"User-Agent": FIREFOX}).status_code == 303
    assert (
        sign_in(other_client, "emma@example.com", headers={"User-Agent": IPHONE}).status_code == 303
    )
    clock.advance(days=10)
    assert client.get("/profile/security").status_code == 200
    clock.advance(days=5)

    page = page_text(client.get("/profile/security"))

    panel = page[page.index('id="sessions"') :]
    panel = panel[: panel.index("</section>")]
    assert "This browser" in panel
    assert "Safari on iPhone" not in panel
    assert session_count(app, employee) == 2  # the phone's row is still there
