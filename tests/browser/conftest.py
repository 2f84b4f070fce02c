"""Browser-test fixtures: the portal served by gunicorn, Debian's Chromium through Playwright.

`portal` is one server for the whole run, already set up (company and first administrator);
tests add their own accounts so that they do not depend on each other. `pristine_portal`
is a fresh, empty server for the first-run tests.
"""

from __future__ import annotations

import itertools
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.cookiejar import CookieJar

import pytest
from playwright.sync_api import sync_playwright

from tests.browser.browsing import (
    CHROMIUM_ARGS,
    SIZES,
    Camera,
    chromium_path,
    clear_default_screenshots,
    screenshot_folder,
)
from tests.browser.server import PortalServer

COMPANY = "Northwind Tools"
ADMIN_NAME = "Ada Admin"
ADMIN_EMAIL = "ada@northwind.example"
PASSWORD = "correct horse battery"

_CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass(frozen=True)
class Account:
    name: str
    email: str
    password: str = PASSWORD


def set_up_over_http(server: PortalServer) -> None:
    """The first-run form posted without a browser, for the server the other tests share."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    link = server.wait_for_setup_link()
    with opener.open(link, timeout=10) as response:
        token = _CSRF_INPUT.search(response.read().decode()).group(1)
    form = {
        "csrf_token": token,
        "token": urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["token"][0],
        "company_name": COMPANY,
        "admin_name": ADMIN_NAME,
        "email": ADMIN_EMAIL,
        "password": PASSWORD,
        "confirm": PASSWORD,
    }
    with opener.open(
        server.url("/setup"), urllib.parse.urlencode(form).encode(), timeout=10
    ) as response:
        assert response.url.endswith("/profile/security"), server.log_tail()


@pytest.fixture(scope="session")
def portal(tmp_path_factory):
    server = PortalServer(tmp_path_factory.mktemp("portal")).start()
    try:
        set_up_over_http(server)
        yield server
    finally:
        server.stop()


@pytest.fixture
def pristine_portal(tmp_path_factory):
    server = PortalServer(tmp_path_factory.mktemp("pristine")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def admin() -> Account:
    return Account(ADMIN_NAME, ADMIN_EMAIL)


_account_numbers = itertools.count(1)


@pytest.fixture
def make_account(portal):
    """A fresh employee (or administrator) made with the command line."""

    def _make(name: str = "Emma Stone", *, admin: bool = False) -> Account:
        number = next(_account_numbers)
        account = Account(name, f"{name.split()[0].lower()}.{number}@northwind.example")
        portal.create_user(account.name, account.email, account.password, admin=admin)
        return account

    return _make


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_context(browser, portal):
    """Browser contexts (separate cookie jars) that fail the test on any script error.

    axe-core is injected as a script tag, which the portal's CSP forbids: contexts bypass
    the CSP unless a test asks for it to be enforced (enforce_csp=True).
    """
    contexts = []
    errors: list[str] = []

    def _open(server: PortalServer | None = None, *, enforce_csp: bool = False, **options):
        options.setdefault("viewport", SIZES["desktop"])
        context = browser.new_context(
            base_url=(server or portal).base_url, bypass_csp=not enforce_csp, **options
        )
        context.set_default_timeout(10_000)
        context.on("console", lambda message: _console_error(message, errors))
        context.on("weberror", lambda error: errors.append(str(error.error)))
        context.on("response", lambda response: _missing_asset(response, errors))
        contexts.append(context)
        return context

    yield _open
    for context in contexts:
        context.close()
    assert not errors, "Errors in the browser console:\n" + "\n".join(errors)


def _console_error(message, errors: list[str]) -> None:
    # Pages answered with 4xx on purpose log "Failed to load resource"; assets are
    # checked by _missing_asset instead.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        errors.append(message.text)


def _missing_asset(response, errors: list[str]) -> None:
    if (
        response.request.resource_type in {"stylesheet", "script", "image", "font"}
        and response.status >= 400
    ):
        errors.append(f"{response.status} for {response.url}")


@pytest.fixture
def page(open_context):
    return open_context().new_page()


@pytest.fixture(scope="session")
def screenshots():
    clear_default_screenshots()
    return screenshot_folder()


@pytest.fixture
def camera(request, screenshots) -> Camera:
    """Screenshots named after the test (parameters included) and the step."""
    name = re.sub(r"[^\w.-]+", "-", request.node.name.removeprefix("test_")).strip("-")
    return Camera(screenshots, name)
