from portal.auth.current import COOKIE_NAME
from tests.support import page_text, post, sign_in


def test_sign_in_with_password_reaches_security_page(client, employee):
    response = sign_in(client, "Emma@Example.com")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/profile/security")
    page = client.get("/profile/security")
    assert page.status_code == 200
    assert "Emma Stone" in page_text(page)


def test_wrong_password_and_unknown_email_get_the_same_message(client, employee):
    wrong = sign_in(client, "emma@example.com", "not the password")
    unknown = sign_in(client, "nobody@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 422
    assert "do not match an active account" in page_text(wrong)
    assert "do not match an active account" in page_text(unknown)
    assert client.get("/profile/security").status_code == 302


def test_sign_out_makes_the_old_cookie_worthless(client, app, employee):
    sign_in(client, "emma@example.com")
    token = client.get_cookie(COOKIE_NAME).value
    post(client, "/logout")
    thief = app.test_client()
    thief.set_cookie(COOKIE_NAME, token)
    assert thief.get("/profile/security").status_code == 302
