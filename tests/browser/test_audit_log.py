"""The audit log in a real browser: filters that swap the results in place, the address
that keeps them, the CSV download of the same view, and the page without JavaScript."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()


def results(page: Page):
    return page.locator("#audit-results tbody tr")


def table_rows(page: Page) -> list[list[str]]:
    """When (in UTC, as the server wrote it before the browser put it in local time), who,
    what (with the detail), whom and from, as the table shows them."""
    rows = []
    for row in results(page).all():
        cells = [" ".join(cell.split()) for cell in row.locator("td").all_inner_texts()]
        # The datetime attribute, which the script that localises the text leaves alone.
        utc = row.locator("td time").get_attribute("datetime") or ""
        cells[0] = utc.replace("T", " ").removesuffix("Z")
        rows.append(cells)
    return rows


def query_of(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


@pytest.fixture
def employee_history(open_context, make_account):
    """A fresh employee (added on the command line) with a wrong password, a sign-in and a
    sign-out on record."""
    account = make_account("Audra Auditt")
    page = open_context().new_page()
    sign_in(page, account.email, "not the password")
    expect(page.get_by_role("alert")).to_contain_text("do not match")
    sign_in(page, account.email)
    expect(page).to_have_url(re.compile(r"/profile/security$"))
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    return account


def test_filter_the_log_and_download_the_same_view_as_csv(
    open_context, admin, employee_history, camera
):
    account = employee_history
    page = open_context().new_page()
    sign_in(page, admin.email)
    page.get_by_role("banner").get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    expect(page.get_by_role("link", name="Audit log")).to_have_attribute("aria-current", "page")
    expect(results(page).first).to_be_visible()
    camera.check(page, "everything")
    # A mark on the window survives a swap but not a page load.
    page.evaluate("() => { window.stillThisPage = true; }")

    # Typing a person's email narrows the list without a reload; the address follows.
    page.get_by_label("Person").fill(account.email)
    expect(page.locator(".audit-summary")).to_contain_text(f"By or about {account.name}")
    expect(results(page)).to_have_count(4)
    whats = [row[2] for row in table_rows(page)]
    assert whats == [
        "Signed out",
        "Signed in password",
        "Failed sign-in attempt",
        "Employee added command line",
    ], whats
    assert query_of(page)["person"] == [account.email]

    page.get_by_label("Event").select_option(label="Signed in")
    expect(results(page)).to_have_count(1)
    assert query_of(page)["kind"] == ["sign_in"]

    # One step at a time: a change made while a request runs waits for it, and only the
    # last of several waiting changes is sent (and enters the history).
    page.get_by_label("Event").select_option(value="")
    expect(page).to_have_url(re.compile(r"kind=&"))
    today = datetime.now(UTC).date().isoformat()
    page.get_by_label("From").fill(today)
    expect(page).to_have_url(re.compile(f"from={today}&to=$"))
    page.get_by_label("To").fill(today)
    expect(page).to_have_url(re.compile(f"from={today}&to={today}$"))
    expect(results(page)).to_have_count(4)
    assert page.evaluate("() => window.stillThisPage === true"), "the page was reloaded"
    shown = table_rows(page)
    assert [row[1] for row in shown] == [account.name, account.name, "—", "—"]
    assert all(row[3] == account.name for row in shown)
    assert all(row[0].startswith(today) for row in shown)
    camera.check(page, "filtered")

    # The CSV carries the same filters and holds exactly the rows on the page.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename == f"audit-log-{today}.csv"
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [
        [
            row["When (UTC)"],
            row["By"] or "—",
            " ".join(filter(None, [row["Event"], row["Detail"]])),
            row["Whom"],
            " ".join(filter(None, [row["IP"], row["Browser"]])) or "—",
        ]
        for row in rows
    ] == shown
    assert {row["Whom email"] for row in rows} == {account.email}
    assert all("HeadlessChrome" in row["User agent"] for row in rows if row["IP"])

    # Back returns to the view before the last change, from the address alone.
    page.go_back()
    expect(page.get_by_label("To")).to_have_value("")
    expect(page.get_by_label("From")).to_have_value(today)


def test_the_log_filters_without_javascript(open_context, admin, employee_history, camera):
    account = employee_history
    page = open_context(java_script_enabled=False).new_page()
    sign_in(page, admin.email)
    page.goto("/admin/audit")
    page.get_by_label("Person").fill(account.email)
    page.get_by_label("Event").select_option(label="Failed sign-in attempt")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"/admin/audit\?person=.*&kind=sign_in_failed"))
    expect(results(page)).to_have_count(1)
    expect(results(page).first).to_contain_text("Failed sign-in attempt")

    # A date the page cannot use is left out, and the page says so.
    page.goto(f"/admin/audit?person={account.email}&from=2026-02-30")
    expect(page.get_by_role("alert")).to_contain_text("The start date is not a date")
    expect(results(page)).to_have_count(4)
    camera.check(page, "bad-date", axe=False)
