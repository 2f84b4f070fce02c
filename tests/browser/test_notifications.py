"""Notifications in Chromium: a sign-in finished with the code from a browser that is
signed in already, a stranger's attempt ended with "This wasn't me", and the
notifications page with and without JavaScript.

The bell asks every 2 seconds on this server (PORTAL_BELL_POLL_SECONDS), so "within one
poll" is a short wait; the portal runs on the real clock.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ADMIN_EMAIL, PASSWORD, set_up_over_http
from tests.browser.server import PortalServer
from tests.browser.two_step_flows import (
    PERIOD,
    enable_two_step,
    enter_sign_in_code,
    screenshots_only,
    sign_in_with_password,
)

pytestmark = pytest.mark.browser

POLL_SECONDS = 2
ONE_POLL_MS = (POLL_SECONDS + 3) * 1000
STRANGER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"


class NotifyingServer(PortalServer):
    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "PORTAL_BELL_POLL_SECONDS": str(POLL_SECONDS)}


@pytest.fixture(scope="module")
def notify_server(tmp_path_factory):
    server = NotifyingServer(tmp_path_factory.mktemp("notifications")).start()
    try:
        set_up_over_http(server)
        yield server
    finally:
        server.stop()


def _wait_for_a_new_step(after: int | None) -> None:
    """Until the time step after ``after`` begins, so that its code is a fresh one."""
    if after is None:
        return
    wait = (after + 1) * PERIOD - time.time() + 0.2
    if wait > 0:
        time.sleep(wait)


def _shown_code(page) -> str:
    code = page.locator("#bell [data-sign-in-code]")
    expect(code).to_be_visible(timeout=ONE_POLL_MS)
    return re.sub(r"\D", "", code.inner_text())


def test_a_sign_in_is_finished_from_a_signed_in_browser_and_a_strangers_is_ended(
    notify_server, open_context, camera
):
    server = notify_server
    server.create_user("Emma Stone", "emma@northwind.example", PASSWORD)

    # The administrator turns the option on.
    admin = open_context(server).new_page()
    sign_in_with_password(admin, ADMIN_EMAIL)
    admin.get_by_role("link", name="Settings").click()
    panel = admin.locator("#notification-settings")
    panel.get_by_label("On").check()
    panel.get_by_role("button", name="Save").click()
    expect(panel.get_by_role("status")).to_have_text("Notification settings saved.")
    camera.check(admin, "settings-saved")

    # A: Emma, signed in with both steps on her phone.
    phone = open_context(server).new_page()
    sign_in_with_password(phone, "emma@northwind.example")
    app, _codes = enable_two_step(phone)
    phone.get_by_role("link", name="Profile").click()

    # B: Emma on a new laptop passes the password step; the phone shows the code.
    _wait_for_a_new_step(app.last_step)
    laptop = open_context(server).new_page()
    sign_in_with_password(laptop, "emma@northwind.example")
    expect(laptop.get_by_role("heading", level=1)).to_have_text("Enter your authentication code")
    bell_code = phone.locator("#bell .bell__code")
    expect(bell_code).to_contain_text("Sign-in waiting for its code", timeout=ONE_POLL_MS)
    code = _shown_code(phone)
    assert code == app.shown_now() or code == app.totp.at(time.time() - PERIOD)
    camera.check(phone, "code-in-the-bell")
    enter_sign_in_code(laptop, code)
    expect(laptop).to_have_url(re.compile(r"/profile/security$"))
    app.last_step = int(time.time() // PERIOD)
    expect(bell_code).to_have_count(0, timeout=ONE_POLL_MS)

    # C: a stranger with the password; Emma says it was not her.
    stranger = open_context(server, user_agent=STRANGER).new_page()
    sign_in_with_password(stranger, "emma@northwind.example")
    expect(bell_code).to_contain_text("Firefox on Windows", timeout=ONE_POLL_MS)
    bell_code.get_by_role("button", name="This wasn't me").click()
    expect(phone).to_have_url(re.compile(r"/profile/$"))
    expect(phone.get_by_role("status").first).to_contain_text("Change your password now")
    expect(phone.locator("#profile-password").get_by_label("Current password")).to_be_visible()
    camera.check(phone, "after-this-wasnt-me")

    # The stranger's correct code is refused: that sign-in is over.
    enter_sign_in_code(stranger, app.code())
    expect(stranger).to_have_url(re.compile(r"/login$"))
    expect(stranger.get_by_role("status").first).to_have_text("Please sign in again.")

    # The administrators have a notice, and the audit log has it.
    # (Her other notice: her first sign-in in Chromium, after the set-up over HTTP.)
    admin.reload()
    expect(admin.locator("#bell-count")).to_have_text(re.compile(r"^2"), timeout=ONE_POLL_MS)
    admin.locator("#bell a").click()
    notices = admin.locator("#notifications")
    expect(notices).to_contain_text("reported as not made by the account's owner")
    expect(notices).to_contain_text("Emma Stone (emma@northwind.example)")
    camera.check(admin, "administrators-notice")
    admin.get_by_role("link", name="Audit log").click()
    expect(admin.locator("main")).to_contain_text("This wasn't me")

    # Emma's list: the sign-in code notices, the code gone from both.
    phone.goto("/notifications/")
    items = phone.locator("#notifications li")
    expect(items.filter(has_text="This sign-in is over")).to_have_count(2)
    expect(phone.locator("[data-sign-in-code]")).to_have_count(0)
    phone.get_by_role("button", name="Mark all as read").click()
    expect(phone.locator("#notifications").get_by_role("status")).to_have_text(
        "All notifications are marked as read."
    )
    expect(phone.locator("#bell-count")).to_have_count(0)  # the header's bell at once
    camera.check(phone, "all-read")


def test_the_notifications_page_without_javascript(notify_server, open_context, camera):
    server = notify_server
    server.create_user("Noel Plain", "noel@northwind.example", PASSWORD)
    first = open_context(server).new_page()
    sign_in_with_password(first, "noel@northwind.example")
    plain = open_context(server, java_script_enabled=False, user_agent=STRANGER).new_page()
    sign_in_with_password(plain, "noel@northwind.example")  # a browser not seen before

    expect(plain.locator("#bell-count")).to_have_text(re.compile(r"^1"))
    plain.get_by_role("link", name=re.compile("Notifications")).click()
    expect(plain).to_have_url(re.compile(r"/notifications/$"))
    item = plain.locator("#notifications li").first
    expect(item).to_contain_text("New sign-in from a browser not seen before")
    expect(item).to_contain_text("Firefox on Windows")
    screenshots_only(plain, camera, "no-javascript-list")
    item.get_by_role("button", name=re.compile("^Mark as read")).click()
    expect(plain).to_have_url(re.compile(r"/notifications/$"))
    expect(plain.get_by_role("status").first).to_have_text("Marked as read.")
    expect(plain.locator("#bell-count")).to_have_count(0)
    screenshots_only(plain, camera, "no-javascript-read")
