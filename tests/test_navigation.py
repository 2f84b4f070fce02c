"""Where a person lands: the bare address, and Back or reload after a plain form post."""

from tests.support import HTMX_HEADERS, post, sign_in


def test_the_bare_address_leads_to_setup_on_an_empty_portal(client):
    assert client.get("/").headers["Location"] == "/setup"


def test_the_bare_address_leads_to_sign_in_or_the_security_page(client, make_user):
    make_user("emma@example.com")
    assert client.get("/").headers["Location"] == "/login"
    sign_in(client, "emma@example.com")
    assert client.get("/").headers["Location"] == "/profile/security"


def test_get_on_a_form_address_leads_to_its_page_and_changes_nothing(app, client, employee):
    sign_in(client, "emma@example.com")
    post(client, "/profile/security/enable", follow_redirects=True)
    response = client.get("/profile/security/cancel")
    assert response.status_code == 303
    assert response.headers["Location"] == "/profile/security"
    from tests.support import user_row

    assert user_row(app, employee).pending_totp_secret is not None


def test_a_used_setup_link_says_the_portal_is_set_up(client, employee):
    response = client.get("/setup?token=whatever")
    assert response.status_code == 404
    assert "set up already" in response.get_data(as_text=True)


def test_htmx_after_signing_out_elsewhere_goes_to_sign_in_as_a_whole_page(app, client, employee):
    from tests.support import HTMX_HEADERS, csrf_token

    sign_in(client, "emma@example.com")
    token = csrf_token(client, "/profile/")
    other_tab = app.test_client()
    for cookie in client._cookies.values():
        other_tab.set_cookie(cookie.key, cookie.value)
    post(other_tab, "/logout")
    # The first tab still shows the old page; its session is gone.
    client.delete_cookie("portal_session")
    headers = {**HTMX_HEADERS, "HX-Current-URL": "http://localhost/profile/"}
    stale = client.post(
        "/profile/details",
        data={"name": "Emma", "email": "emma@example.com"},
        headers={**headers, "X-CSRFToken": token},
    )
    assert stale.status_code in (400, 401)
    assert stale.headers["HX-Redirect"] == "/login?next=/profile/"
    fresh_token = csrf_token(client)
    unauthorised = client.post(
        "/profile/details",
        data={"name": "Emma", "email": "emma@example.com"},
        headers={**headers, "X-CSRFToken": fresh_token},
    )
    assert unauthorised.status_code == 401
    assert unauthorised.headers["HX-Redirect"] == "/login?next=/profile/"
    assert "<form" not in unauthorised.get_data(as_text=True)


def test_a_page_that_needs_sign_in_comes_back_after_it(client, employee):
    response = client.get("/profile/security?open=device")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/profile/security?open%3Ddevice"


def test_a_signed_out_htmx_request_comes_back_to_its_page_with_its_query(client, employee):
    # The panel asked for sits on the Security page with a form open; after sign-in the
    # person returns to that very page, as a plain GET would.
    headers = {**HTMX_HEADERS, "HX-Current-URL": "http://localhost/profile/security?open=device"}
    response = client.get("/profile/security?open=device", headers=headers)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/profile/security?open%3Ddevice"
