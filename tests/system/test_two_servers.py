"""Two app servers (two gunicorn processes) on one PostgreSQL and one Redis, behind no
sticky load balancer: whatever one server knows, the other knows too."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.database import db
from portal.models import User
from portal.services import totp
from tests.system.conftest import redis_database
from tests.system.servers import (
    Browser,
    Server,
    current_step,
    make_accounts,
    on_postgres,
    portal_app,
)

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(
        not on_postgres(),
        reason="two app servers share a PostgreSQL database (the PostgreSQL pass runs this)",
    ),
]


@pytest.fixture(scope="module")
def servers(tmp_path_factory, server_database):
    limits = redis_database(13)
    if limits is None:
        pytest.skip("needs PORTAL_TEST_REDIS_URL: the servers share their limits in Redis")
    settings = {"WEB_CONCURRENCY": "2", "PORTAL_RATELIMIT_STORAGE_URL": limits}
    started = []
    try:
        for name in ("one", "two"):
            server = Server(
                tmp_path_factory.mktemp(name), database_url=server_database, settings=settings
            )
            started.append(server.start())
        yield started
    finally:
        for server in started:
            server.stop()


def _failures(database_url: str, email: str) -> int:
    app = portal_app(database_url)
    with app.app_context():
        failures = db.session.scalar(select(User.second_step_failures).where(User.email == email))
    with app.app_context():
        db.engine.dispose()
    return failures


def test_a_session_made_on_one_server_works_on_the_other(servers, server_database):
    one, two = servers
    account = make_accounts(server_database, 1, prefix="roaming")[0]
    person = Browser(one.base_url)
    code_page = person.password_step(account.email)
    # The code goes to the other server: the pending sign-in is in the database.
    security = person.code_step(
        totp.code_at_step(account.secret, current_step()), page=code_page, base_url=two.base_url
    )
    assert security.status == 200 and security.url.startswith(two.base_url + "/profile/security")
    assert person.get("/profile/security", base_url=one.base_url).status == 200
    # Signed out on one server is signed out on both.
    person.post("/logout", {}, page=security, base_url=one.base_url)
    assert person.get("/profile/", base_url=two.base_url).url.startswith(two.base_url + "/login")


def test_a_code_used_on_one_server_is_refused_on_the_other(servers, server_database):
    one, two = servers
    account = make_accounts(server_database, 1, prefix="replay")[0]
    first, second = Browser(one.base_url), Browser(two.base_url)
    first_page = first.password_step(account.email)
    second_page = second.password_step(account.email)
    code = totp.code_at_step(account.secret, current_step())

    assert "/profile/security" in first.code_step(code, page=first_page).url
    refused = second.code_step(code, page=second_page)
    assert refused.status == 422
    assert "That code was used already" in refused.body


def test_wrong_codes_count_across_both_servers(servers, server_database):
    one, two = servers
    account = make_accounts(server_database, 1, prefix="guesses")[0]
    guesser = Browser(one.base_url)
    page = guesser.password_step(account.email)
    right = totp.code_at_step(account.secret, current_step())
    wrong = "000000" if right != "000000" else "111111"

    for server in (one, two, one):
        page = guesser.code_step(wrong, page=page, base_url=server.base_url)
        assert page.status == 422
    assert _failures(server_database, account.email) == 3
    # The third wrong code in a row makes the account wait, on the other server too.
    waiting = guesser.code_step(right, page=page, base_url=two.base_url)
    assert waiting.status == 429
    assert "Please wait" in waiting.body
    assert _failures(server_database, account.email) == 3


def test_sign_in_limits_count_across_both_servers(servers, server_database):
    one, two = servers
    account = make_accounts(server_database, 1, prefix="limited")[0]
    stranger = Browser(one.base_url)
    answers = [
        stranger.password_step(
            account.email, "wrong password", base_url=(one, two)[attempt % 2].base_url
        ).status
        for attempt in range(12)
    ]
    # Ten failures for the account in fifteen minutes, five on each server: then both refuse.
    assert answers == [422] * 10 + [429] * 2
