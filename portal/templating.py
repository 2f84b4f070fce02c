"""What every template may use: the company, the signed-in user, small filters."""

from datetime import datetime

from flask import Flask

from portal.services import audit, first_run


def init_app(app: Flask) -> None:
    @app.context_processor
    def _globals():
        try:
            company = first_run.company()
        except Exception:  # an unmigrated database must still render error pages
            company = None
        return {"company": company}

    @app.template_filter("when")
    def _when(value: datetime | None) -> str:
        if value is None:
            return "—"
        return value.strftime("%Y-%m-%d %H:%M UTC")

    @app.template_filter("browser")
    def _browser(user_agent: str | None) -> str:
        return describe_browser(user_agent or "")

    app.jinja_env.globals["describe_event"] = audit.describe


def describe_browser(user_agent: str) -> str:
    """A short human name for a User-Agent string, such as "Firefox on Android"."""
    if not user_agent:
        return "Unknown browser"
    ua = user_agent
    browser = "Browser"
    for needle, name in (
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("HeadlessChrome", "Headless Chrome"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
        ("python", "Script"),
    ):
        if needle in ua:
            browser = name
            break
    system = ""
    for needle, name in (
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ):
        if needle in ua:
            system = name
            break
    return f"{browser} on {system}" if system else browser
