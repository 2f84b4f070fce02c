"""The Security settings page in Chromium: an administrator turns two-step on for
themselves, then makes it mandatory, watching the preview follow what they type before
anything is saved, and saves without a page load.

The policy lives on a portal server of its own, so that the shared one stays optional."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser.browsing import SIZES, type_into
from tests.browser.conftest import ADMIN_EMAIL, PASSWORD, set_up_over_http
from tests.browser.server import PortalServer
from tests.browser.two_step_flows import (
    assert_not_reloaded,
    enable_two_step,
    mark_page,
    sign_in_with_password,
)

pytestmark = pytest.mark.browser

SETTINGS = re.compile(r"/admin/security$")


@pytest.fixture
def policy_portal(tmp_path_factory):
    server = PortalServer(tmp_path_factory.mktemp("policy")).start()
    try:
        set_up_over_http(server)
        for name in ("Emma Stone", "Noah Brook", "Olga Owens"):
            email = f"{name.split()[0].lower()}@northwind.example"
            server.create_user(name, email, PASSWORD)
        yield server
    finally:
        server.stop()


def preview_figure(page: Page, label: str):
    figure = page.locator("#policy-preview .preview-figures > div").filter(has_text=label)
    return figure.locator("dd")


def test_admin_makes_two_step_mandatory_with_a_live_preview(policy_portal, open_context, camera):
    context = open_context(policy_portal)
    page = context.new_page()
    sign_in_with_password(page, ADMIN_EMAIL)

    # Without two-step of their own, the administrator cannot make it mandatory yet.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    expect(page).to_have_url(SETTINGS)
    expect(page.get_by_role("heading", level=1)).to_have_text("Security settings")
    mandatory = page.get_by_label("Mandatory for all employees")
    expect(mandatory).to_be_disabled()
    blocked = page.locator("#mandatory-blocked")
    expect(blocked).to_contain_text("turn on two-step authentication for your own account")
    camera.check(page, "own-two-step-first")

    blocked.get_by_role("link", name="Security page").click()
    enable_two_step(page)

    page.goto("/admin/security")
    expect(mandatory).to_be_enabled()
    expect(page.get_by_role("meter")).to_have_attribute("value", "1")
    expect(page.locator("#adoption")).to_contain_text("1 of 4 active employees")
    settings_url = page.url
    mark_page(page)

    # The preview follows each change, before anything is saved.
    mandatory.check()
    expect(preview_figure(page, "Without two-step yet")).to_have_text("3")
    today = datetime.now(UTC)
    expect(preview_figure(page, "Deadline for the others").locator("time")).to_have_attribute(
        "datetime", re.compile("^" + (today + timedelta(days=5)).strftime("%Y-%m-%d"))
    )
    type_into(page, page.get_by_label("Grace period", exact=True), "0")
    expect(preview_figure(page, "Past their deadline at once")).to_have_text("3")
    expect(page.locator("#policy-preview")).to_contain_text("could not sign in")
    page.get_by_label("Require set-up right after the password").check()
    expect(page.locator("#policy-preview")).to_contain_text("must set it up right after")
    type_into(page, page.get_by_label("Grace period", exact=True), "14")
    expect(preview_figure(page, "Past their deadline at once")).to_have_text("0")
    expect(preview_figure(page, "Deadline for the others").locator("time")).to_have_attribute(
        "datetime", re.compile("^" + (today + timedelta(days=14)).strftime("%Y-%m-%d"))
    )
    type_into(page, page.get_by_label("Grace period", exact=True), "900")
    expect(page.locator("#policy-preview").get_by_role("alert")).to_contain_text("from 0 to 90")
    type_into(page, page.get_by_label("Grace period", exact=True), "14")
    expect(preview_figure(page, "Past their deadline at once")).to_have_text("0")
    assert_not_reloaded(page, settings_url)
    camera.check(page, "preview")

    # Nothing is saved yet: the page as another tab loads it is still optional.
    other = context.new_page()
    other.goto("/admin/security")
    expect(other.get_by_label("Mandatory for all employees")).not_to_be_checked()
    expect(other.get_by_label("Grace period", exact=True)).to_have_value("5")
    other.close()

    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#security-settings").get_by_role("status")).to_have_text(
        "Security settings saved."
    )
    assert_not_reloaded(page, settings_url)
    expect(mandatory).to_be_checked()
    chart = page.get_by_role("img", name="Employees with two-step authentication on, by day")
    expect(chart).to_be_visible()
    expect(page.locator("#adoption")).to_contain_text("End of the grace period")
    camera.check(page, "saved")

    page.reload()
    expect(page.get_by_label("Mandatory for all employees")).to_be_checked()
    expect(page.get_by_label("Grace period", exact=True)).to_have_value("14")
    expect(page.get_by_label("Require set-up right after the password")).to_be_checked()

    # The employees list shows where each one stands, with a filter by state.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Administration").click()
    expect(page.get_by_role("row", name=re.compile("Emma Stone"))).to_contain_text("Not yet by")
    expect(page.get_by_role("row", name=re.compile("Emma Stone"))).to_contain_text("14 days left")
    filters = page.get_by_role("navigation", name="Filter by two-step authentication")
    expect(filters.get_by_role("link", name=re.compile("^Not yet"))).to_have_text("Not yet 3")
    expect(filters.get_by_role("link", name=re.compile("^On"))).to_have_text("On 1")
    camera.check(page, "employees")


def test_the_preview_button_without_javascript(policy_portal, open_context, camera):
    page = open_context(policy_portal, java_script_enabled=False).new_page()
    sign_in_with_password(page, ADMIN_EMAIL)
    page.goto("/admin/security")

    page.get_by_label("Grace period", exact=True).fill("30")
    page.get_by_role("button", name="Preview").click()

    expect(page).to_have_url(re.compile(r"/admin/security/preview$"))
    expect(page.get_by_label("Grace period", exact=True)).to_have_value("30")
    expect(page.locator("#policy-preview")).to_contain_text("stays optional")
    page.get_by_role("button", name="Save settings").click()
    expect(page).to_have_url(SETTINGS)
    expect(page.get_by_role("status")).to_have_text("Security settings saved.")
    expect(page.get_by_label("Grace period", exact=True)).to_have_value("30")


def test_the_preview_figures_stay_inside_their_boxes(policy_portal, open_context, camera):
    """The deadline, a date and a time as the viewer's browser writes them, wraps inside
    its box rather than running over the box's edge."""
    page = open_context(policy_portal).new_page()
    sign_in_with_password(page, ADMIN_EMAIL)
    enable_two_step(page)
    page.goto("/admin/security")
    page.get_by_label("Mandatory for all employees").check()
    deadline = preview_figure(page, "Deadline for the others").locator("time")
    expect(deadline).to_have_attribute("datetime", re.compile(r"^\d{4}-"))
    for label, size in SIZES.items():
        page.set_viewport_size(size)
        overflowing = page.locator("#policy-preview .preview-figures > div").evaluate_all(
            """boxes => boxes.flatMap(box => {
                const edge = box.getBoundingClientRect().right
                    - parseFloat(getComputedStyle(box).paddingRight);
                return [...box.querySelectorAll("dt, dd, time")]
                    .filter(part => part.getBoundingClientRect().right > edge + 0.5)
                    .map(part => part.textContent.trim());
            })"""
        )
        assert not overflowing, f"past the edge of their box at {label} width: {overflowing}"
    camera.check(page, "preview-mandatory")
