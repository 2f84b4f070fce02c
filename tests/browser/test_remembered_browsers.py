"""Remember this browser in Chromium: the administrator allows it, an employee ticks the box
at the code step, the next sign-in in that browser needs only the password, and the
Security page lists the remembered browsers and forgets them, with and without JavaScript.

The option lives on a portal server of its own, so that the shared one keeps it off."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.browsing import type_into
from tests.browser.conftest import ADMIN_EMAIL, PASSWORD, set_up_over_http
from tests.browser.server import PortalServer
from tests.browser.two_step_flows import (
    Authenticator,
    assert_not_reloaded,
    enable_two_step,
    mark_page,
    screenshots_only,
    sign_in_with_password,
)

pytestmark = pytest.mark.browser

SECURITY_PAGE = re.compile(r"/profile/security(#.*)?$")
SECOND_STEP = re.compile(r"/login/code(\?|$)")
EMMA = "emma@northwind.example"


@pytest.fixture
def remember_portal(tmp_path_factory):
    server = PortalServer(tmp_path_factory.mktemp("remember")).start()
    try:
        set_up_over_http(server)
        server.create_user("Emma Stone", EMMA, PASSWORD)
        yield server
    finally:
        server.stop()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")


def allow_remembering(page: Page, camera) -> None:
    """The administrator sets 30 days on the security settings page."""
    sign_in_with_password(page, ADMIN_EMAIL)
    page.goto("/admin/security")
    days = page.get_by_label("Remember a browser for")
    expect(days).to_have_value("0")
    expect(page.locator("#policy-preview")).to_contain_text("Browsers are not remembered")
    type_into(page, days, "30")
    expect(page.locator("#policy-preview")).to_contain_text(
        "Employees may have a browser remembered for 30 days"
    )
    camera.check(page, "admin-preview")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#security-settings").get_by_role("status")).to_have_text(
        "Security settings saved."
    )


def code_step_remembering(page: Page, app: Authenticator, camera=None, shot: str = "") -> None:
    """At the code step: the box ticked, the code typed, signed in."""
    expect(page).to_have_url(SECOND_STEP)
    remember = page.get_by_label("Remember this browser for 30 days")
    expect(remember).not_to_be_checked()
    page.get_by_label("Authentication code").fill(app.code())
    remember.check()
    if camera is not None:
        camera.check(page, shot)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(SECURITY_PAGE)


def test_a_remembered_browser_signs_in_with_the_password_alone(
    remember_portal, open_context, camera
):
    admin = open_context(remember_portal).new_page()
    allow_remembering(admin, camera)

    # Emma turns two-step on, then signs in again on her laptop and ticks the box.
    laptop = open_context(remember_portal).new_page()
    sign_in_with_password(laptop, EMMA)
    app, _codes = enable_two_step(laptop)
    sign_out(laptop)
    sign_in_with_password(laptop, EMMA)
    code_step_remembering(laptop, app, camera, "code-step")

    panel = laptop.locator("#remembered-browsers")
    expect(panel.get_by_role("heading", name="Remembered browsers")).to_be_visible()
    expect(panel.get_by_role("listitem")).to_have_count(1)
    expect(panel.get_by_role("listitem")).to_contain_text("This browser")
    expect(panel.get_by_role("listitem")).to_contain_text("until")
    camera.check(laptop, "one-remembered")

    # The next sign-in in this browser needs only the password.
    sign_out(laptop)
    sign_in_with_password(laptop, EMMA)
    expect(laptop).to_have_url(SECURITY_PAGE)
    expect(laptop.get_by_role("heading", level=1)).to_have_text("Security")

    # The recovery page never offers it.
    other = open_context(remember_portal).new_page()
    sign_in_with_password(other, EMMA)
    expect(other).to_have_url(SECOND_STEP)
    other.get_by_role("link", name="Use a recovery code instead").click()
    expect(other.get_by_label(re.compile("Remember this browser"))).to_have_count(0)

    # A phone without JavaScript remembers itself too, and forgets the laptop.
    phone = open_context(
        remember_portal, java_script_enabled=False, viewport={"width": 390, "height": 844}
    ).new_page()
    sign_in_with_password(phone, EMMA)
    code_step_remembering(phone, app)
    phone_panel = phone.locator("#remembered-browsers")
    expect(phone_panel.get_by_role("listitem")).to_have_count(2)
    screenshots_only(phone, camera, "two-remembered-no-js")
    laptop_item = phone_panel.get_by_role("listitem").filter(has_not_text="This browser")
    laptop_item.get_by_role("button", name=re.compile("^Forget")).click()
    expect(phone).to_have_url(SECURITY_PAGE)
    expect(phone.get_by_role("status").filter(has_text="That browser is forgotten")).to_be_visible()
    expect(phone_panel.get_by_role("listitem")).to_have_count(1)
    expect(phone_panel.get_by_role("listitem")).to_contain_text("This browser")
    screenshots_only(phone, camera, "forgot-one-no-js")

    # The laptop asks for the code again; this time it is not remembered.
    sign_out(laptop)
    sign_in_with_password(laptop, EMMA)
    expect(laptop).to_have_url(SECOND_STEP)
    laptop.get_by_label("Authentication code").fill(app.code())
    laptop.get_by_role("button", name="Sign in", exact=True).click()
    expect(laptop).to_have_url(SECURITY_PAGE)

    # With JavaScript, "forget every browser" swaps the panel without a page load.
    security_url = laptop.url
    mark_page(laptop)
    expect(panel.get_by_role("listitem")).to_have_count(1)
    panel.get_by_role("button", name="Forget every browser").click()
    expect(panel.get_by_role("status")).to_have_text(
        "1 browser is forgotten: each will ask for the code again."
    )
    expect(panel).to_contain_text("No browser is remembered")
    assert_not_reloaded(laptop, security_url)
    camera.check(laptop, "all-forgotten")

    # The phone was forgotten too.
    sign_out(phone)
    sign_in_with_password(phone, EMMA)
    expect(phone).to_have_url(SECOND_STEP)
