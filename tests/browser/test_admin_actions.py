"""The employee page's actions in a real browser: the questions before destructive ones
(a dialog with JavaScript, a page without), the lock of the code step, and every
administration page at phone width."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.browsing import SIZES, is_focused
from tests.browser.conftest import Account
from tests.browser.two_step_flows import enable_two_step, screenshots_only, sign_in_with_password

pytestmark = pytest.mark.browser


def open_employee(page: Page, admin: Account, account: Account) -> str:
    """Signs the administrator in and opens the employee's page; returns its path."""
    sign_in_with_password(page, admin.email)
    expect(page).to_have_url(re.compile(r"/profile/security$"))
    page.goto(f"/admin/?q={account.email}")
    with page.expect_navigation():  # loaded, its dialogs' script with it
        page.get_by_role("link", name=account.name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(account.name)
    return re.sub(r"^https?://[^/]+", "", page.url)


def access(page: Page):
    return page.locator("#employee-access")


def test_deactivate_asks_in_a_dialog_that_escape_cancels(open_context, admin, make_account, camera):
    account = make_account("Dana Dialog")
    page = open_context().new_page()
    open_employee(page, admin, account)
    button = access(page).get_by_role("button", name="Deactivate")

    button.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Deactivate Dana Dialog?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("signed out everywhere at once")
    # Focus is inside, on the answer that changes nothing.
    assert is_focused(dialog.get_by_role("button", name="Cancel"))
    camera.check(page, "dialog")

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert is_focused(button), "focus did not come back to the button that opened the dialog"
    expect(access(page)).to_contain_text("Active")
    page.reload()
    expect(access(page).locator(".badge", has_text="Deactivated")).to_have_count(0)

    # Cancel with the mouse changes nothing either.
    access(page).get_by_role("button", name="Deactivate").click()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(access(page).locator(".badge", has_text="Deactivated")).to_have_count(0)

    access(page).get_by_role("button", name="Deactivate").click()
    dialog.get_by_role("button", name="Deactivate").click()
    expect(access(page).get_by_role("status")).to_have_text(
        "Dana Dialog is deactivated and was signed out everywhere."
    )
    expect(access(page).locator(".badge", has_text="Deactivated")).to_be_visible()
    camera.check(page, "deactivated")


def test_a_password_reset_by_htmx_refreshes_the_details(open_context, admin, make_account, camera):
    account = make_account("Pia Password")
    page = open_context().new_page()
    open_employee(page, admin, account)
    details = page.locator("#employee-details")
    expect(details).to_contain_text("last set")

    access(page).get_by_role("button", name="Reset password").click()
    dialog = page.get_by_role("dialog", name="Reset Pia Password's password?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Reset password").click()

    expect(access(page)).to_contain_text("Here is Pia Password's new password link.")
    expect(details).to_contain_text("reset, waiting for a new one")
    expect(details).not_to_contain_text("last set")
    camera.check(page, "link")


def test_without_javascript_a_page_asks_first(open_context, admin, make_account, camera):
    account = make_account("Nico Noscript")
    page = open_context(java_script_enabled=False).new_page()
    path = open_employee(page, admin, account)

    access(page).get_by_role("button", name="Deactivate").click()
    expect(page).to_have_url(re.compile(re.escape(path) + "/deactivate$"))
    expect(page.get_by_role("heading", name="Deactivate Nico Noscript?")).to_be_visible()
    screenshots_only(page, camera, "question")
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    expect(access(page).locator(".badge", has_text="Deactivated")).to_have_count(0)

    access(page).get_by_role("button", name="Deactivate").click()
    page.get_by_role("button", name="Deactivate").click()
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    expect(page.get_by_role("status")).to_have_text(
        "Nico Noscript is deactivated and was signed out everywhere."
    )
    screenshots_only(page, camera, "deactivated")


def lock_code_step(portal, email: str) -> None:
    """Ten wrong codes' worth of lock, written as the code step writes it (typing ten
    wrong codes would take minutes of growing waits on a real clock)."""
    portal.flask(
        "shell",
        stdin=(
            "from datetime import timedelta\n"
            "from sqlalchemy import update\n"
            "from portal import clock\n"
            "from portal.database import db\n"
            "from portal.models import User\n"
            "db.session.execute(update(User).where(User.email == "
            f"{email!r}).values(second_step_failures=10, "
            "second_step_locked_until=clock.now() + timedelta(minutes=15)))\n"
            "db.session.commit()\n"
        ),
    )


def test_a_locked_code_step_shows_with_unlock(open_context, portal, admin, make_account, camera):
    account = make_account("Luca Locked")
    lock_code_step(portal, account.email)
    page = open_context().new_page()
    page.goto("/")
    sign_in_with_password(page, admin.email)
    page.goto(f"/admin/?q={account.email}")
    row = page.locator("#employee-results tbody tr", has_text=account.name)
    expect(row.locator(".badge", has_text="Locked")).to_be_visible()
    expect(row).to_contain_text("code step until")
    expect(row).not_to_contain_text("until in ")
    camera.check(page, "list")

    row.get_by_role("link", name=account.name).click()
    expect(access(page).locator(".badge", has_text="Code step locked")).to_be_visible()
    expect(access(page)).to_contain_text("locked Luca Locked's code step until")
    # A moment after "until" is a date and time, never "until in 15 minutes".
    expect(access(page)).not_to_contain_text("until in ")
    camera.check(page, "locked")
    access(page).get_by_role("button", name="Unlock").click()
    expect(access(page).get_by_role("status")).to_have_text("Luca Locked can type codes again now.")
    expect(access(page).locator(".badge", has_text="Code step locked")).to_have_count(0)
    expect(page.locator("#employee-events")).to_contain_text(
        "Code step unlocked by an administrator"
    )


@pytest.mark.parametrize("java_script", [True, False], ids=["js", "no-js"])
def test_no_administration_page_scrolls_sideways_on_a_phone(
    open_context, admin, make_account, java_script
):
    account = make_account("Wide Walter")
    page = open_context(java_script_enabled=java_script, viewport=SIZES["phone"]).new_page()
    path = open_employee(page, admin, account)
    for url in [
        "/admin/",
        "/admin/?page=99",
        "/admin/employees/new",
        path,
        path + "/deactivate",
        path + "/reset-password",
        "/admin/security",
        "/admin/audit",
    ]:
        page.goto(url)
        widths = page.evaluate(
            """() => ({
                page: document.documentElement.scrollWidth,
                viewport: window.innerWidth,
                nav: document.querySelector('.site-nav').scrollWidth,
                navBox: document.querySelector('.site-nav').clientWidth,
            })"""
        )
        assert widths["page"] <= widths["viewport"], (url, widths)
        # The header's links wrap instead of scrolling inside their own row.
        assert widths["nav"] <= widths["navBox"], (url, widths)


def test_a_reset_of_two_step_is_asked_then_leads_the_employee_to_set_it_up_again(
    open_context, admin, make_account, camera
):
    account = make_account("Rita Reset")
    rita = open_context().new_page()
    sign_in_with_password(rita, account.email)
    expect(rita).to_have_url(re.compile(r"/profile/security$"))
    enable_two_step(rita)
    rita.context.clear_cookies()

    page = open_context().new_page()
    open_employee(page, admin, account)
    form = access(page).locator("form.reset-two-step")
    # Without a reason nothing is asked: the form says what is missing.
    form.get_by_role("button", name="Reset two-step authentication").click()
    expect(access(page).get_by_role("alert").first).to_contain_text("it is recorded")
    expect(page.get_by_role("dialog")).to_have_count(0)

    form = access(page).locator("form.reset-two-step")
    form.get_by_label("Reason").fill("lost phone and recovery codes")
    form.get_by_role("button", name="Reset two-step authentication").click()
    dialog = page.get_by_role("dialog", name="Reset Rita Reset's two-step authentication?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Reset two-step authentication").click()
    expect(access(page).get_by_role("status")).to_contain_text(
        "At their next sign-in with their password they are asked to set it up again"
    )
    camera.check(page, "admin-told")

    sign_in_with_password(rita, account.email)
    expect(rita).to_have_url(re.compile(r"/profile/security$"))
    expect(rita.locator("#alerts")).to_contain_text(
        "An administrator reset your two-step authentication"
    )
    expect(rita.locator("#two-step-area").get_by_role("button", name="Enable")).to_be_visible()
    camera.check(rita, "employee-prompted")


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_a_pause_with_a_bad_number_of_days_says_so_once(
    open_context, admin, make_account, camera, javascript
):
    account = make_account("Pia Pause")
    pia = open_context().new_page()
    sign_in_with_password(pia, account.email)
    expect(pia).to_have_url(re.compile(r"/profile/security$"))
    enable_two_step(pia)

    page = open_context(java_script_enabled=javascript).new_page()
    open_employee(page, admin, account)
    access(page).get_by_label("Pause for how many days").fill("")
    access(page).get_by_role("button", name="Pause").click()
    problem = "Enter a number of days from 0 to 365."
    expect(access(page).get_by_label("Pause for how many days")).to_have_attribute(
        "aria-invalid", "true"
    )
    expect(access(page).get_by_text(problem)).to_have_count(1)
    expect(access(page).get_by_role("alert")).to_have_count(1)
    if javascript:
        camera.check(page, "pause-refused")
    else:
        screenshots_only(page, camera, "pause-refused")


def test_the_administrators_header_keeps_its_links_on_one_row_on_a_desktop(
    open_context, admin, make_account
):
    """Five links, the bell, the name and Sign out share one row at 1280 px: the bell is an
    icon with its count, its word read out to screen readers only."""
    account = make_account("Row Rhona")
    page = open_context(viewport=SIZES["desktop"]).new_page()
    path = open_employee(page, admin, account)
    for url in ["/admin/", path, "/admin/security", "/admin/audit", "/profile/security"]:
        page.goto(url)
        tops = page.evaluate(
            "() => [...document.querySelectorAll('.site-nav a')].map(a => a.offsetTop)"
        )
        assert len(set(tops)) == 1, (url, tops)
        expect(page.get_by_role("link", name=re.compile("^Notifications"))).to_be_visible()
