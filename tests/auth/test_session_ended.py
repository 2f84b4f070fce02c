"""A browser signed out from elsewhere learns so on the sign-in page it is sent to, also
when the click that found out was an htmx one."""

from __future__ import annotations

import pytest

from tests.support import HTMX_HEADERS, csrf_token, page_text, post, sign_in

SESSION_ENDED = "Your session has ended"


@pytest.fixture
def signed_out_elsewhere(client, other_client, employee):
    """`client` is signed in, then `other_client` signs out every other session."""
    sign_in(client, "emma@example.com")
    token = csrf_token(client, "/profile/")
    sign_in(other_client, "emma@example.com")
    response = post(other_client, "/profile/security/sessions/end-others", {})
    assert response.status_code == 303
    return token


def test_an_htmx_click_after_signed_out_elsewhere_says_the_session_ended(
    client, signed_out_elsewhere
):
    headers = {
        **HTMX_HEADERS,
        "HX-Current-URL": "http://localhost/profile/",
        "X-CSRFToken": signed_out_elsewhere,
    }
    response = client.post(
        "/profile/details", data={"name": "Emma", "email": "emma@example.com"}, headers=headers
    )
    assert response.status_code == 401
    login = client.get(response.headers["HX-Redirect"])
    assert SESSION_ENDED in page_text(login)
    # Said once: the dead cookie is gone, so the next page does not repeat it.
    assert SESSION_ENDED not in page_text(client.get("/login"))


def test_a_plain_page_after_signed_out_elsewhere_says_the_session_ended(
    client, signed_out_elsewhere
):
    response = client.get("/profile/security")
    assert response.status_code == 302
    assert SESSION_ENDED in page_text(client.get(response.headers["Location"]))


def test_an_htmx_click_with_an_expired_form_token_says_the_session_ended(client, employee):
    sign_in(client, "emma@example.com")
    token = csrf_token(client, "/profile/")
    # Another tab of this browser signs out: the session cookie and the form token go.
    post(client, "/logout")
    headers = {**HTMX_HEADERS, "HX-Current-URL": "http://localhost/profile/", "X-CSRFToken": token}
    response = client.post(
        "/profile/details", data={"name": "Emma", "email": "emma@example.com"}, headers=headers
    )
    assert response.status_code == 400
    login = client.get(response.headers["HX-Redirect"])
    assert SESSION_ENDED in page_text(login)


def test_never_signed_in_is_not_told_a_session_ended(client, employee):
    response = client.get("/profile/security")
    text = page_text(client.get(response.headers["Location"]))
    assert "Please sign in to see that page." in text
    assert SESSION_ENDED not in text
