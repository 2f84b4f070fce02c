"""axe-core over every page and state an employee and an administrator reach, at desktop and
phone width: the sign-in steps, the Security page through each two-step state, the profile,
the administration (lists, filters, an employee, the confirmation pages, the settings, the
audit log) and an error page. Any violation of a WCAG 2.2 A or AA rule fails, whatever its
impact, and so does a page wider than the window."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.browsing import AXE_SCRIPT, SIZES, format_violations
from tests.browser.conftest import PASSWORD
from tests.browser.two_step_flows import (
    Authenticator,
    finish_with_recovery_codes,
    scanned_secret,
    sign_in_with_password,
    two_step_area,
)

pytestmark = pytest.mark.browser

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]


def wcag_violations(page: Page) -> list[dict]:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE_SCRIPT))
    return page.evaluate(
        """async tags => {
            const results = await window.axe.run(document, {
                runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
            return results.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary})),
            }));
        }""",
        WCAG_TAGS,
    )


class Walk:
    """Checks each state at both widths and collects every problem, so that one run names
    them all."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        self.states = 0

    def check(self, state: str) -> None:
        self.states += 1
        for label, size in SIZES.items():
            self.page.set_viewport_size(size)
            violations = wcag_violations(self.page)
            if violations:
                self.problems.append(f"{state} at {label}:\n{format_violations(violations)}")
            scroll, client = self.page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            if scroll > client:
                self.problems.append(f"{state} at {label}: {scroll} px wide in {client} px")
        self.page.set_viewport_size(SIZES["desktop"])

    def visit(self, path: str, state: str) -> None:
        self.page.goto(path)
        self.check(state)

    def assert_clean(self) -> None:
        assert not self.problems, "\n".join(self.problems)


def test_every_employee_page_and_state(page: Page, make_account):
    walk = Walk(page)
    account = make_account("Wanda Walker")
    walk.visit("/login", "sign-in")
    sign_in_with_password(page, account.email, "not the password")
    expect(page.get_by_role("alert")).to_be_visible()
    walk.check("sign-in, wrong password")

    sign_in_with_password(page, account.email)
    expect(page).to_have_url(re.compile(r"/profile/security$"))
    walk.check("Security, two-step off")
    walk.visit("/profile/", "profile")

    page.goto("/profile/security")
    area = two_step_area(page)
    area.get_by_role("button", name="Enable").click()
    expect(page.locator("figure.qr")).to_be_visible()
    walk.check("Security, enrolling")
    area.get_by_label("Code from the app").fill("000000")
    area.get_by_role("button", name="Done").click()
    expect(area.get_by_role("alert")).to_be_visible()
    walk.check("Security, enrolling, wrong code")
    app = Authenticator(scanned_secret(page))
    area.get_by_label("Code from the app").fill(app.enrolment_code())
    area.get_by_role("button", name="Done").click()
    finish_with_recovery_codes(page)
    walk.check("Security, unsaved recovery codes")
    area.get_by_label("I have saved these recovery codes somewhere safe").check()
    area.get_by_role("button", name="Finish").click()
    expect(area.get_by_role("status")).to_contain_text("All set.")
    walk.check("Security, two-step on")
    for form in ("device", "turn-off", "regenerate"):
        walk.visit(f"/profile/security?open={form}", f"Security, {form} form")

    page.get_by_role("button", name="Sign out").click()
    sign_in_with_password(page, account.email)
    expect(page).to_have_url(re.compile(r"/login/code"))
    walk.check("second step")
    page.get_by_label("Authentication code").fill("000000")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_be_visible()
    walk.check("second step, wrong code and a wait")
    walk.visit("/login/recovery", "recovery step")
    walk.visit("/no-such-page", "not found")
    walk.assert_clean()
    assert walk.states == 15


def test_every_administration_page_and_state(page: Page, make_account):
    walk = Walk(page)
    admin = make_account("Wim Walker", admin=True)
    employee = make_account("Wendelin Maximilian Featherstonehaugh-Cholmondeley")
    sign_in_with_password(page, admin.email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/profile/security$"))
    walk.visit("/admin/", "employees")
    walk.visit("/admin/?state=not_set_up", "employees, one filter")
    walk.visit("/admin/?q=wendelin", "employees, a search")
    walk.visit("/admin/?q=nobody-is-called-this", "employees, a search that finds nobody")
    walk.visit("/admin/?page=99", "employees, past the last page")

    page.goto("/admin/?q=wendelin")
    page.get_by_role("link", name=employee.name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(employee.name)
    walk.check("an employee")
    employee_page = page.url
    page.get_by_role("button", name="Deactivate").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    walk.check("an employee, the confirmation dialog")
    for action in ("deactivate", "reset-password", "reset-two-step"):
        walk.visit(f"{employee_page}/{action}", f"the confirmation page to {action}")
    walk.visit("/admin/employees/new", "add an employee")
    walk.visit("/admin/security", "security settings")
    walk.visit("/admin/audit", "audit log")
    walk.visit(
        "/admin/audit?person=wendelin&from=2026-13-45", "audit log, filtered with a bad date"
    )
    walk.assert_clean()
    assert walk.states == 14
