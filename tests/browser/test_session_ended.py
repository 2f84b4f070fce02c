"""Signed out from another browser, then a click on an htmx button: the person lands on
the sign-in page, which says that the session ended."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.two_step_flows import sign_in_with_password

pytestmark = pytest.mark.browser


def test_an_htmx_click_after_signed_out_elsewhere_leads_to_sign_in_with_why(
    open_context, make_account, camera
):
    account = make_account("Esther Elsewhere")
    here = open_context().new_page()
    sign_in_with_password(here, account.email)
    here.goto("/profile/")

    there = open_context().new_page()
    sign_in_with_password(there, account.email)
    there.get_by_role("button", name="Sign out everywhere else").click()
    expect(there.locator("#sessions").get_by_role("status")).to_be_visible()

    here.locator("#profile-details").get_by_role("button", name="Save").click()
    expect(here).to_have_url(re.compile(r"/login\?next=(%2F|/)profile(%2F|/)$"))
    expect(here.get_by_role("status")).to_have_text(
        "Your session has ended: it was signed out in another tab or browser, or unused for "
        "too long. Sign in again to continue."
    )
    camera.check(here, "session-ended")


def test_an_htmx_click_after_signing_out_in_another_tab_leads_to_sign_in_with_why(
    open_context, make_account
):
    account = make_account("Tilda Tabs")
    context = open_context()
    first_tab = context.new_page()
    sign_in_with_password(first_tab, account.email)
    first_tab.goto("/profile/")
    second_tab = context.new_page()
    second_tab.goto("/profile/security")
    second_tab.get_by_role("button", name="Sign out").click()
    expect(second_tab.get_by_role("status")).to_have_text("You are signed out.")

    first_tab.locator("#profile-details").get_by_role("button", name="Save").click()
    expect(first_tab).to_have_url(re.compile(r"/login\?next=(%2F|/)profile(%2F|/)$"))
    expect(first_tab.get_by_role("status")).to_contain_text("Your session has ended")
