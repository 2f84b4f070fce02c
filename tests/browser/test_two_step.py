"""Two-step authentication in Chromium against the real server: enabling it from the QR
code (decoded from a screenshot, as a phone's camera reads it) or the typed key, signing in
with an app code and with a recovery code, a new phone, the Security page swapping its
panels without a reload, the same flow with JavaScript off, and axe on every state."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.browsing import SIZES, tab_to, type_into
from tests.browser.conftest import COMPANY, PASSWORD
from tests.browser.two_step_flows import (
    Authenticator,
    assert_not_reloaded,
    enable_two_step,
    enter_sign_in_code,
    finish_with_recovery_codes,
    mark_page,
    scan_qr,
    screenshots_only,
    sign_in_with_password,
    sign_out,
    two_step_area,
    typed_key,
)

pytestmark = pytest.mark.browser

SECURITY_PAGE = re.compile(r"/profile/security$")
SECOND_STEP = re.compile(r"/login/code(\?|$)")


def assert_code_field(field) -> None:
    """Phones offer the digits keyboard and the code from a text message or the app."""
    expect(field).to_have_attribute("autocomplete", "one-time-code")
    expect(field).to_have_attribute("inputmode", "numeric")


def test_enable_from_the_qr_code_then_sign_in_with_a_code_and_a_recovery_code(
    page: Page, make_account, camera
):
    account = make_account("Quinn Scanner")
    sign_in_with_password(page, account.email)
    expect(page).to_have_url(SECURITY_PAGE)
    area = two_step_area(page)
    expect(area.locator(".badge")).to_have_text("Off")
    camera.check(page, "off")
    security_url = page.url

    mark_page(page)
    area.get_by_role("button", name="Enable").click()
    expect(page.locator("figure.qr")).to_be_visible()
    assert_not_reloaded(page, security_url)
    assert_code_field(area.get_by_label("Code from the app"))
    camera.check(page, "enrolment")

    # The phone's camera reads what an authenticator app needs from the QR code.
    scanned = scan_qr(page)
    assert scanned.issuer == COMPANY
    assert scanned.account == account.email
    assert re.fullmatch(r"[A-Z2-7]{32}", scanned.secret), "a 160-bit base32 secret"
    assert scanned.secret == typed_key(page), "the QR code and the typed key differ"
    # Absent parameters mean SHA-1, 6 digits, 30 s, which is what every app assumes.
    assert scanned.parameters.get("algorithm", "SHA1") == "SHA1"
    assert scanned.parameters.get("digits", "6") == "6"
    assert scanned.parameters.get("period", "30") == "30"
    settings = area.get_by_role("definition")
    expect(settings).to_contain_text(
        [account.email, COMPANY, "Time-based (TOTP)", "SHA-1", "6", "30 seconds"]
    )
    app = Authenticator(scanned.secret)

    mark_page(page)
    area.get_by_label("Code from the app").fill(app.enrolment_code())
    area.get_by_role("button", name="Done").click()
    codes = finish_with_recovery_codes(page)
    expect(area.get_by_role("status")).to_contain_text("Two-step authentication is on.")
    assert_not_reloaded(page, security_url)
    expect(area.get_by_role("link", name="Download .txt")).to_be_visible()
    expect(area.get_by_role("button", name="Copy")).to_be_visible()
    camera.check(page, "recovery-codes")

    # Finish without the box ticked says why, on the box.
    mark_page(page)
    area.get_by_role("button", name="Finish").click()
    saved = area.get_by_label("I have saved these recovery codes somewhere safe")
    expect(saved).to_have_attribute("aria-invalid", "true")
    expect(area.get_by_role("alert")).to_have_text("Tick the box once the codes are saved.")
    camera.check(page, "recovery-codes-not-ticked")

    saved.check()
    area.get_by_role("button", name="Finish").click()
    expect(area.get_by_role("status")).to_contain_text("All set.")
    expect(area.locator("#two-step .badge")).to_have_text("On")
    expect(area.locator("#recovery-codes .badge")).to_have_text("10 left")
    # The codes are gone from the page once saved.
    expect(page.get_by_text(codes[0])).to_have_count(0)
    assert_not_reloaded(page, security_url)
    # The activity panel refreshed itself after the swap.
    expect(page.locator("#activity")).to_contain_text("Two-step authentication turned on")
    camera.check(page, "on")

    # Sign out; the password alone is not enough any more.
    sign_out(page)
    sign_in_with_password(page, account.email)
    expect(page).to_have_url(SECOND_STEP)
    assert_code_field(page.get_by_label("Authentication code"))
    camera.check(page, "second-step")
    enter_sign_in_code(page, app.code())
    expect(page).to_have_url(SECURITY_PAGE)
    expect(page.get_by_role("banner")).to_contain_text(account.name)

    # The phone is away: a recovery code, typed upper-case and without the dash.
    sign_out(page)
    sign_in_with_password(page, account.email)
    expect(page).to_have_url(SECOND_STEP)
    page.get_by_role("link", name="Use a recovery code instead").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Use a recovery code")
    camera.check(page, "recovery-step")
    page.get_by_label("Recovery code").fill(codes[3].replace("-", "").upper())
    page.get_by_role("button", name="Sign in", exact=True).click()

    expect(page).to_have_url(SECURITY_PAGE)
    expect(page.locator("#alerts")).to_contain_text("you have 9 codes left")
    recovery = page.locator("#recovery-codes")
    expect(recovery.locator(".badge")).to_have_text("9 left")
    used = recovery.get_by_role("row").filter(has=page.get_by_role("cell"))
    expect(used).to_have_count(1)
    # In the browser's time zone, and said relatively while it is recent.
    expect(used.get_by_role("cell").nth(0)).to_have_text(
        re.compile(r"^(just now|\d+ minutes? ago)$")
    )
    expect(used.get_by_role("cell").nth(1)).to_have_text("127.0.0.1")
    expect(used.get_by_role("cell").nth(2)).to_have_text("Headless Chrome on Linux")
    expect(page.locator("#activity")).to_contain_text(
        "Signed in · with a recovery code, 9 codes left"
    )
    camera.check(page, "recovery-code-used")

    # The same code does not work twice.
    sign_out(page)
    sign_in_with_password(page, account.email)
    page.get_by_role("link", name="Use a recovery code instead").click()
    page.get_by_label("Recovery code").fill(codes[3])
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text(
        "That recovery code is not right, or it was used already."
    )


def test_enable_by_typing_the_key_and_sign_in_by_keyboard_alone(page: Page, make_account, camera):
    account = make_account("Kai Typist")
    sign_in_with_password(page, account.email)
    security_url = page.url

    def key_typed_by_hand(page: Page) -> str:
        grouped = page.locator("#secret-key").inner_text()
        assert re.fullmatch(r"([A-Z2-7]{4} ){7}[A-Z2-7]{4}", grouped), grouped
        return typed_key(page)

    # A setup cancelled half-way changes nothing.
    area = two_step_area(page)
    mark_page(page)
    area.get_by_role("button", name="Enable").click()
    area.get_by_role("button", name="Cancel").click()
    expect(area.get_by_role("status")).to_have_text("Setup was cancelled. Nothing changed.")
    expect(area.locator(".badge")).to_have_text("Off")
    assert_not_reloaded(page, security_url)

    app, _codes = enable_two_step(page, key_typed_by_hand)
    sign_out(page)

    page.goto("/login")
    type_into(page, page.get_by_label("Email"), account.email)
    type_into(page, page.get_by_label("Password"), PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(SECOND_STEP)

    # A mistyped code first: the message is on the field, and focus can go back to it.
    wrong = "000000" if app.shown_now() != "000000" else "111111"
    type_into(page, page.get_by_label("Authentication code"), wrong)
    page.keyboard.press("Enter")
    code_field = page.get_by_label("Authentication code")
    expect(code_field).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert")).to_contain_text("That code is not right.")
    camera.check(page, "second-step-wrong-code")

    type_into(page, code_field, app.code())
    page.keyboard.press("Enter")
    expect(page).to_have_url(SECURITY_PAGE)
    expect(page.get_by_role("banner")).to_contain_text(account.name)

    # The way to a recovery code is reachable by keyboard too.
    sign_out(page)
    sign_in_with_password(page, account.email)
    tab_to(page, page.get_by_role("link", name="Use a recovery code instead"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Use a recovery code")
    expect(page.get_by_label("Recovery code")).to_have_attribute("autocomplete", "one-time-code")


def test_a_new_phone_replaces_the_old_one(page: Page, make_account, camera):
    account = make_account("Dana Newphone")
    sign_in_with_password(page, account.email)
    old_app, _codes = enable_two_step(page)
    security_url = page.url
    area = two_step_area(page)

    mark_page(page)
    area.get_by_role("link", name="My mobile device has changed").click()
    expect(area.get_by_role("heading", name="My mobile device has changed")).to_be_visible()
    assert_not_reloaded(page, security_url)
    camera.check(page, "device-change-form")

    # A wrong password keeps the form open, with the message on the password.
    area.get_by_label("Your password").fill("not my password")
    area.get_by_label("Code from your app, or a recovery code").fill("123456")
    area.get_by_role("button", name="Continue").click()
    expect(area.get_by_label("Your password")).to_have_attribute("aria-invalid", "true")
    expect(area.get_by_role("alert")).to_have_text("The password is not right.")
    camera.check(page, "device-change-refused")

    area.get_by_label("Your password").fill(PASSWORD)
    area.get_by_label("Code from your app, or a recovery code").fill(old_app.code())
    area.get_by_role("button", name="Continue").click()
    expect(area.get_by_role("heading", name="Set up your new device")).to_be_visible()
    assert_not_reloaded(page, security_url)
    camera.check(page, "device-change-enrolment")

    scanned = scan_qr(page)
    assert scanned.account == account.email and scanned.issuer == COMPANY
    assert scanned.secret != old_app.secret
    new_app = Authenticator(scanned.secret)
    area.get_by_label("Code from the app").fill(new_app.enrolment_code())
    area.get_by_role("button", name="Done").click()
    expect(area.get_by_role("status")).to_contain_text("Your new device is set up.")
    expect(area.locator("#two-step .badge")).to_have_text("On")
    assert_not_reloaded(page, security_url)
    expect(page.locator("#activity")).to_contain_text("Authenticator moved to a new device")
    camera.check(page, "device-changed")

    # The other open forms of the area, seen and closed again without a code spent.
    area.get_by_role("link", name="Turn off").click()
    expect(area.get_by_role("heading", name="Turn off two-step authentication")).to_be_visible()
    camera.check(page, "turn-off-form")
    area.get_by_role("link", name="Keep it on").click()
    # The area is swapped whole: wait for it before the next click lands on the old one.
    expect(area.get_by_role("heading", name="Turn off two-step authentication")).to_have_count(0)
    area.get_by_role("link", name="Make new codes").click()
    expect(area.get_by_role("heading", name="Make new recovery codes")).to_be_visible()
    assert_code_field(area.get_by_label("Code from your app"))
    camera.check(page, "regenerate-form")
    area.get_by_role("link", name="Cancel").click()
    expect(area.get_by_role("link", name="Make new codes")).to_be_visible()
    assert_not_reloaded(page, security_url)

    sign_out(page)
    sign_in_with_password(page, account.email)
    enter_sign_in_code(page, old_app.shown_now())
    expect(page).to_have_url(SECOND_STEP)
    expect(page.get_by_role("alert")).to_contain_text("That code is not right.")
    enter_sign_in_code(page, new_app.code())
    expect(page).to_have_url(SECURITY_PAGE)


def test_enable_and_sign_in_without_javascript(open_context, make_account, camera):
    account = make_account("Nils Plainform")
    page = open_context(java_script_enabled=False).new_page()
    sign_in_with_password(page, account.email)
    expect(page).to_have_url(SECURITY_PAGE)
    area = two_step_area(page)

    # Each button is a plain form post, answered with a 303 back to the page, so a reload
    # posts nothing again; what happened is said at the top of the page.
    area.get_by_role("button", name="Enable").click()
    expect(page).to_have_url(SECURITY_PAGE)
    area.get_by_role("button", name="Cancel").click()
    expect(page).to_have_url(SECURITY_PAGE)
    expect(page.locator("#alerts").get_by_role("status")).to_have_text(
        "Setup was cancelled. Nothing changed."
    )
    area.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Security")
    # The whole page, and the area's notice stays in the area.
    expect(page.locator("#sessions")).to_be_visible()
    expect(page.locator("#sessions").get_by_role("status")).to_have_count(0)
    expect(page.get_by_role("button", name="Copy key")).to_be_hidden()
    app = Authenticator(scan_qr(page).secret)

    area.get_by_label("Code from the app").fill(app.enrolment_code())
    area.get_by_role("button", name="Done").click()
    expect(page).to_have_url(SECURITY_PAGE)
    expect(page.get_by_role("heading", level=1)).to_have_text("Security")
    finish_with_recovery_codes(page)
    # Without scripts there is nothing to copy or print with; the download still works.
    expect(area.get_by_role("button", name="Copy")).to_be_hidden()
    expect(area.get_by_role("button", name="Print")).to_be_hidden()
    expect(area.get_by_role("link", name="Download .txt")).to_be_visible()
    screenshots_only(page, camera, "recovery-codes")

    area.get_by_label("I have saved these recovery codes somewhere safe").check()
    area.get_by_role("button", name="Finish").click()
    expect(page).to_have_url(SECURITY_PAGE)
    expect(page.locator("#alerts").get_by_role("status")).to_contain_text("All set.")
    expect(area.locator("#two-step .badge")).to_have_text("On")
    expect(page.locator("#activity")).to_contain_text("Two-step authentication turned on")

    sign_out(page)
    sign_in_with_password(page, account.email)
    expect(page).to_have_url(SECOND_STEP)
    enter_sign_in_code(page, app.code())
    expect(page).to_have_url(SECURITY_PAGE)
    expect(page.get_by_role("banner")).to_contain_text(account.name)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_on_since_line_reads_as_one_sentence(page: Page, make_account, size):
    """The time in "On since ... ." sits in the sentence's flow: no gap before the full stop,
    the rest of the sentence on the same line, at either width."""
    account = make_account("Sasha Sentence")
    sign_in_with_password(page, account.email)
    expect(page).to_have_url(SECURITY_PAGE)
    enable_two_step(page)
    page.set_viewport_size(SIZES[size])
    line = two_step_area(page).locator("p", has_text="On since")
    expect(line).to_contain_text(re.compile(r"On since \S.*\. Each sign-in asks"))
    gap = line.evaluate(
        """p => {
            const time = p.querySelector("time");
            const after = document.createRange();
            after.setStart(time.nextSibling, 0);
            after.setEnd(time.nextSibling, 1);
            const stop = after.getBoundingClientRect(), stamp = time.getBoundingClientRect();
            return {dx: stop.left - stamp.right, dy: Math.abs(stop.top - stamp.top)};
        }"""
    )
    assert gap["dx"] < 1 and gap["dy"] < 2, f"the full stop is set apart from the time: {gap}"
