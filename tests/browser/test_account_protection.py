"""What an employee sees of the protections around the account: strangers' wrong passwords
do not keep out a browser that signed in before, turning two-step on signs the other
browsers out, unsaved recovery codes need the password and an app code to be
shown again (with and without JavaScript), and a new email needs the password and does not
tell whether another account holds it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD, set_up_over_http
from tests.browser.server import PortalServer
from tests.browser.two_step_flows import (
    Authenticator,
    enter_sign_in_code,
    finish_with_recovery_codes,
    scan_qr,
    screenshots_only,
    sign_in_with_password,
    two_step_area,
)

pytestmark = pytest.mark.browser

SECURITY_PAGE = re.compile(r"/profile/security$")
SIGN_IN_PAGE = re.compile(r"/login(\?|$)")
SHOW_AGAIN = "To see them again, enter your password and a code from your app."


def _enable_leaving_codes_unsaved(page: Page) -> tuple[Authenticator, list[str]]:
    area = two_step_area(page)
    area.get_by_role("button", name="Enable").click()
    expect(page.locator("figure.qr")).to_be_visible()
    app = Authenticator(scan_qr(page).secret)
    area.get_by_label("Code from the app").fill(app.enrolment_code())
    area.get_by_role("button", name="Done").click()
    expect(page.get_by_role("status").first).to_contain_text("Your other sessions were signed out")
    return app, finish_with_recovery_codes(page)


@pytest.mark.parametrize("scripts", [True, False], ids=["js", "no-js"])
def test_unsaved_codes_need_the_password_and_an_app_code_elsewhere(
    open_context, make_account, camera, scripts
):
    account = make_account("Rita Reveal")
    earlier = open_context(java_script_enabled=scripts).new_page()
    sign_in_with_password(earlier, account.email)
    expect(earlier).to_have_url(SECURITY_PAGE)

    page = open_context(java_script_enabled=scripts).new_page()
    sign_in_with_password(page, account.email)
    expect(page).to_have_url(SECURITY_PAGE)
    app, codes = _enable_leaving_codes_unsaved(page)

    # The browser signed in before two-step was turned on is signed out.
    earlier.goto("/profile/security")
    expect(earlier).to_have_url(SIGN_IN_PAGE)

    # Another browser, signed in with both steps, sees that codes wait, not the codes.
    other = open_context(java_script_enabled=scripts).new_page()
    sign_in_with_password(other, account.email)
    enter_sign_in_code(other, app.code())
    expect(other).to_have_url(SECURITY_PAGE)
    area = two_step_area(other)
    expect(area).to_contain_text(SHOW_AGAIN)
    expect(area.get_by_role("list", name="Recovery codes")).to_have_count(0)
    for code in codes:
        expect(other.locator("body")).not_to_contain_text(code)
    code_field = area.get_by_label("Code from your app")
    expect(code_field).to_have_attribute("autocomplete", "one-time-code")
    expect(code_field).to_have_attribute("inputmode", "numeric")
    if scripts:
        camera.check(other, "codes-hidden")
    else:
        screenshots_only(other, camera, "codes-hidden")

    # The password alone is refused: the code is asked for.
    area.get_by_label("Your password").fill(PASSWORD)
    area.get_by_role("button", name="Show the codes").click()
    expect(area.get_by_role("alert")).to_contain_text("Enter the 6-digit code")
    expect(area.get_by_role("list", name="Recovery codes")).to_have_count(0)

    area.get_by_label("Your password").fill(PASSWORD)
    area.get_by_label("Code from your app").fill(app.code())
    area.get_by_role("button", name="Show the codes").click()
    expect(other).to_have_url(SECURITY_PAGE)
    expect(other.get_by_role("status").first).to_contain_text("Here are your recovery codes again.")
    assert finish_with_recovery_codes(other) == codes
    if scripts:
        camera.check(other, "codes-shown-again")
    else:
        screenshots_only(other, camera, "codes-shown-again")


def test_a_new_email_needs_the_password_and_a_taken_one_is_not_named(
    open_context, make_account, camera
):
    account = make_account("Eva Mailer")
    taken = make_account("Tom Taken")
    page = open_context().new_page()
    sign_in_with_password(page, account.email)
    page.goto("/profile/")
    details = page.locator("#profile-details")
    expect(details.get_by_label("Current password")).to_have_attribute(
        "autocomplete", "current-password"
    )

    details.get_by_label("Email").fill(taken.email)
    details.get_by_role("button", name="Save").click()
    expect(details.get_by_role("alert")).to_have_text(
        "Enter your current password to change your email."
    )

    details.get_by_label("Current password").fill(PASSWORD)
    details.get_by_role("button", name="Save").click()
    alert = details.get_by_role("alert")
    expect(alert).to_contain_text("This email address cannot be used for your account.")
    expect(details).not_to_contain_text("already")
    camera.check(page, "email-refused")

    details.get_by_label("Email").fill("eva.new@northwind.example")
    details.get_by_label("Current password").fill(PASSWORD)
    details.get_by_role("button", name="Save").click()
    expect(details.get_by_role("status")).to_have_text("Your profile is saved.")
    expect(details.get_by_label("Email")).to_have_value("eva.new@northwind.example")
    page.goto("/profile/security")
    expect(page.locator("#activity")).to_contain_text(
        f"Email changed from {account.email} to eva.new@northwind.example"
    )


class OneWorkerServer(PortalServer):
    """The rate limits count in each worker's memory: one worker, so one count."""

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "WEB_CONCURRENCY": "1"}


@pytest.fixture
def one_worker_portal(tmp_path_factory):
    server = OneWorkerServer(tmp_path_factory.mktemp("one-worker")).start()
    try:
        set_up_over_http(server)
        yield server
    finally:
        server.stop()


def test_strangers_wrong_passwords_do_not_keep_out_a_known_browser(
    open_context, one_worker_portal, camera
):
    email = "lena.locked@northwind.example"
    one_worker_portal.create_user("Lena Locked", email, PASSWORD)
    own = open_context(one_worker_portal).new_page()
    sign_in_with_password(own, email)
    expect(own).to_have_url(SECURITY_PAGE)
    own.get_by_role("button", name="Sign out").click()
    expect(own).to_have_url(SIGN_IN_PAGE)

    stranger = open_context(one_worker_portal).new_page()
    for _ in range(10):
        sign_in_with_password(stranger, email, "a wrong guess at it")
        expect(stranger.get_by_role("alert")).to_contain_text("do not match an active account")
    # Even with the right password, an unknown browser is told why it must wait.
    unknown = open_context(one_worker_portal).new_page()
    sign_in_with_password(unknown, email)
    expect(unknown.locator("main")).to_contain_text(
        "Too many attempts for this account from unknown browsers."
    )
    camera.check(unknown, "unknown-browser-refused")

    # The browser that signed in before gets in.
    sign_in_with_password(own, email)
    expect(own).to_have_url(SECURITY_PAGE)
