"""How the portal puts numbers into words, the same on every page and in every message."""

from __future__ import annotations


def plural(count: int, one: str, many: str) -> str:
    """``count`` with the words that fit it: "1 session", "0 sessions", "1,204 sessions".

    ``one`` and ``many`` may run on past the noun ("employee has", "employees have")."""
    return f"{count:,} {one if count == 1 else many}"
