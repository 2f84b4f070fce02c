"""Activity lists and times as a person sees them: times in the viewer's own time zone
(the UTC value without scripts), ten entries at a time with "Show more" (htmx, or a plain
link), warnings that say so, and an administrator's actions on others naming them."""

from __future__ import annotations

import itertools
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN_NAME, PASSWORD

pytestmark = pytest.mark.browser

BERLIN = ZoneInfo("Europe/Berlin")
_names = itertools.count(1)


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()


def sign_out(page: Page) -> None:
    page.get_by_role("banner").get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))


def berlin_clock(moment: str) -> str:
    """The hour and minute of an ISO UTC moment on a Berlin wall clock, as "07:55"."""
    utc = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return f"{utc.astimezone(BERLIN):%H:%M}"


def busy_employee(open_context, make_account):
    """An employee with a wrong password and six sign-ins, each with its sign-out: fourteen
    entries with the account's creation."""
    account = make_account("Busy Bee")
    page = open_context().new_page()
    sign_in(page, account.email, "not the password")
    expect(page.get_by_role("alert")).to_contain_text("do not match")
    for _ in range(6):
        sign_in(page, account.email)
        expect(page).to_have_url(re.compile(r"/profile/security$"))
        sign_out(page)
    page.context.close()
    return account


def test_times_show_in_the_viewers_time_zone(open_context, make_account, camera):
    account = make_account("Bertha Berlin")
    page = open_context(timezone_id="Europe/Berlin", locale="en-GB").new_page()
    sign_in(page, account.email)
    expect(page).to_have_url(re.compile(r"/profile/security$"))

    signed_in = page.locator("#sessions time").last
    moment = signed_in.get_attribute("datetime")
    assert moment and moment.endswith("Z")
    # Recent: said relatively, with the local date and time and the UTC value in the title.
    expect(signed_in).to_have_text(re.compile(r"^(just now|\d+ minutes? ago)$"))
    utc_text = datetime.fromisoformat(moment.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M UTC")
    expect(signed_in).to_have_attribute(
        "title", re.compile(rf", {berlin_clock(moment)} \({re.escape(utc_text)}\)$")
    )
    camera.check(page, "security-in-berlin")

    # Without scripts the UTC text stays.
    plain = open_context(java_script_enabled=False, timezone_id="Europe/Berlin").new_page()
    sign_in(plain, account.email)
    expect(plain.locator("#sessions time").last).to_have_text(
        re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$")
    )


def test_an_administrators_page_names_whom_they_acted_on(open_context, admin, camera):
    page = open_context(timezone_id="Europe/Berlin", locale="en-GB").new_page()
    sign_in(page, admin.email)
    number = next(_names)
    name = f"Carol Chen{number}"
    page.goto("/admin/employees/new")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(f"carol.activity.{number}@northwind.example")
    page.get_by_role("button", name="Add and get the invitation link").click()
    page.get_by_role("link", name=f"Open {name}'s page").click()

    events = page.locator("#employee-events")
    expect(events).to_contain_text("Account created")
    expect(events.locator("tbody tr").first).to_contain_text(ADMIN_NAME)
    # Far from now (a week ahead): the local date and time, the UTC value in the title.
    expires = page.locator("#employee-access time").first
    moment = expires.get_attribute("datetime")
    assert moment
    expect(expires).to_have_text(re.compile(rf", {berlin_clock(moment)}$"))
    expect(expires).to_have_attribute("title", re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$"))
    camera.check(page, "new-employees-page")

    page.goto("/admin/?q=" + admin.email)
    added = page.locator("tbody time").first
    expect(added).not_to_contain_text("UTC")
    camera.check(page, "employees-list")
    page.get_by_role("link", name=ADMIN_NAME, exact=True).click()
    mine = page.locator("#employee-events")
    expect(mine).to_contain_text(f"Added {name}")
    expect(mine).not_to_contain_text("Account created · themselves")
    expect(mine).not_to_contain_text("themselves")
    camera.check(page, "administrators-own-page")


def test_ten_entries_then_show_more_with_htmx(open_context, make_account, camera):
    account = busy_employee(open_context, make_account)
    page = open_context().new_page()
    sign_in(page, account.email)
    entries = page.locator("#activity .event-list__item")
    expect(entries).to_have_count(10)
    camera.check(page, "ten-entries")

    page.evaluate("window.notReloaded = true")
    page.locator("#activity").get_by_role("link", name="Show more").click()
    # 15 now: this sign-in too. Older entries came in place, without a reload.
    expect(entries).to_have_count(15)
    assert page.evaluate("window.notReloaded === true")
    # The entries swapped in are in local time too.
    expect(page.locator("#activity time", has_text="UTC")).to_have_count(0)
    expect(page.locator("#activity").get_by_role("link", name="Show more")).to_have_count(0)
    warning = page.locator("#activity .event-list__item--warning")
    expect(warning).to_have_count(1)
    expect(warning).to_contain_text("Warning")
    expect(warning).to_contain_text("Wrong password at sign-in")
    # A sign-in is one entry that says how; no separate password step.
    expect(page.locator("#activity")).not_to_contain_text("Password accepted")
    camera.check(page, "all-entries")


def test_show_more_without_javascript(open_context, make_account, camera):
    account = busy_employee(open_context, make_account)
    page = open_context(java_script_enabled=False).new_page()
    sign_in(page, account.email)
    entries = page.locator("#activity .event-list__item")
    expect(entries).to_have_count(10)

    page.locator("#activity").get_by_role("link", name="Show more").click()

    expect(page).to_have_url(re.compile(r"/profile/security\?activity=20#activity$"))
    expect(entries).to_have_count(15)
    camera.check(page, "all-entries-no-js", axe=False)
