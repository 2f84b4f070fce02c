"""Per-address and per-account limits on the password step, answered by a friendly 429.

Flask-Limiter keeps its counters in the storage made when an app is created: memory by
default (fresh for every app, so no test sees another's counters), Redis by URL (shared
by every app server, which is the point of it).
"""

from __future__ import annotations

import os
import secrets

import pytest
import redis
from sqlalchemy import func, select

from portal import create_app
from portal.database import Base, db
from portal.models import UserSession
from tests.support import (
    DEFAULT_PASSWORD,
    HTMX_HEADERS,
    assert_friendly_429,
    csrf_token,
    page_text,
    post,
    totp_code,
)

PER_ADDRESS = 20  # "20 per minute" on POST /login
PER_ACCOUNT = 10  # "10 per 15 minutes" per email
REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "")


def attempt(
    client, email: str, password: str = "not the password", *, ip: str = "192.0.2.1", headers=None
):
    token = csrf_token(client)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": ip},
        headers=headers or {},
    )


def sessions_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(UserSession.id)))


def test_too_many_failures_from_one_address_get_a_friendly_429(
    client, app, employee, limiter_clock
):
    for n in range(PER_ADDRESS):
        assert attempt(client, f"guess{n}@example.com").status_code == 422
    blocked = attempt(client, "guess-last@example.com")
    assert_friendly_429(blocked)
    # Even the right password waits: the limit is checked before the password.
    assert_friendly_429(attempt(client, "emma@example.com", DEFAULT_PASSWORD))
    assert sessions_count(app) == 0
    # Another address is not affected.
    assert (
        attempt(app.test_client(), "emma@example.com", DEFAULT_PASSWORD, ip="192.0.2.2").status_code
        == 303
    )

    limiter_clock.advance(minutes=1, seconds=1)
    assert attempt(client, "emma@example.com", DEFAULT_PASSWORD).status_code == 303


def test_a_forged_forwarded_for_does_not_escape_the_address_limit(client, employee, limiter_clock):
    for n in range(PER_ADDRESS):
        forged = {"X-Forwarded-For": f"203.0.113.{n}"}
        assert attempt(client, f"guess{n}@example.com", headers=forged).status_code == 422
    assert_friendly_429(
        attempt(client, "one-more@example.com", headers={"X-Forwarded-For": "198.51.100.1"})
    )


def test_too_many_failures_on_one_account_lock_it_from_every_address(app, employee, limiter_clock):
    for n in range(PER_ACCOUNT):
        # Spelled differently each time: it is still the same account.
        email = "Emma@Example.com" if n % 2 else " emma@example.com "
        assert attempt(app.test_client(), email, ip=f"198.51.100.{n}").status_code == 422
    assert_friendly_429(
        attempt(app.test_client(), "emma@example.com", DEFAULT_PASSWORD, ip="198.51.100.200")
    )
    # Other accounts from the same addresses are fine.
    assert attempt(app.test_client(), "someone@example.com", ip="198.51.100.1").status_code == 422

    limiter_clock.advance(minutes=14)
    assert_friendly_429(
        attempt(app.test_client(), "emma@example.com", DEFAULT_PASSWORD, ip="198.51.100.201")
    )
    limiter_clock.advance(minutes=1, seconds=1)
    assert (
        attempt(
            app.test_client(), "emma@example.com", DEFAULT_PASSWORD, ip="198.51.100.202"
        ).status_code
        == 303
    )


def test_attempts_the_database_could_not_answer_use_up_no_limits(
    app, employee, limiter_clock, monkeypatch
):
    """While the database is down every sign-in gets the 503 page; once it is back, the
    person signs in as if the outage had not been."""
    from sqlalchemy.exc import OperationalError

    from portal.services import accounts

    def database_gone(*_args, **_kwargs):
        raise OperationalError(
            "SELECT", {}, Exception("server closed"), connection_invalidated=True
        )

    monkeypatch.setattr(accounts, "authenticate", database_gone)
    for n in range(PER_ACCOUNT + 2):
        down = attempt(app.test_client(), "emma@example.com", DEFAULT_PASSWORD, ip=f"192.0.2.{n}")
        assert down.status_code == 503
    monkeypatch.undo()
    back = attempt(app.test_client(), "emma@example.com", DEFAULT_PASSWORD, ip="192.0.2.200")
    assert back.status_code == 303


