"""Where a person lands: the bare address, and Back or reload after a plain form post."""

from tests.support import post, sign_in


def test_the_bare_address_leads_to_setup_on_an_empty_portal(client):
    assert client.get("/").headers["Location"] == "/setup"


def test_the_bare_address_leads_to_sign_in_or_the_security_page(client, make_user):
    make_user("emma@example.com")
    assert client.get("/").headers["Location"] == "/login"
    sign_in(client, "emma@example.com")
    assert client.get("/").headers["Location"] == "/profile/security"


def test_get_on_a_form_address_leads_to_its_page_and_changes_nothing(app, client, employee):
    sign_in(client, "emma@example.com")
    post(client, "/profile/security/enable")
    response = client.get("/profile/security/cancel")
    assert response.status_code == 303
    assert response.headers["Location"] == "/profile/security"
    from tests.support import user_row

    assert user_row(app, employee).pending_totp_secret is not None


def test_a_used_setup_link_says_the_portal_is_set_up(client, employee):
    response = client.get("/setup?token=whatever")
    assert response.status_code == 404
    assert "set up already" in response.get_data(as_text=True)
