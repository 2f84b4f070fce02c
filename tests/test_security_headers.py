"""Headers, cookies, `next=` redirects and the client address."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import select

from portal.auth.current import COOKIE_NAME
from portal.database import db
from portal.models import AuditEvent, UserSession
from tests.support import csrf_token, page_text, post, sign_in

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER_ATTRIBUTE = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


def csp_directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    directives = {}
    for part in policy.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def get_pages(app) -> list[str]:
    """Every GET page without URL arguments: pages added later are checked too."""
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.arguments and rule.endpoint != "static"
    )


def assert_page_headers(response) -> None:
    directives = csp_directives(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    for name in ("Content-Security-Policy", "X-Frame-Options", "Permissions-Policy"):
        assert len(response.headers.getlist(name)) == 1, name


def test_a_header_a_view_sets_itself_is_kept_once(make_app):
    app = make_app()

    @app.get("/framed-by-the-same-site")
    def framed():
        return "ok", 200, {"x-frame-options": "SAMEORIGIN", "Referrer-Policy": "no-referrer"}

    response = app.test_client().get("/framed-by-the-same-site")
    assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert response.headers.getlist("Referrer-Policy") == ["no-referrer"]
    assert response.headers.getlist("X-Content-Type-Options") == ["nosniff"]


def test_the_sign_in_page_has_the_headers_and_no_hsts_over_plain_http(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert_page_headers(response)
    assert "Strict-Transport-Security" not in response.headers


def test_every_page_has_the_headers_and_no_inline_script(client, app, admin_user):
    assert sign_in(client, "ada@example.com").status_code == 303
    pages = get_pages(app)
    assert "/profile/security" in pages
    for path in pages:
        response = client.get(path)
        assert response.status_code < 500, path
        assert_page_headers(response)
        if response.mimetype == "text/html":
            html = page_text(response)
            assert not INLINE_SCRIPT.search(html), path
            assert not EVENT_HANDLER_ATTRIBUTE.search(html), path
            assert "javascript:" not in html.lower(), path


@pytest.mark.parametrize("path", ["/no-such-page", "/setup"])
def test_error_pages_have_the_headers(client, path, company):
    response = client.get(path)
    assert response.status_code == 404
    assert_page_headers(response)


def test_static_files_may_be_cached_but_keep_nosniff(client):
    response = client.get("/static/portal.css")
    assert response.status_code == 200
    assert response.headers.get("Cache-Control") != "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    response.close()


def set_cookies(response) -> dict[str, str]:
    cookies = {}
    for header in response.headers.getlist("Set-Cookie"):
        cookies[header.split("=", 1)[0]] = header
    return cookies


def cookie_flags(header: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}


def test_cookies_are_httponly_lax_and_not_secure_over_plain_http(client, employee, app):
    login_page = client.get("/login")
    csrf_cookie = set_cookies(login_page)[app.config["SESSION_COOKIE_NAME"]]
    response = sign_in(client, "emma@example.com")
    session_cookie = set_cookies(response)[COOKIE_NAME]
    for header in (csrf_cookie, session_cookie):
        assert {"httponly", "samesite"} <= cookie_flags(header)
        assert "SameSite=Lax" in header
        assert "secure" not in cookie_flags(header)


def test_cookies_are_secure_behind_https(make_app, employee):
    app = make_app(HTTPS=True)
    client = app.test_client()
    login_page = client.get("/login", base_url="https://localhost")
    assert login_page.headers["Strict-Transport-Security"].startswith("max-age=")
    csrf_cookie = set_cookies(login_page)[app.config["SESSION_COOKIE_NAME"]]
    response = client.post(
        "/login",
        base_url="https://localhost",
        headers={"Referer": "https://localhost/login"},
        data={
            "email": "emma@example.com",
            "password": "correct horse battery",
            "csrf_token": csrf_token(client),
        },
    )
    assert response.status_code == 303
    session_cookie = set_cookies(response)[COOKIE_NAME]
    for header in (csrf_cookie, session_cookie):
        assert {"httponly", "secure", "samesite"} <= cookie_flags(header)
        assert "SameSite=Lax" in header


def test_the_session_cookie_is_random_and_not_readable_data(client, employee, app):
    sign_in(client, "emma@example.com")
    token = client.get_cookie(COOKIE_NAME).value
    assert len(token) >= 22  # at least 128 bits in URL-safe base64
    assert "emma" not in token.lower()
    with app.app_context():
        stored = db.session.scalars(select(UserSession.token_hash)).one()
    assert token not in stored  # only a hash of it is kept


HOSTILE_NEXT = [
    "//evil.com",
    "///evil.com",
    "////evil.com/path",
    "https://evil.com",
    "http://evil.com/profile/security",
    "HTTPS://EVIL.COM",
    "http:evil.com",
    "https:/evil.com",
    "/\\evil.com",
    "\\\\evil.com",
    "/\\/evil.com",
    "javascript:alert(1)",
    "JavaScript:alert(document.cookie)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/\t/evil.com",
    "/\n/evil.com",
    "\x00//evil.com",
    "//evil.com@localhost",
    "evil.com",
    "%2F%2Fevil.com",
    "/" + "a" * 5000,
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_next_never_leaves_the_portal(client, employee, target):
    response = post(
        client,
        "/login",
        {"email": "emma@example.com", "password": "correct horse battery", "next": target},
    )
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location == "/profile/security"
    resolved = urlsplit(urljoin("http://localhost/login", location))
    assert (resolved.scheme, resolved.netloc) == ("http", "localhost")


@pytest.mark.parametrize("target", ["/profile/", "/admin/?q=emma&page=2"])
def test_next_to_a_page_of_the_portal_is_kept(client, employee, target):
    response = post(
        client,
        "/login",
        {"email": "emma@example.com", "password": "correct horse battery", "next": target},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == target


def test_the_sign_in_page_carries_next_along(client):
    page = page_text(client.get("/login", query_string={"next": "/profile/"}))
    assert 'name="next" type="hidden" value="/profile/"' in page


def sign_in_from(client, *, remote: str, forwarded: str):
    token = csrf_token(client)
    return client.post(
        "/login",
        data={
            "email": "emma@example.com",
            "password": "correct horse battery",
            "csrf_token": token,
        },
        # Behind TLS the CSRF check also wants a same-site Referer, as browsers send it.
        headers={
            "X-Forwarded-For": forwarded,
            "X-Forwarded-Proto": "https",
            "Referer": "https://localhost/login",
        },
        environ_base={"REMOTE_ADDR": remote},
    )


def recorded_ips(app) -> tuple[set[str], set[str]]:
    with app.app_context():
        return (
            set(db.session.scalars(select(UserSession.ip))),
            set(db.session.scalars(select(AuditEvent.ip).where(AuditEvent.kind == "sign_in"))),
        )


def test_the_client_address_comes_from_the_socket_by_default(client, app, employee):
    response = sign_in_from(client, remote="198.51.100.7", forwarded="203.0.113.9")
    assert response.status_code == 303
    assert recorded_ips(app) == ({"198.51.100.7"}, {"198.51.100.7"})


def test_a_trusted_proxy_supplies_the_client_address(make_app, employee):
    app = make_app(TRUSTED_PROXIES=1)
    client = app.test_client()
    # One trusted hop: only the address that proxy added (the last one) is believed.
    response = sign_in_from(client, remote="127.0.0.1", forwarded="10.9.9.9, 203.0.113.9")
    assert response.status_code == 303
    assert recorded_ips(app) == ({"203.0.113.9"}, {"203.0.113.9"})