def test_successful_sign_ins_do_not_use_up_the_limits(app, employee, make_user, limiter_clock):
    # Two accounts, as the per-account limit also caps all attempts on one account.
    make_user("olga@example.com", name="Olga")
    for n in range(PER_ADDRESS + 5):
        email = ("emma@example.com", "olga@example.com")[n % 2]
        assert attempt(app.test_client(), email, DEFAULT_PASSWORD).status_code == 303


def test_parallel_guesses_cannot_outrun_the_account_limit(app, employee, limiter_clock):
    """Every attempt on one account counts up front, not only after a failure."""
    statuses = []
    for n in range(22):
        statuses.append(
            attempt(
                app.test_client(), "emma@example.com", DEFAULT_PASSWORD, ip=f"10.9.0.{n + 1}"
            ).status_code
        )
    assert statuses[:20] == [303] * 20
    assert statuses[20:] == [429, 429]


def test_the_429_comes_as_a_fragment_for_htmx(client, employee, limiter_clock):
    for n in range(PER_ADDRESS):
        attempt(client, f"guess{n}@example.com")
    response = attempt(client, "emma@example.com", headers=HTMX_HEADERS)
    assert response.status_code == 429
    assert response.headers["HX-Retarget"] == "#alerts"
    assert "Too many attempts" in page_text(response)
    assert "<html" not in page_text(response)


def test_a_new_app_starts_with_fresh_counters(app_config, app, employee, limiter_clock):
    for n in range(PER_ADDRESS):
        attempt(app.test_client(), f"guess{n}@example.com")
    assert_friendly_429(attempt(app.test_client(), "emma@example.com", DEFAULT_PASSWORD))
    # Memory storage belongs to the app that made it: a restarted server (or the next
    # test's app) does not inherit the counters.
    fresh = create_app(app_config)
    try:
        assert attempt(fresh.test_client(), "emma@example.com", DEFAULT_PASSWORD).status_code == 303
    finally:
        with fresh.app_context():
            db.engine.dispose()


