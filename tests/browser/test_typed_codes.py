"""A code typed on one form of the Security page never arrives in the next one: the new
phone's code field starts empty after the old phone's code or a recovery code, with and
without JavaScript."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD
from tests.browser.two_step_flows import (
    enable_two_step,
    screenshots_only,
    sign_in_with_password,
    two_step_area,
)

pytestmark = pytest.mark.browser


def _start_device_change(page: Page, code: str) -> None:
    area = two_step_area(page)
    area.get_by_role("link", name="My mobile device has changed").click()
    # Refused first (a slip of the password): the code typed is not shown back.
    area.get_by_label("Your password").fill("not my password")
    area.get_by_label("Code from your app, or a recovery code").fill(code)
    area.get_by_role("button", name="Continue").click()
    expect(area.get_by_role("alert")).to_have_text("The password is not right.")
    expect(area.get_by_label("Code from your app, or a recovery code")).to_have_value("")
    assert code not in page.content()
    area.get_by_label("Your password").fill(PASSWORD)
    area.get_by_label("Code from your app, or a recovery code").fill(code)
    area.get_by_role("button", name="Continue").click()
    expect(area.get_by_role("heading", name="Set up your new device")).to_be_visible()


@pytest.mark.parametrize("scripts", [True, False], ids=["js", "no-js"])
def test_the_new_phones_code_field_starts_empty(open_context, make_account, scripts, camera):
    account = make_account("Nina Newphone")
    page = open_context().new_page()
    sign_in_with_password(page, account.email)
    _app, codes = enable_two_step(page)
    if not scripts:
        # Same account, a browser without scripts.
        page = open_context(java_script_enabled=False).new_page()
        sign_in_with_password(page, account.email)
        page.get_by_role("link", name="Use a recovery code instead").click()
        page.get_by_label("Recovery code").fill(codes[1])
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Security")
    _start_device_change(page, codes[0])
    field = two_step_area(page).get_by_label("Code from the app")
    expect(field).to_have_value("")
    assert codes[0] not in page.content()
    if scripts:
        camera.check(page, "new-phone-code-empty")
    else:
        screenshots_only(page, camera, "new-phone-code-empty")
