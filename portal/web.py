"""Request-side helpers shared by the blueprints: who is asking, and how to answer htmx."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import make_response, render_template, request
from werkzeug.exceptions import BadRequest, NotFound, UnsupportedMediaType
from werkzeug.wrappers import Response


@dataclass(frozen=True)
class Origin:
    """Where a request came from, as services record it."""

    ip: str
    user_agent: str


def request_origin() -> Origin:
    return Origin(
        ip=(request.remote_addr or "unknown")[:45],
        user_agent=request.headers.get("User-Agent", "")[:255],
    )


def wants_fragment() -> bool:
    """htmx asked for a swap (not a boosted navigation nor a history restore)."""
    htmx = request.htmx
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render_page_or_fragment(page: str, fragment: str, *, status: int = 200, **context) -> Response:
    """The whole page for a normal request, only the fragment for an htmx swap."""
    template = fragment if wants_fragment() else page
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: no scheme, no host, no protocol-relative or backslash tricks."""
    if not target or len(target) > 1000:
        return None
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    if any(ord(ch) < 32 for ch in target):
        return None
    return target


_FORM_TYPES = frozenset({"", "application/x-www-form-urlencoded", "multipart/form-data"})


class UnusableInput(BadRequest):
    """A request no form of the portal can use; the description is shown to the person."""


def refuse_unusable_input() -> None:
    """Refuses, before any view runs, input of a shape that no form here takes.

    WTForms would otherwise hand a view a file or a JSON number where it expects text,
    and the database would fail on an id too large for its column instead of finding
    nothing. Odd characters in text are the forms' business: they say which field.
    """
    for value in (request.view_args or {}).values():
        if isinstance(value, int) and not -(2**31) <= value < 2**31:
            raise NotFound()
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.mimetype not in _FORM_TYPES:
        raise UnsupportedMediaType("Send the form from the portal's page.")
    if request.files:
        raise UnusableInput("This form does not take files.")
