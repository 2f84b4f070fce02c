"""Browser helpers: Chromium, axe-core checks, screenshots, and keyboard-only moves."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.sync_api import Locator, Page

from portal.config import PROJECT_ROOT

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
AXE_SCRIPT = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
BLOCKING_IMPACTS = ("serious", "critical")


def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise RuntimeError(
            "Debian's chromium is needed for the browser tests: run `make browser-deps`."
        )
    return path


DEFAULT_SCREENSHOTS = PROJECT_ROOT / "test-artifacts" / "screenshots"


def screenshot_folder() -> Path:
    """PORTAL_SCREENSHOT_DIR names the run's folder; otherwise test-artifacts/screenshots."""
    folder = Path(os.environ.get("PORTAL_SCREENSHOT_DIR") or DEFAULT_SCREENSHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def clear_default_screenshots() -> None:
    """Old pictures in the default (git-ignored) folder would pass for this run's."""
    if screenshot_folder() == DEFAULT_SCREENSHOTS:
        for old in DEFAULT_SCREENSHOTS.glob("*.png"):
            old.unlink()


def assert_accessible(page: Page) -> None:
    """axe-core on the page as it stands; any serious or critical violation fails the test."""
    if not AXE_SCRIPT.exists():
        raise RuntimeError(f"{AXE_SCRIPT} is missing: run `npm ci` (make test does it).")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE_SCRIPT))
    violations = page.evaluate(
        """async () => {
            const results = await window.axe.run(document, {resultTypes: ["violations"]});
            return results.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary})),
            }));
        }"""
    )
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    if blocking:
        raise AssertionError(
            f"Accessibility violations on {page.url}:\n" + format_violations(blocking)
        )


def format_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(
            f"- [{violation['impact']}] {violation['id']}: {violation['help']} ({violation['helpUrl']})"
        )
        for node in violation["nodes"][:5]:
            lines.append(f"    at {node['target']}")
            for detail in (node["summary"] or "").splitlines():
                lines.append(f"      {detail}")
        if len(violation["nodes"]) > 5:
            lines.append(f"    ... and {len(violation['nodes']) - 5} more")
    return "\n".join(lines)


class Camera:
    """Full-page screenshots at desktop and phone sizes, after axe has checked each size."""

    def __init__(self, folder: Path, prefix: str) -> None:
        self.folder = folder
        self.prefix = prefix

    def check(self, page: Page, name: str, *, axe: bool = True) -> None:
        """axe=False only where scripts are off: axe-core cannot run there (its timers never
        fire), and the same pages are checked with scripts on by the other tests."""
        original = page.viewport_size
        try:
            for label, size in SIZES.items():
                page.set_viewport_size(size)
                if axe:
                    assert_accessible(page)
                page.screenshot(
                    path=str(self.folder / f"{self.prefix}--{name}.{label}.png"), full_page=True
                )
        finally:
            if original:
                page.set_viewport_size(original)


def is_focused(locator: Locator) -> bool:
    return locator.evaluate("element => element === document.activeElement")


def tab_to(page: Page, locator: Locator, *, limit: int = 40, backwards: bool = False) -> None:
    """Press Tab until the element has focus, as a keyboard user would; fail if it never does."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        if is_focused(locator):
            assert_focus_visible(page)
            return
        page.keyboard.press(key)
    raise AssertionError(f"{locator} cannot be reached with {key} ({limit} presses)")


def type_into(page: Page, locator: Locator, text: str) -> None:
    """Reach a field with Tab, clear it with the keyboard, and type."""
    tab_to(page, locator)
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.press("Delete")
    page.keyboard.type(text)


def assert_focus_visible(page: Page) -> None:
    """The focused element shows a focus ring (an outline or a box-shadow)."""
    style = page.evaluate(
        """() => {
            const s = getComputedStyle(document.activeElement);
            return {outline: s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0,
                    shadow: s.boxShadow !== "none"};
        }"""
    )
    assert style["outline"] or style["shadow"], "the focused element shows no focus indicator"
