"""The foundation in a real browser: first run, sign-in and sign-out, the profile without
JavaScript, keyboard-only use, and axe-core on every page visited (see Camera.check)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.browsing import assert_focus_visible, tab_to, type_into
from tests.browser.conftest import ADMIN_NAME, COMPANY, PASSWORD

pytestmark = pytest.mark.browser


def sign_in_with_clicks(page: Page, email: str, password: str = PASSWORD) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()


def test_setup_is_refused_without_the_printed_link(pristine_portal, open_context, camera):
    page = open_context(pristine_portal).new_page()

    response = page.goto("/setup")
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Open the setup link")
    camera.check(page, "no-token")

    response = page.goto("/setup?token=guessed")
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Open the setup link")


def test_first_run_setup_by_keyboard_signs_the_administrator_in(
    pristine_portal, open_context, camera
):
    link = pristine_portal.wait_for_setup_link()
    assert link.startswith(pristine_portal.base_url + "/setup?token=")
    page = open_context(pristine_portal).new_page()

    page.goto(link)
    expect(page).to_have_title("Set up the portal · Employee portal")
    expect(page.get_by_label("Company name")).to_be_focused()
    camera.check(page, "form")

    type_into(page, page.get_by_label("Company name"), COMPANY)
    type_into(page, page.get_by_label("Your name"), ADMIN_NAME)
    type_into(page, page.get_by_label("Your email"), "first.admin@northwind.example")
    type_into(page, page.get_by_label("Password", exact=True), PASSWORD)
    type_into(page, page.get_by_label("Repeat the password"), "a different one")
    page.keyboard.press("Enter")

    # The mismatch comes back as a message on the field; nothing was created.
    expect(page.get_by_text("The two passwords differ.")).to_be_visible()
    expect(page.get_by_label("Repeat the password")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Company name")).to_have_value(COMPANY)
    camera.check(page, "mismatch")

    type_into(page, page.get_by_label("Password", exact=True), PASSWORD)
    type_into(page, page.get_by_label("Repeat the password"), PASSWORD)
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/profile/security$"))
    expect(page.get_by_role("status")).to_contain_text("Your portal is ready")
    header = page.get_by_role("banner")
    expect(header).to_contain_text(COMPANY)
    expect(header.get_by_role("link", name="Administration")).to_be_visible()
    expect(header.get_by_role("button", name="Sign out")).to_be_visible()
    camera.check(page, "done")

    # The link worked once: setup is closed for good.
    response = page.goto(link)
    assert response.status == 404
    camera.check(page, "closed")


def test_wrong_password_gets_a_message(page, make_account, camera):
    account = make_account("Wendy Wrong")
    page.goto("/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    camera.check(page, "form")

    sign_in_with_clicks(page, account.email, "not the password")

    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("alert")).to_have_text(
        "That email and password do not match an active account."
    )
    expect(page.get_by_label("Email")).to_have_value(account.email)
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    camera.check(page, "refused")


def test_sign_in_and_sign_out_by_keyboard_alone(page, make_account, camera):
    account = make_account("Kim Keys")
    page.goto("/login")
    expect(page.get_by_label("Email")).to_be_focused()

    type_into(page, page.get_by_label("Email"), account.email)
    type_into(page, page.get_by_label("Password"), "a wrong guess")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("do not match an active account")

    type_into(page, page.get_by_label("Password"), PASSWORD)
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/profile/security$"))
    expect(page.get_by_role("banner")).to_contain_text(account.name)
    expect(page.get_by_role("link", name="Administration")).to_have_count(0)
    camera.check(page, "signed-in")

    # The first Tab on a page reaches the skip link, which shows itself and leads to the content.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    assert_focus_visible(page)
    camera.check(page, "skip-link")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    # Sign out in the header, back up from the content.
    tab_to(page, page.get_by_role("button", name="Sign out"), backwards=True)
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    camera.check(page, "signed-out")

    page.goto("/profile/security")
    expect(page).to_have_url(re.compile(r"/login\?next=(%2F|/)profile(%2F|/)security$"))
    expect(page.get_by_role("status")).to_have_text("Please sign in to see that page.")


def test_sign_in_returns_to_the_page_asked_for(page, make_account, camera):
    account = make_account("Nora Next")
    page.goto("/profile/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    camera.check(page, "asked-to-sign-in")

    sign_in_with_clicks(page, account.email)

    expect(page).to_have_url(re.compile(r"/profile/$"))
    expect(page.get_by_label("Name")).to_have_value(account.name)
    camera.check(page, "profile")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))


def test_profile_forms_work_without_javascript(open_context, make_account, camera):
    account = make_account("Jon Nojs")
    page = open_context(java_script_enabled=False).new_page()

    page.goto("/login")
    sign_in_with_clicks(page, account.email)
    expect(page).to_have_url(re.compile(r"/profile/security$"))

    page.get_by_role("link", name="Profile").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Profile")
    camera.check(page, "profile", axe=False)

    details = page.locator("#profile-details")
    details.get_by_label("Name").fill("")
    details.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Enter your name.")).to_be_visible()
    camera.check(page, "details-error", axe=False)

    page.locator("#profile-details").get_by_label("Name").fill("Jon Plainform")
    page.locator("#profile-details").get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/profile/$"))
    expect(page.get_by_role("status")).to_have_text("Your profile is saved.")
    expect(page.get_by_role("banner")).to_contain_text("Jon Plainform")

    password = page.locator("#profile-password")
    password.get_by_label("Current password").fill(PASSWORD)
    password.get_by_label("New password", exact=True).fill("a brand new passphrase")
    password.get_by_label("Repeat the new password").fill("a brand new passphrase")
    password.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is changed.")

    page.get_by_role("button", name="Sign out").click()
    sign_in_with_clicks(page, account.email, "a brand new passphrase")
    expect(page).to_have_url(re.compile(r"/profile/security$"))


def test_profile_panels_swap_in_place_with_htmx(page, make_account, camera):
    account = make_account("Hana Htmx")
    page.goto("/login")
    sign_in_with_clicks(page, account.email)
    page.goto("/profile/")
    camera.check(page, "page")
    # A mark on the window survives a swap but not a page load.
    page.evaluate("() => { window.stillThisPage = true; }")

    details = page.locator("#profile-details")
    type_into(page, details.get_by_label("Name"), "")
    page.keyboard.press("Enter")
    expect(page.locator("#profile-details").get_by_text("Enter your name.")).to_be_visible()
    # Focus stays in the swapped panel rather than falling back to the top of the page.
    assert page.evaluate(
        "() => document.getElementById('profile-details').contains(document.activeElement)"
    )
    camera.check(page, "details-error")

    type_into(page, page.locator("#profile-details").get_by_label("Name"), "Hana Swapped")
    page.keyboard.press("Enter")
    expect(page.locator("#profile-details").get_by_role("status")).to_have_text(
        "Your profile is saved."
    )
    expect(page.locator("#profile-details").get_by_label("Name")).to_have_value("Hana Swapped")
    assert page.evaluate("() => window.stillThisPage === true"), "the page was reloaded"

    password = page.locator("#profile-password")
    type_into(page, password.get_by_label("Current password"), "not my password")
    type_into(page, password.get_by_label("New password", exact=True), "another fine passphrase")
    type_into(page, password.get_by_label("Repeat the new password"), "another fine passphrase")
    page.keyboard.press("Enter")
    expect(page.locator("#profile-password .field__error")).to_be_visible()
    assert page.evaluate("() => window.stillThisPage === true"), "the page was reloaded"
    camera.check(page, "password-error")


def test_pages_run_under_the_content_security_policy(open_context, make_account):
    """With the CSP enforced, no script or style is refused and htmx still swaps."""
    account = make_account("Cora Csp")
    page = open_context(enforce_csp=True).new_page()
    page.goto("/login")
    response = page.request.get("/login")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    sign_in_with_clicks(page, account.email)
    page.goto("/profile/")
    page.evaluate("() => { window.stillThisPage = true; }")
    details = page.locator("#profile-details")
    details.get_by_label("Name").fill("Cora Enforced")
    details.get_by_role("button", name="Save").click()
    expect(page.locator("#profile-details").get_by_role("status")).to_have_text(
        "Your profile is saved."
    )
    assert page.evaluate("() => window.stillThisPage === true"), "htmx did not swap the panel"
    # Any CSP refusal shows as a console error, which open_context turns into a failure.


def test_error_pages_say_what_happened_and_lead_back_to_the_portal(page, make_account, camera):
    response = page.goto("/no-such-page")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    camera.check(page, "not-found")

    response = page.goto("/invitation/not-a-real-token")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("This link is not valid")
    camera.check(page, "invitation-invalid")

    account = make_account("Evan Employee")
    page.goto("/login")
    sign_in_with_clicks(page, account.email)
    expect(page).to_have_url(re.compile(r"/profile/security$"))
    response = page.goto("/admin/")
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    camera.check(page, "forbidden")
    tab_to(page, page.get_by_role("link", name="Go to the portal"))
    assert_focus_visible(page)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/profile/security$"))


def test_admin_adds_an_employee_who_accepts_the_invitation_and_signs_in(
    open_context, admin, camera
):
    admin_page = open_context().new_page()
    admin_page.goto("/login")
    sign_in_with_clicks(admin_page, admin.email)
    expect(admin_page).to_have_url(re.compile(r"/profile/security$"))

    admin_page.get_by_role("link", name="Administration").click()
    expect(admin_page.get_by_role("heading", level=1)).to_have_text("Employees")
    camera.check(admin_page, "employees")

    # The whole addition by keyboard: the button in the page head, the form, Enter.
    tab_to(admin_page, admin_page.get_by_role("link", name="Add an employee"))
    admin_page.keyboard.press("Enter")
    expect(admin_page.get_by_role("heading", level=1)).to_have_text("Add an employee")
    camera.check(admin_page, "add-form")

    type_into(admin_page, admin_page.get_by_label("Full name"), "Ivy Invited")
    admin_page.keyboard.press("Enter")
    expect(admin_page.get_by_text("Enter the employee's email.")).to_be_visible()
    camera.check(admin_page, "add-form-error")

    type_into(admin_page, admin_page.get_by_label("Work email"), "ivy.invited@northwind.example")
    admin_page.keyboard.press("Enter")
    expect(admin_page.get_by_role("heading", name="Ivy Invited is added")).to_be_visible()
    link = admin_page.locator("#invite-link-url").inner_text().strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/invitation/\S+", link), link
    camera.check(admin_page, "added")

    # The employee, in a browser of their own, opens the link and chooses a password.
    employee_page = open_context().new_page()
    employee_page.goto(link)
    expect(employee_page.get_by_role("heading", level=1)).to_have_text("Welcome, Ivy Invited")
    camera.check(employee_page, "invitation")
    type_into(
        employee_page,
        employee_page.get_by_label("New password", exact=True),
        "ivy's own passphrase",
    )
    type_into(
        employee_page, employee_page.get_by_label("Repeat the new password"), "ivy's own passphrase"
    )
    employee_page.keyboard.press("Enter")

    expect(employee_page).to_have_url(re.compile(r"/login\?email=ivy.invited@northwind.example$"))
    expect(employee_page.get_by_role("status")).to_have_text(
        "Your password is set. Please sign in."
    )
    camera.check(employee_page, "invitation-accepted")

    # The email is filled in already; only the new password is typed.
    expect(employee_page.get_by_label("Email")).to_have_value("ivy.invited@northwind.example")
    type_into(employee_page, employee_page.get_by_label("Password"), "ivy's own passphrase")
    employee_page.keyboard.press("Enter")
    expect(employee_page).to_have_url(re.compile(r"/profile/security$"))
    expect(employee_page.get_by_role("banner")).to_contain_text("Ivy Invited")
    expect(employee_page.get_by_role("link", name="Administration")).to_have_count(0)

    # The link worked once.
    response = employee_page.goto(link)
    assert response.status == 404
    expect(employee_page.get_by_role("heading", level=1)).to_have_text("This link is not valid")

    # The admin finds the new employee in the list, now active.
    admin_page.goto("/admin/")
    admin_page.get_by_label("Search by name or email").fill("ivy")
    row = admin_page.get_by_role("row", name=re.compile("Ivy Invited"))
    expect(row).to_contain_text("Active")
    expect(admin_page.get_by_role("row")).to_have_count(2)
    camera.check(admin_page, "employees-found")
    row.get_by_role("link", name="Ivy Invited").click()
    expect(admin_page.get_by_role("heading", level=1)).to_have_text("Ivy Invited")
    camera.check(admin_page, "employee")
