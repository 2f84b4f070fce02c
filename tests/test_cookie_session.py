"""The browser's signed cookie (portal.cookie_session): what one request writes, the next
reads; a cookie signed with another key, or altered, is not read; a key rotated with the
old one kept as a fallback still reads the cookies signed before."""

import re

from flask import session


def _csrf_secret_of(page: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^".]+)\.', page)
    assert match
    return match.group(1)


def _session_cookie(client) -> str:
    cookie = client.get_cookie("portal_csrf")
    assert cookie is not None
    return cookie.value


def _reads(app, cookie: str) -> bool:
    with app.test_request_context(headers={"Cookie": f"portal_csrf={cookie}"}):
        return "csrf_token" in session


def test_the_cookie_written_is_read_back(client):
    first = _csrf_secret_of(client.get("/login").get_data(as_text=True))
    second = _csrf_secret_of(client.get("/login").get_data(as_text=True))
    # The same CSRF secret on both pages: the second request read the first one's cookie.
    assert first == second


def test_a_cookie_of_another_key_or_altered_is_not_read(app, client, make_app):
    client.get("/login")
    cookie = _session_cookie(client)
    assert _reads(app, cookie)
    assert not _reads(make_app(SECRET_KEY="another key entirely"), cookie)
    altered = cookie[:-1] + ("A" if cookie[-1] != "A" else "B")
    assert not _reads(app, altered)


def test_a_rotated_key_still_reads_the_cookies_signed_before(app, client, make_app):
    client.get("/login")
    cookie = _session_cookie(client)
    rotated = make_app(SECRET_KEY="the new key", SECRET_KEY_FALLBACKS=[app.config["SECRET_KEY"]])
    assert _reads(rotated, cookie)
    assert not _reads(make_app(SECRET_KEY="the new key"), cookie)


def test_a_key_changed_on_a_running_app_is_used_at_once(app, client):
    client.get("/login")
    cookie = _session_cookie(client)
    assert _reads(app, cookie)
    app.secret_key = "changed while running"
    assert not _reads(app, cookie)
