"""Two-step authentication in the browser tests: an authenticator app that reads the QR
code from a screenshot, and the moves an employee makes on the Security page and at
sign-in.

The portal runs on the real clock, so codes are computed for the real time. Each time step
is accepted once per account, and one step of drift either way is accepted: when the
current step was used already, the app's next code is used (it appears within 30 s, and
the portal already takes it); only when that one was used too does the test wait, for a
computed time, until the portal takes the step after it.
"""

from __future__ import annotations

import io
import re
import time
import urllib.parse
from dataclasses import dataclass

import pyotp
import zxingcpp
from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.browsing import SIZES, Camera
from tests.browser.conftest import PASSWORD

PERIOD = 30
# A code read this close to the end of its window would be typed after it ended.
END_OF_WINDOW_MARGIN = 2.0


@dataclass(frozen=True)
class Provisioning:
    """What an authenticator app keeps from an otpauth:// URI."""

    issuer: str
    account: str
    secret: str
    parameters: dict[str, str]


def parse_otpauth(uri: str) -> Provisioning:
    parts = urllib.parse.urlsplit(uri)
    assert parts.scheme == "otpauth" and parts.netloc == "totp", uri
    label = urllib.parse.unquote(parts.path.lstrip("/"))
    label_issuer, _, account = label.rpartition(":")
    query = {key: values[0] for key, values in urllib.parse.parse_qs(parts.query).items()}
    issuer = query.get("issuer", label_issuer)
    # The Key Uri Format: the issuer in the label and in the parameter must agree.
    assert label_issuer == issuer, uri
    return Provisioning(issuer=issuer, account=account, secret=query["secret"], parameters=query)


def scan_qr(page: Page) -> Provisioning:
    """Photographs the QR code on the page and decodes it, as a phone's camera would."""
    png = page.locator("figure.qr").screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1, f"expected one QR code in the picture, found {len(found)}"
    assert found[0].format == zxingcpp.BarcodeFormat.QRCode
    return parse_otpauth(found[0].text)


def typed_key(page: Page) -> str:
    """The key as shown in groups of four, typed into an app without the spaces."""
    return re.sub(r"\s+", "", page.locator("#secret-key").inner_text())


class Authenticator:
    """An authenticator app holding one secret, and the last time step the portal took
    from it (each step is accepted once per account)."""

    def __init__(self, secret: str, last_step: int | None = None) -> None:
        self.totp = pyotp.TOTP(secret)
        self.secret = secret
        self.last_step = last_step

    def shown_now(self) -> str:
        """The code on the screen right now, whether or not the portal would take it."""
        return self.totp.at(time.time())

    def code(self) -> str:
        """The next code the portal accepts, counted as used: call it right before typing."""
        step = self._current_step()
        wanted = step if self.last_step is None else max(step, self.last_step + 1)
        if wanted > step + 1:
            # Both this window's code and the next were used: the portal takes the one
            # after only once the next window starts.
            time.sleep((wanted - 1) * PERIOD - time.time() + 0.05)
        self.last_step = wanted
        return self.totp.generate_otp(wanted)

    def enrolment_code(self) -> str:
        """The code that confirms this app: the one on screen. The portal records its step
        as the last one used, whatever the account's previous app used."""
        self.last_step = self._current_step()
        return self.totp.generate_otp(self.last_step)

    @staticmethod
    def _current_step() -> int:
        now = time.time()
        if PERIOD - now % PERIOD < END_OF_WINDOW_MARGIN:
            # About to change: wait for the next window rather than race it.
            time.sleep(PERIOD - now % PERIOD + 0.05)
            now = time.time()
        return int(now // PERIOD)


def sign_in_with_password(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    # Until the next page has loaded, its deferred scripts (htmx, the dialogs) may not
    # have run, and a click would post the plain form instead.
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")


def enter_sign_in_code(page: Page, code: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your authentication code")
    page.get_by_label("Authentication code").fill(code)
    page.get_by_role("button", name="Sign in", exact=True).click()


def two_step_area(page: Page):
    return page.locator("#two-step-area")


def mark_page(page: Page) -> None:
    """A mark on the window: it survives an htmx swap, not a page load."""
    page.evaluate("() => { window.__marker = 1; }")


def assert_not_reloaded(page: Page, url: str) -> None:
    assert page.evaluate("() => window.__marker") == 1, "the page was reloaded"
    assert page.url == url, f"the address changed from {url} to {page.url}"


def finish_with_recovery_codes(page: Page) -> list[str]:
    """The ten codes as shown, then the box ticked and Finish."""
    area = two_step_area(page)
    expect(area.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    codes = (
        area.get_by_role("list", name="Recovery codes").get_by_role("listitem").all_inner_texts()
    )
    assert len(codes) == 10, codes
    for code in codes:
        assert re.fullmatch(r"[2-9a-z]{5}-[2-9a-z]{5}", code), code
    return codes


def scanned_secret(page: Page) -> str:
    return scan_qr(page).secret


def enable_two_step(page: Page, read_secret=scanned_secret) -> tuple[Authenticator, list[str]]:
    """From the Security page with two-step off to on, codes saved: the short way, for
    tests about what comes after."""
    area = two_step_area(page)
    area.get_by_role("button", name="Enable").click()
    expect(page.locator("figure.qr")).to_be_visible()
    app = Authenticator(read_secret(page))
    area.get_by_label("Code from the app").fill(app.enrolment_code())
    area.get_by_role("button", name="Done").click()
    codes = finish_with_recovery_codes(page)
    area.get_by_label("I have saved these recovery codes somewhere safe").check()
    area.get_by_role("button", name="Finish").click()
    expect(area.get_by_role("status")).to_contain_text("All set.")
    return app, codes


def screenshots_only(page: Page, camera: Camera, name: str) -> None:
    """Camera.check without axe, for pages with scripts off, where axe cannot run: their
    markup is the same as the checked pages', less the buttons that need scripts."""
    original = page.viewport_size
    for label, size in SIZES.items():
        page.set_viewport_size(size)
        page.screenshot(
            path=str(camera.folder / f"{camera.prefix}--{name}.{label}.png"), full_page=True
        )
    page.set_viewport_size(original)
