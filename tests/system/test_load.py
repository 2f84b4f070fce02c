"""Fifty people at once on gunicorn's four workers, for a minute: whole sign-ins (password,
then the app's code) and the Security page's actions. Nothing fails, nothing waits on a
locked database, and every right code is accepted. Then one code sent to two workers at
the same instant is accepted once."""

from __future__ import annotations

import functools
import os
import random
import re
import threading
import time

import pytest

from portal.services import totp
from tests.system.conftest import redis_database
from tests.system.servers import (
    Account,
    Browser,
    Server,
    at_once,
    current_step,
    make_accounts,
)

DURATION = float(os.environ.get("PORTAL_LOAD_SECONDS", "60"))
CLIENTS = 50
# A code works once per account and time step: each person has enough accounts that one
# is always free for a sign-in with a code not used yet.
ACCOUNTS_PER_CLIENT = 4
_END_SESSION = re.compile(r'action="(/profile/security/sessions/\d+/end)"')
_STATUS_IN_ACCESS_LOG = re.compile(r'" (\d{3}) ')

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def server(tmp_path_factory, server_database):
    settings = {
        "WEB_CONCURRENCY": "4",
        # Each client comes from an address of its own, as behind a proxy: the per-address
        # limits are meant for one person, not for fifty sharing 127.0.0.1.
        "PORTAL_TRUSTED_PROXIES": "1",
        "PORTAL_LOG_LEVEL": "WARNING",
    }
    redis_url = redis_database(12)
    if redis_url:
        settings["PORTAL_RATELIMIT_STORAGE_URL"] = redis_url
    portal = Server(
        tmp_path_factory.mktemp("load"), database_url=server_database, settings=settings
    )
    portal.start()
    yield portal
    portal.stop()


class Person(threading.Thread):
    """One person with a few accounts, each browser a cookie jar of its own."""

    def __init__(self, index: int, server: Server, accounts: list[Account], deadline: float):
        super().__init__(daemon=True)
        self.server = server
        self.accounts = accounts
        self.deadline = deadline
        self.address = f"10.{index // 250}.{index % 250}.{random.randint(1, 250)}"
        self.random = random.Random(index)
        self.signed_in: dict[str, Browser] = {}
        self.sign_ins = 0
        self.actions = 0
        self.failures: list[str] = []

    def browser(self) -> Browser:
        return Browser(self.server.base_url, address=self.address)

    def run(self) -> None:
        while time.monotonic() < self.deadline:
            try:
                self.step()
            except Exception as error:
                self.failures.append(f"{type(error).__name__}: {error}")

    def step(self) -> None:
        step = current_step()
        free = [account for account in self.accounts if account.last_step < step]
        if free and (not self.signed_in or self.random.random() < 0.5):
            self.sign_in(self.random.choice(free))
        elif self.signed_in:
            self.security_action()
        else:
            time.sleep(0.5)

    def expect(self, reply, status: int, path: str, what: str) -> bool:
        if reply.status == status and path in reply.url:
            return True
        self.failures.append(f"{what}: {reply.status} at {reply.url}: {reply.body[:300]!r}")
        return False

    def sign_in(self, account: Account) -> None:
        browser = self.browser()
        code_page = browser.password_step(account.email)
        if not self.expect(code_page, 200, "/login/code", f"password step of {account.email}"):
            return
        step = current_step()
        account.last_step = step
        code = totp.code_at_step(account.secret, step)
        security = browser.code_step(code, page=code_page)
        if not self.expect(security, 200, "/profile/security", f"code of {account.email}"):
            return
        self.sign_ins += 1
        earlier = self.signed_in.get(account.email)
        self.signed_in[account.email] = browser
        if earlier is not None:
            self.end_other_session(browser, earlier, security)

    def end_other_session(self, browser: Browser, earlier: Browser, page) -> None:
        """From the new browser, sign the earlier one out on the Security page."""
        forms = _END_SESSION.findall(page.body)
        if len(forms) != 1:
            self.failures.append(f"expected one other session, found {len(forms)}")
            return
        ended = browser.post(forms[0], {}, page=page)
        if not self.expect(ended, 200, "/profile/security", "end another session"):
            return
        if "That session is signed out." not in ended.body:
            self.failures.append("no confirmation after ending a session")
        gone = earlier.get("/profile/")
        self.expect(gone, 200, "/login", "the ended session is signed out")
        self.actions += 1

    def security_action(self) -> None:
        browser = self.signed_in[self.random.choice(sorted(self.signed_in))]
        choice = self.random.randrange(3)
        if choice == 0:
            page = browser.get("/profile/security")
            shown = self.expect(page, 200, "/profile/security", "Security page")
            if shown and "unused code" not in page.body:
                self.failures.append("the recovery-code status is missing")
        elif choice == 1:
            panel = browser.get("/profile/security/sessions", htmx=True)
            shown = self.expect(panel, 200, "/profile/security/sessions", "sessions panel")
            if shown and "This browser" not in panel.body:
                self.failures.append("the sessions panel does not show this browser")
        else:
            panel = browser.get("/profile/security/activity", htmx=True)
            self.expect(panel, 200, "/profile/security/activity", "activity panel")
        self.actions += 1


def _server_errors(server: Server) -> list[str]:
    problems = []
    for line in server.output:
        match = _STATUS_IN_ACCESS_LOG.search(line)
        if match and match.group(1).startswith("5"):
            problems.append(line)
        if "database is locked" in line or "Traceback" in line:
            problems.append(line)
    return problems


def test_fifty_people_signing_in_and_using_the_security_page(server, server_database):
    accounts = make_accounts(server_database, CLIENTS * ACCOUNTS_PER_CLIENT, prefix="load")
    deadline = time.monotonic() + DURATION
    people = [Person(index, server, accounts[index::CLIENTS], deadline) for index in range(CLIENTS)]
    for person in people:
        person.start()
    for person in people:
        person.join(DURATION + 120)

    failures = [failure for person in people for failure in person.failures]
    sign_ins = sum(person.sign_ins for person in people)
    actions = sum(person.actions for person in people)
    assert not any(person.is_alive() for person in people), "a client never finished"
    assert failures == [], f"{len(failures)} failures, first: {failures[:5]}"
    assert _server_errors(server) == [], "\n".join(_server_errors(server)[:20])
    # Every person got through several times: the load was real.
    assert sign_ins >= CLIENTS * 2, (sign_ins, actions)
    assert actions >= CLIENTS, (sign_ins, actions)
    print(f"{sign_ins} sign-ins and {actions} Security-page actions in {DURATION:.0f} s")


def test_one_code_sent_to_two_workers_at_once_is_accepted_once(server, server_database):
    accounts = make_accounts(server_database, 5, prefix="race")
    for account in accounts:
        first, second = (
            Browser(server.base_url, address="10.9.0.1"),
            Browser(server.base_url, address="10.9.0.2"),
        )
        pages = [browser.password_step(account.email) for browser in (first, second)]
        assert all(page.url.split("?")[0].endswith("/login/code") for page in pages)
        code = totp.code_at_step(account.secret, current_step())
        replies = at_once(
            [
                functools.partial(browser.code_step, code, page=page)
                for browser, page in zip((first, second), pages, strict=True)
            ]
        )

        accepted = [r for r in replies if r.status == 200 and "/profile/security" in r.url]
        refused = [r for r in replies if r.status == 422 and "/login/code" in r.url]
        assert len(accepted) == 1 and len(refused) == 1, [(r.status, r.url) for r in replies]
        assert "That code was used already" in refused[0].body
    assert _server_errors(server) == []
