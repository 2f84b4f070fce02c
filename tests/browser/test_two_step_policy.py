"""The company's two-step policy as employees meet it in Chromium: the deadline banner,
and past the deadline either no way in or only the set-up, with and without JavaScript.

The policy lives on a portal server of its own, so that the shared one stays optional.
Deadlines here are reached without moving a clock: a grace period of 0 days makes every
employee without two-step overdue at once."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, set_up_over_http
from tests.browser.server import PortalServer
from tests.browser.two_step_flows import (
    Authenticator,
    enable_two_step,
    finish_with_recovery_codes,
    scan_qr,
    sign_in_with_password,
    two_step_area,
)

pytestmark = pytest.mark.browser

SECURITY_PAGE = re.compile(r"/profile/security$")


@pytest.fixture(scope="module")
def policy_server(tmp_path_factory):
    server = PortalServer(tmp_path_factory.mktemp("policy-at-sign-in")).start()
    try:
        set_up_over_http(server)
        yield server
    finally:
        server.stop()


def set_policy(server: PortalServer, *, grace_days: int, after_deadline: str) -> None:
    """The saved settings, as the administrator's settings page leaves them."""
    with sqlite3.connect(server.folder / "portal.db") as database:
        database.execute(
            "UPDATE company SET two_step_mandatory = 1, two_step_mandatory_since = ?,"
            " two_step_grace_days = ?, two_step_after_deadline = ?",
            (datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"), grace_days, after_deadline),
        )


def test_the_banner_counts_down_and_can_be_put_off(policy_server, open_context, camera):
    policy_server.create_user("Emma Stone", "emma@northwind.example", PASSWORD)
    set_policy(policy_server, grace_days=5, after_deadline="refuse")
    page = open_context(policy_server).new_page()
    sign_in_with_password(page, "emma@northwind.example")
    banner = page.get_by_role("region", name=re.compile("requires two-step authentication"))
    expect(banner).to_contain_text("days left to set it up")
    page.get_by_role("link", name="Profile").click()
    expect(banner).to_contain_text("days left to set it up")
    camera.check(page, "banner")
    banner.get_by_role("link", name="Set it up now").click()
    expect(page).to_have_url(SECURITY_PAGE)
    banner.get_by_role("button", name="Remind me later").click()
    expect(banner).to_have_count(0)
    page.reload()
    expect(page.locator("#deadline-banner")).to_have_count(0)


def test_past_the_deadline_sign_in_is_refused(policy_server, open_context, camera):
    policy_server.create_user("Noah Brook", "noah@northwind.example", PASSWORD)
    set_policy(policy_server, grace_days=0, after_deadline="refuse")
    for scripts in (True, False):
        page = open_context(policy_server, java_script_enabled=scripts).new_page()
        sign_in_with_password(page, "noah@northwind.example")
        expect(page).to_have_url(re.compile(r"/login$"))
        expect(page.get_by_text("Contact your administrator to get access again.")).to_be_visible()
        if scripts:
            camera.check(page, "refused")


def test_past_the_deadline_only_the_set_up_opens(policy_server, open_context, camera):
    policy_server.create_user("Olga Owens", "olga@northwind.example", PASSWORD)
    set_policy(policy_server, grace_days=0, after_deadline="setup")
    page = open_context(policy_server).new_page()
    sign_in_with_password(page, "olga@northwind.example")
    expect(page).to_have_url(SECURITY_PAGE)
    expect(page.get_by_role("alert").first).to_contain_text("Set it up now to use the portal")
    # No way elsewhere: no navigation, and an address typed by hand comes back here.
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    expect(page.locator("#sessions")).to_have_count(0)
    camera.check(page, "confined")
    page.goto("/profile/")
    expect(page).to_have_url(SECURITY_PAGE)

    enable_two_step(page)
    expect(two_step_area(page).locator("#two-step .badge")).to_have_text("On")
    page.goto("/profile/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Profile")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def test_past_the_deadline_the_set_up_works_without_javascript(policy_server, open_context):
    policy_server.create_user("Pia Plain", "pia@northwind.example", PASSWORD)
    set_policy(policy_server, grace_days=0, after_deadline="setup")
    page = open_context(policy_server, java_script_enabled=False).new_page()
    sign_in_with_password(page, "pia@northwind.example")
    expect(page).to_have_url(SECURITY_PAGE)
    page.goto("/admin/")
    expect(page).to_have_url(SECURITY_PAGE)
    area = two_step_area(page)
    area.get_by_role("button", name="Enable").click()
    expect(page).to_have_url(SECURITY_PAGE)
    app = Authenticator(scan_qr(page).secret)
    area.get_by_label("Code from the app").fill(app.enrolment_code())
    area.get_by_role("button", name="Done").click()
    finish_with_recovery_codes(page)
    area.get_by_label("I have saved these recovery codes somewhere safe").check()
    area.get_by_role("button", name="Finish").click()
    expect(page.locator("#alerts")).to_contain_text("All set.")
    page.goto("/admin/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
