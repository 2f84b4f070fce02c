"""The keyboard focus ring is seen on every background: its colour against what lies
around it measures at least 3:1 (WCAG 2.2), in the dark header as on cards, buttons and
fields, on every control that Tab reaches."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.browser.two_step_flows import sign_in_with_password

pytestmark = pytest.mark.browser

MINIMUM_CONTRAST = 3.0

# The focused element's outline colour, and the colour of the page just outside the
# outline on each side (what lies under that point, semi-transparent layers composited),
# with their contrast ratio. A ring drawn as a box-shadow or not at all measures 0.
MEASURE_RING = """() => {
  const element = document.activeElement;
  const style = getComputedStyle(element);
  const parse = (text) => {
    const m = text.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return [0, 0, 0, 0];
    const parts = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
  };
  const luminance = ([r, g, b]) => {
    const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  const contrast = (a, b) => {
    const [dark, light] = [luminance(a), luminance(b)].sort((x, y) => x - y);
    return (light + 0.05) / (dark + 0.05);
  };
  const backgroundFrom = (under) => {
    const layers = [];
    for (let e = under; e; e = e.parentElement) {
      const colour = parse(getComputedStyle(e).backgroundColor);
      if (colour[3] > 0) layers.push(colour);
      if (colour[3] >= 1) break;
    }
    let result = [255, 255, 255];
    for (const [r, g, b, a] of layers.reverse()) {
      result = [r * a + result[0] * (1 - a), g * a + result[1] * (1 - a), b * a + result[2] * (1 - a)];
    }
    return result;
  };
  const backgroundAt = (x, y) => backgroundFrom(
    document.elementsFromPoint(x, y).find((e) => e !== element && !element.contains(e)));
  const label = (element.tagName.toLowerCase() + " " + (element.textContent.trim() ||
    element.getAttribute("name") || element.id || "")).slice(0, 60);
  const width = parseFloat(style.outlineWidth);
  if (style.outlineStyle === "none" || !(width >= 2)) {
    return {label, ratio: 0, inHeader: !!element.closest(".site-header"), ring: "none"};
  }
  const ring = parse(style.outlineColor);
  const rect = element.getBoundingClientRect();
  const out = parseFloat(style.outlineOffset) + width + 1;  // just outside the ring
  const points = [
    [rect.left - out, rect.top + rect.height / 2], [rect.right + out, rect.top + rect.height / 2],
    [rect.left + rect.width / 2, rect.top - out], [rect.left + rect.width / 2, rect.bottom + out],
  ].filter(([x, y]) => x >= 0 && y >= 0 && x < innerWidth && y < innerHeight);
  // A ring drawn inside the element (negative offset) lies on the element's own background.
  const ratios = out <= 1 ? [contrast(ring, backgroundFrom(element))]
    : points.map(([x, y]) => contrast(ring, backgroundAt(x, y)));
  return {label, ratio: Math.min(...ratios), inHeader: !!element.closest(".site-header"),
          ring: style.outlineColor};
}"""


def _tab_through(page: Page, presses: int = 80) -> list[dict]:
    """Every control that Tab reaches on the page, with its ring measured."""
    # From the top of the page: the skip link is the first stop.
    page.locator(".skip-link").focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+Tab")  # now reached by keyboard, as :focus-visible wants
    measured = [page.evaluate(MEASURE_RING)]
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement === document.body"):
            break
        measured.append(page.evaluate(MEASURE_RING))
    return measured


@pytest.mark.parametrize("width", [1280, 390])
def test_the_focus_ring_stands_out_on_every_background(open_context, make_account, width):
    account = make_account("Fiona Focus", admin=True)
    page = open_context(viewport={"width": width, "height": 800}).new_page()
    page.goto("/login")
    measured = _tab_through(page)
    sign_in_with_password(page, account.email)
    for path in ["/profile/security", "/profile/", "/admin/", "/admin/audit", "/admin/security"]:
        page.goto(path)
        measured += _tab_through(page)
    # A field with an error keeps a ring that shows.
    page.goto("/profile/")
    page.get_by_role("button", name="Change password").click()
    measured += _tab_through(page)

    assert any(item["inHeader"] for item in measured), f"no control of the header: {measured}"
    assert any(item["label"].startswith("input") for item in measured), "no field was reached"
    weak = [item for item in measured if item["ratio"] < MINIMUM_CONTRAST]
    assert not weak, "focus rings under 3:1:\n" + "\n".join(
        f"{item['label']!r}: {item['ratio']:.2f} ({item['ring']})" for item in weak
    )
