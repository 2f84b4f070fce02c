"""The wait between code attempts at sign-in, as a person sees it: in words, counted down
with scripts (the Sign in button comes back when the wait is over), and without scripts
the words alone with the button in place."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD
from tests.browser.two_step_flows import (
    Authenticator,
    enable_two_step,
    screenshots_only,
    sign_in_with_password,
    sign_out,
    two_step_area,
)

pytestmark = pytest.mark.browser


def _three_wrong_codes(page: Page, app: Authenticator) -> None:
    for _ in range(3):
        wrong = "000000" if app.shown_now() != "000000" else "111111"
        page.get_by_label("Authentication code").fill(wrong)
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.get_by_label("Authentication code")).to_have_value("")  # the page is back
        expect(page.get_by_role("alert")).to_contain_text("That code is not right")


def test_the_wait_is_counted_down_and_the_button_comes_back(open_context, make_account, camera):
    account = make_account("Wanda Waits")
    page = open_context().new_page()
    sign_in_with_password(page, account.email)
    app, _codes = enable_two_step(page)
    sign_out(page)

    sign_in_with_password(page, account.email)
    _three_wrong_codes(page, app)
    expect(page.get_by_role("alert")).to_contain_text(
        "Please wait a few seconds before the next try."
    )
    sign_in_button = page.get_by_role("button", name="Sign in", exact=True)
    countdown = page.locator(".countdown")
    expect(countdown).to_be_visible()
    expect(countdown).to_contain_text(re.compile(r"Next try in 0:0[1-5]"))
    expect(sign_in_button).to_be_hidden()
    # The clock is not a live region: only the end of the wait is announced.
    assert countdown.locator("[data-countdown-clock]").get_attribute("aria-live") is None
    camera.check(page, "waiting")

    expect(sign_in_button).to_be_visible(timeout=10_000)
    expect(countdown.get_by_role("status")).to_have_text("You can try again now.")
    expect(countdown.get_by_text("Next try in")).to_be_hidden()
    camera.check(page, "wait-over")
    page.get_by_label("Authentication code").fill(app.code())
    sign_in_button.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Security")


def test_without_scripts_the_wait_is_said_and_the_button_stays(open_context, make_account, camera):
    account = make_account("Walt Waits")
    page = open_context().new_page()
    sign_in_with_password(page, account.email)
    app, _codes = enable_two_step(page)

    plain = open_context(java_script_enabled=False).new_page()
    sign_in_with_password(plain, account.email)
    _three_wrong_codes(plain, app)
    expect(plain.get_by_role("alert")).to_contain_text(
        "Please wait a few seconds before the next try."
    )
    expect(plain.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    expect(plain.locator(".countdown")).to_be_hidden()
    screenshots_only(plain, camera, "waiting-no-js")


def test_the_security_page_counts_the_wait_down_after_an_htmx_swap(
    page: Page, make_account, camera
):
    account = make_account("Wilma Waits")
    sign_in_with_password(page, account.email)
    app, _codes = enable_two_step(page)
    area = two_step_area(page)
    area.get_by_role("link", name="My mobile device has changed").click()
    continue_button = area.get_by_role("button", name="Continue")
    for _ in range(3):
        wrong = "000000" if app.shown_now() != "000000" else "111111"
        area.get_by_label("Your password").fill(PASSWORD)
        area.get_by_label("Code from your app, or a recovery code").fill(wrong)
        continue_button.click()
        # The swap brings the form back with its fields empty.
        expect(area.get_by_label("Your password")).to_have_value("")
        expect(area.locator(".field__error")).to_contain_text("That code is not right")
    expect(area.locator(".field__error")).to_contain_text(
        "Please wait a few seconds before the next try."
    )
    countdown = area.locator(".countdown")
    expect(countdown).to_contain_text(re.compile(r"Next try in 0:0[1-5]"))
    expect(continue_button).to_be_hidden()
    camera.check(page, "device-change-waiting")
    expect(continue_button).to_be_visible(timeout=10_000)
    expect(countdown.get_by_role("status")).to_have_text("You can try again now.")
