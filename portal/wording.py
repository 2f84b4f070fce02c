"""How the portal puts numbers into words, the same on every page and in every message:
counts with the right plural, waits in words rather than raw seconds."""

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
