"""Request-side helpers shared by the blueprints: who is asking, and how to answer htmx.

Every view answers a form the same way:
- ``render_page_or_fragment``: the whole page for a browser, only the panel for an htmx swap
  (a form with its errors, or a panel in a new state);
- ``done``: a change went through. htmx gets the panel back with its notice; a plain post
  gets the notice as a flash message and a 303 to the page, so a reload does not post again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request
from htmx_flask import make_response
from htmx_flask.requests import HtmxAwareRequest
from werkzeug.exceptions import BadRequest, NotFound, UnsupportedMediaType
from werkzeug.wrappers import Response

from portal.origin import Origin


def request_origin() -> Origin:
    return Origin(
        ip=(request.remote_addr or "unknown")[:45],
        user_agent=request.headers.get("User-Agent", "")[:255],
    )


def wants_fragment() -> bool:
    """htmx asked for a swap (not a boosted navigation nor a history restore)."""
    htmx = cast(HtmxAwareRequest, request).htmx
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render_page_or_fragment(
    page: str,
    fragment: str,
    *,
    status: int = 200,
    page_context: Callable[[], Mapping[str, Any]] | None = None,
    trigger: str | None = None,
    **context: Any,
) -> Response:
    """The whole page for a normal request, only the fragment for an htmx swap.

    ``page_context`` adds what only the whole page shows (its other panels); it is not
    computed for a swap. ``trigger`` names an htmx event that other panels listen for.
    """
    if wants_fragment():
        return make_response(render_template(fragment, **context), status, trigger=trigger)
    extra = page_context() if page_context else {}
    return make_response(render_template(page, **context, **extra), status)


def done(
    message: str | None,
    *,
    fragment: str,
    redirect_to: str,
    trigger: str | None = None,
    **context: Any,
) -> Response:
    """A change went through: htmx gets ``fragment`` with ``message`` as its notice, a
    plain post a flash message and a 303 to ``redirect_to``."""
    if wants_fragment():
        return make_response(
            render_template(fragment, notice=message, **context), 200, trigger=trigger
        )
    if message:
        flash(message, "success")
    return redirect(redirect_to, code=303)


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
