"""How the portal puts numbers into words, the same on every page and in every message."""

from __future__ import annotations


def plural(count: int, one: str, many: str) -> str:
    """``count`` with the word that fits it: "1 session", "0 sessions", "4 sessions"."""
    return f"{count} {one if count == 1 else many}"
