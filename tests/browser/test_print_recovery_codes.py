"""Printing new recovery codes puts the codes alone on paper, with whose they are: the
account's name and email and the company; not the sessions, the activity or the rest of
the Security page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import COMPANY
from tests.browser.two_step_flows import (
    Authenticator,
    finish_with_recovery_codes,
    scan_qr,
    sign_in_with_password,
    two_step_area,
)

pytestmark = pytest.mark.browser


def _new_codes_shown(page: Page) -> list[str]:
    area = two_step_area(page)
    area.get_by_role("button", name="Enable").click()
    app = Authenticator(scan_qr(page).secret)
    area.get_by_label("Code from the app").fill(app.enrolment_code())
    area.get_by_role("button", name="Done").click()
    return finish_with_recovery_codes(page)


def test_printing_shows_the_codes_alone_with_the_account(page: Page, make_account, camera):
    account = make_account("Petra Print")
    sign_in_with_password(page, account.email)
    codes = _new_codes_shown(page)
    expect(page.locator("#sessions")).to_be_visible()

    page.emulate_media(media="print")
    codes_list = page.get_by_role("list", name="Recovery codes")
    expect(codes_list).to_be_visible()
    for code in codes:
        expect(codes_list.get_by_text(code)).to_be_visible()
    heading = page.locator(".recovery-print .print-only")
    expect(heading).to_be_visible()
    expect(heading).to_contain_text(account.name)
    expect(heading).to_contain_text(account.email)
    expect(heading).to_contain_text(COMPANY)
    for hidden in [
        "#sessions",
        "#activity",
        ".page-title",
        ".site-header",
        "#two-step .card__header",
        "#two-step h3",
        "#two-step form",
    ]:
        expect(page.locator(hidden).first).to_be_hidden()
    page.screenshot(path=str(camera.folder / f"{camera.prefix}--printed.png"), full_page=True)

    page.emulate_media(media="screen")
    expect(page.locator("#sessions")).to_be_visible()
    expect(page.locator(".recovery-print .print-only")).to_be_hidden()
