"""The Profile page's two cards as a person uses them: a notice from one card goes when
the other is used, a wrong current password is flagged with the other problems at once,
and the length rule is said once (the error replaces the hint)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.two_step_flows import sign_in_with_password

pytestmark = pytest.mark.browser


def test_a_notice_goes_when_another_card_is_used(page: Page, make_account, camera):
    account = make_account("Lena Linger")
    sign_in_with_password(page, account.email)
    page.goto("/profile/")
    details = page.locator("#profile-details")
    password = page.locator("#profile-password")

    details.get_by_label("Name").fill("Lena Lingers")
    details.get_by_role("button", name="Save").click()
    expect(details.get_by_role("status")).to_have_text("Your profile is saved.")

    password.get_by_label("Current password").fill("not my password")
    password.get_by_label("New password", exact=True).fill("short")
    password.get_by_label("Repeat the new password").fill("short")
    password.get_by_role("button", name="Change password").click()
    expect(password.locator(".field__error").first).to_be_visible()
    expect(details.get_by_role("status")).to_have_count(0)
    expect(page.get_by_text("Your profile is saved.")).to_have_count(0)

    # Both problems in the same round, and the length rule said once.
    expect(password.locator("#current_password-error")).to_have_text(
        "The current password is not right."
    )
    expect(password.locator("#new_password-error")).to_have_text("Use at least 10 characters.")
    expect(password.get_by_text("At least 10 characters.", exact=True)).to_have_count(0)
    camera.check(page, "password-refused")

    # And the other way round: the password card's notice goes when the details are saved.
    password.get_by_label("Current password").fill(account.password)
    password.get_by_label("New password", exact=True).fill("a brand new passphrase")
    password.get_by_label("Repeat the new password").fill("a brand new passphrase")
    password.get_by_role("button", name="Change password").click()
    expect(password.get_by_role("status")).to_contain_text("Your password is changed.")
    details.get_by_label("Name").fill("Lena Linger")
    details.get_by_role("button", name="Save").click()
    expect(details.get_by_role("status")).to_have_text("Your profile is saved.")
    expect(password.get_by_role("status")).to_have_count(0)
    camera.check(page, "details-saved")