def redis_url() -> str:
    if REDIS_URL:
        return REDIS_URL
    fallback = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(fallback, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        pytest.skip("no Redis answers and PORTAL_TEST_REDIS_URL is not set")
    return fallback


def test_redis_storage_shares_the_counters_between_app_servers(
    app_config, postgres_schema, employee
):
    url = redis_url()
    # Addresses and an account of this run only, so parallel runs never meet in Redis.
    ip = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"
    account = f"redis-{secrets.token_hex(6)}@example.com"
    servers = []

    def server():
        app = create_app({**app_config, "RATELIMIT_STORAGE_URL": url})
        if postgres_schema is None:
            with app.app_context():
                Base.metadata.create_all(db.engine)
        servers.append(app)
        return app

    client = redis.Redis.from_url(url)
    try:
        first = server()
        for _ in range(PER_ACCOUNT):
            assert attempt(first.test_client(), account, ip=ip).status_code == 422
        assert any(client.scan_iter(match=f"LIMITS:*{account}*"))
        # Another app server (a new app, a new connection) sees the same counters.
        second = server()
        assert_friendly_429(attempt(second.test_client(), account, ip=ip))
        # The address limit is shared too: the second server has its remaining ten.
        for n in range(PER_ADDRESS - PER_ACCOUNT):
            assert attempt(second.test_client(), f"other{n}-{account}", ip=ip).status_code == 422
        assert_friendly_429(attempt(first.test_client(), f"last-{account}", ip=ip))
    finally:
        for key in [
            *client.scan_iter(match=f"LIMITS:*{ip}*"),
            *client.scan_iter(match=f"LIMITS:*{account}*"),
        ]:
            client.delete(key)
        client.close()
        for app in servers:
            with app.app_context():
                db.engine.dispose()


def test_an_ipv6_client_is_limited_by_its_64_block(app, employee, limiter_clock):
    """Hopping between addresses of one /64 does not reset the per-address limit."""
    statuses = []
    for n in range(22):
        address = f"2001:db8:1:2::{n + 1:x}"
        statuses.append(
            attempt(app.test_client(), f"nobody{n}@example.com", ip=address).status_code
        )
    assert statuses[:20] == [422] * 20
    assert statuses[20:] == [429, 429]


# --- device cookies: the rightful user's browser is not locked out by strangers ----------

UNKNOWN_BROWSERS = "Too many attempts for this account from unknown browsers"


def _known_browser(app) -> object:
    """A browser that signed in to Emma's account before, then signed out."""
    browser = app.test_client()
    assert (
        attempt(browser, "emma@example.com", DEFAULT_PASSWORD, ip="192.0.2.50").status_code == 303
    )
    assert browser.get_cookie("portal_device", path="/login") is not None
    post(browser, "/logout")
    return browser


def _spend_the_account_budget(app) -> None:
    """Wrong passwords for Emma's email from many addresses and browsers: a stranger's
    attempt to keep her out."""
    for n in range(PER_ACCOUNT + 10):
        attempt(app.test_client(), "emma@example.com", ip=f"203.0.113.{n + 1}")


def test_strangers_cannot_lock_out_a_browser_that_signed_in_before(app, employee, limiter_clock):
    browser = _known_browser(app)
    _spend_the_account_budget(app)

    # An unknown browser, even with the right password, is told why it must wait.
    refused = attempt(app.test_client(), "emma@example.com", DEFAULT_PASSWORD, ip="192.0.2.51")
    assert_friendly_429(refused)
    assert UNKNOWN_BROWSERS in page_text(refused)
    assert sessions_count(app) == 0

    # Emma's own browser has its own budget and gets in.
    assert (
        attempt(browser, "emma@example.com", DEFAULT_PASSWORD, ip="192.0.2.50").status_code == 303
    )


def test_a_known_browser_is_still_limited_on_its_own_budget(app, employee, limiter_clock):
    browser = _known_browser(app)
    for _ in range(PER_ACCOUNT):
        assert attempt(browser, "emma@example.com", ip="192.0.2.50").status_code == 422
    refused = attempt(browser, "emma@example.com", DEFAULT_PASSWORD, ip="192.0.2.50")
    assert_friendly_429(refused)
    assert "from this browser" in page_text(refused)
    # Its guesses did not spend the budget that other browsers share.
    assert attempt(app.test_client(), "emma@example.com", DEFAULT_PASSWORD).status_code == 303


def test_a_forged_or_foreign_device_cookie_counts_as_none(app, employee, make_user, limiter_clock):
    make_user("olga@example.com", name="Olga")
    olga = app.test_client()
    assert attempt(olga, "olga@example.com", DEFAULT_PASSWORD, ip="192.0.2.60").status_code == 303
    olgas_cookie = olga.get_cookie("portal_device", path="/login").value
    genuine = _known_browser(app)
    emmas_cookie = genuine.get_cookie("portal_device", path="/login").value
    _spend_the_account_budget(app)

    tampered = emmas_cookie[:-2] + ("AA" if not emmas_cookie.endswith("AA") else "BB")
    for value in (olgas_cookie, tampered, "not-a-device-cookie", "x" * 4000):
        stranger = app.test_client()
        stranger.set_cookie("portal_device", value, path="/login")
        refused = attempt(stranger, "emma@example.com", DEFAULT_PASSWORD, ip="192.0.2.61")
        assert_friendly_429(refused)
        assert UNKNOWN_BROWSERS in page_text(refused)


def test_a_device_cookie_grows_stale(app, employee, limiter_clock):
    browser = _known_browser(app)
    limiter_clock.advance(days=181)
    _spend_the_account_budget(app)
    assert_friendly_429(attempt(browser, "emma@example.com", DEFAULT_PASSWORD, ip="192.0.2.50"))


def test_the_device_cookie_is_signed_http_only_and_only_for_sign_in(app, employee, enrol, clock):
    browser = app.test_client()
    response = attempt(browser, "emma@example.com", DEFAULT_PASSWORD)
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("portal_device=")]
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/login" in header
    # Nothing readable in it names the account by its email.
    assert "emma" not in header

    # With two-step on, the cookie comes only once the code is right.
    secret, _ = enrol(employee)
    fresh = app.test_client()
    passed = attempt(fresh, "emma@example.com", DEFAULT_PASSWORD)
    assert not any(h.startswith("portal_device=") for h in passed.headers.getlist("Set-Cookie"))
    done = post(fresh, "/login/code", {"code": totp_code(secret, clock)})
    assert done.status_code == 303
    assert any(h.startswith("portal_device=") for h in done.headers.getlist("Set-Cookie"))
