"""How the portal puts numbers into words, the same on every page and in every message:
counts with the right plural, waits in words rather than raw seconds, a browser by name
rather than its User-Agent string."""

from __future__ import annotations


def plural(count: int, one: str, many: str) -> str:
    """``count`` with the words that fit it: "1 session", "0 sessions", "1,204 sessions".

    ``one`` and ``many`` may run on past the noun ("employee has", "employees have")."""
    return f"{count:,} {one if count == 1 else many}"


def duration(seconds: float) -> str:
    """A wait as a person says it: "a few seconds", "about 20 seconds", "about a minute",
    "about 5 minutes", "about an hour". Rounded, because the page counts down the exact
    time where scripts run, and an exact figure would be stale as soon as it is read."""
    seconds = max(0, round(seconds))
    if seconds < 10:
        return "a few seconds"
    if seconds < 50:
        return f"about {round(seconds / 10) * 10} seconds"
    if seconds < 90:
        return "about a minute"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} minutes"
    hours = round(minutes / 60)
    return "about an hour" if hours == 1 else f"about {hours} hours"


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
