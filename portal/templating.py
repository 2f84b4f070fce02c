"""What every template may use: the company, the signed-in user, small filters."""

import re
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

import jinja2
from flask import Flask, current_app, request, url_for
from flask import session as browser_session
from flask.templating import Environment
from flask_login import current_user
from markupsafe import Markup, escape

from portal.services import first_run, policy
from portal.wording import describe_browser, plural

# In its last days the deadline banner stays, whatever the employee chose before.
BANNER_URGENT_DAYS = 3
BANNER_DISMISSED = "deadline_banner_dismissed"


class PortalTemplate(jinja2.Template):
    def _get_default_module(self, ctx: jinja2.runtime.Context | None = None) -> Any:
        # An import ({% from "_macros.html" import field %}) passes the importing
        # template's context so that Jinja can make a module of its own for an importer
        # with globals this template lacks, and finds out by comparing the two sets of
        # globals at every import of every render. The portal's templates have no globals
        # but the environment's (PortalEnvironment refuses others): the module made once
        # serves every import.
        return super()._get_default_module(None)


class PortalEnvironment(Environment):
    template_class = PortalTemplate

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        if d:
            raise ValueError("the portal's templates share the environment's globals only")
        return super().make_globals(d)


def init_app(app: Flask) -> None:
    @app.context_processor
    def _globals():
        try:
            company = first_run.company_name()
        except Exception:  # an unmigrated database must still render error pages
            company = None
        return {"company": company, **_two_step_deadline()}

    app.add_template_global(static_url, "static_url")
    app.add_template_filter(when, "when")
    app.add_template_filter(with_local_times, "with_local_times")

    @app.template_filter("day")
    def _day(deadline: datetime) -> str:
        """The last day before a deadline, such as "3 March 2026"."""
        last = policy.last_day(deadline)
        return f"{last.day} {last:%B %Y}"

    app.add_template_filter(plural, "plural")

    @app.template_filter("browser")
    def _browser(user_agent: str | None) -> str:
        return describe_browser(user_agent or "")


def static_url(filename: str) -> str:
    """url_for('static', filename=...), worked out once per file and application root:
    every page's head links the same few files."""
    known = current_app.extensions.setdefault(_STATIC_URLS, {})
    key = (request.script_root, filename)
    url = known.get(key)
    if url is None:
        url = known[key] = url_for("static", filename=filename)
    return url


_STATIC_URLS = "portal.static_urls"


def when(
    value: datetime | None, *, seconds: bool = False, date: bool = False, exact: bool = False
) -> Markup | str:
    """A moment as ``<time>``: UTC text that static/time.js rewrites in the viewer's time
    zone (relative when it is near; only the day with ``date``); without scripts the UTC
    text stays."""
    if value is None:
        return "—"
    utc = value.astimezone(UTC)
    if date:
        text, style = utc.strftime("%Y-%m-%d UTC"), "date"
    elif seconds:
        text, style = utc.strftime("%Y-%m-%d %H:%M:%S UTC"), "seconds"
    else:
        text, style = utc.strftime("%Y-%m-%d %H:%M UTC"), "minutes"
    # exact: never "in 15 minutes", for a moment that follows "until". Every part comes
    # from strftime with fixed formats (digits, "-", ":", "T", "Z", " UTC") or from the
    # fixed words above: nothing to escape, and pages show dozens of these.
    iso = utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    flag = " data-exact" if exact else ""
    return Markup(f'<time datetime="{iso}" title="{text}" data-local="{style}"{flag}>{text}</time>')


# A moment as audit details write it ("until 2026-11-29 07:52 UTC"): stored text, so the
# page finds it in the text to show it in the viewer's time zone like any other.
_STORED_MOMENT = re.compile(r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}) UTC")


def with_local_times(text: str | None) -> Markup:
    """``text`` escaped, each UTC moment in it written as a ``<time>`` (see ``when``)."""
    if not text:
        return Markup("")
    if " UTC" not in text:
        return escape(text)
    parts = []
    position = 0
    for match in _STORED_MOMENT.finditer(text):
        moment = datetime.strptime(f"{match[1]} {match[2]}", "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        parts.append(escape(text[position : match.start()]))
        parts.append(Markup(when(moment, exact=True)))
        position = match.end()
    parts.append(escape(text[position:]))
    return Markup("").join(parts)


def _two_step_deadline() -> dict:
    """The deadline banner (employees who still have to turn two-step on) and whether
    the page is reduced to the set-up (past the deadline, where the company allows it)."""
    if not current_user.is_authenticated:
        return {}
    rules = policy.current()
    standing = policy.standing_for(current_user, rules)
    if standing.state == policy.Standing.OVERDUE:
        return {"confined_to_set_up": rules.after_deadline == policy.AFTER_DEADLINE_SETUP}
    if standing.state != policy.Standing.NOT_YET or standing.days_left is None:
        return {}
    urgent = standing.days_left < BANNER_URGENT_DAYS
    if not urgent and browser_session.get(BANNER_DISMISSED):
        return {}
    return {
        "deadline_banner": {
            "deadline": standing.deadline,
            "days_left": standing.days_left,
            "dismissible": not urgent,
        }
    }
