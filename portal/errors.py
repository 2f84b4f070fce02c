"""One handler per status: a friendly page, or a message fragment for htmx."""

import sqlite3

from flask import Flask, current_app, redirect, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from htmx_flask import make_response
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from portal.database import db
from portal.web import UnusableInput, refuse_unusable_input, wants_fragment

MESSAGES = {
    400: ("Bad request", "The request could not be understood. Please go back and try again."),
    403: ("Not allowed", "You do not have access to this page."),
    404: ("Not found", "There is no page here."),
    405: ("Not allowed", "That action is not available here."),
    410: ("Gone", "This link is no longer valid."),
    413: ("Too large", "What you sent is too large."),
    415: ("Not a form", "Send the form from the portal's page."),
    429: (
        "Too many attempts",
        "For your safety, further tries must wait. Please try again in a few minutes.",
    ),
    500: ("Something went wrong", "The portal could not finish this request. Nothing was changed."),
}


DATABASE_UNAVAILABLE = (
    "Database unavailable",
    "The portal cannot reach its database just now. Nothing you sent was saved: "
    "try again in a few seconds.",
)
# What a browser is told to wait before asking again (the Retry-After header).
RETRY_AFTER_SECONDS = 10

# SQLSTATE classes of a connection that failed or went away: 08 (connection exception)
# and 57P01-57P03 (the server shutting down, crashed or starting up).
_CONNECTION_SQLSTATES = ("08", "57P01", "57P02", "57P03")
# What SQLite says when its file cannot be opened (a missing folder, no permission, a
# network share that went away).
_SQLITE_UNREACHABLE = ("unable to open database", "disk i/o error")


def database_unreachable(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot be reached, rather than that a query
    was wrong: the server is down or restarting, the connection dropped, the file is gone."""
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    original = error.orig
    if isinstance(original, sqlite3.OperationalError):
        text = str(original).lower()
        return any(words in text for words in _SQLITE_UNREACHABLE)
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate:
        return sqlstate.startswith(_CONNECTION_SQLSTATES)
    # psycopg gives no SQLSTATE when it could not connect at all, or lost the server
    # before an answer came: the only operational errors without one.
    kind = type(original)
    return kind.__name__ == "OperationalError" and kind.__module__.startswith("psycopg")


def _database_unavailable():
    """503 with Retry-After. The page is drawn without the portal's frame, which would
    read the signed-in user and the company from the database that is not there."""
    title, message = DATABASE_UNAVAILABLE
    fragment = wants_fragment()
    template = "errors/_alert.html" if fragment else "errors/database_unavailable.html"
    # The template alone: context processors (the company, the deadline banner) query.
    body = current_app.jinja_env.get_template(template).render(title=title, message=message)
    response = make_response(body, 503, retarget="#alerts" if fragment else None)
    if fragment:
        response.headers["HX-Reswap"] = "innerHTML"
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _first_line(error: BaseException | None) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _forget_transaction() -> None:
    """Rolls back what the request's session began; on a dead connection that can fail
    too, and there is nothing left to undo."""
    try:
        db.session.rollback()
    except DBAPIError:
        current_app.logger.debug("Rollback on an unreachable database failed", exc_info=True)


def sign_in_address() -> str:
    from portal.auth.current import sign_in_address as address

    return address()


def say_session_ended() -> None:
    from portal.auth.current import say_session_ended as say

    say()


def _render(status: int, message: str | None = None, *, sign_in_again: bool = False):
    title, default_message = MESSAGES.get(status, ("Error", "Something went wrong."))
    context = {"status": status, "title": title, "message": message or default_message}
    if not wants_fragment():
        return make_response(render_template("errors/error.html", **context), status)
    # Errors go to the page's alert area instead of replacing the panel.
    response = make_response(
        render_template("errors/_alert.html", **context),
        status,
        retarget="#alerts",
        redirect=sign_in_address() if sign_in_again else None,
    )
    response.headers["HX-Reswap"] = "innerHTML"
    return response


def _nearest_page(path: str) -> str | None:
    """The closest parent path that answers GET, such as /profile/security for
    /profile/security/enable."""
    adapter = current_app.url_map.bind("localhost")
    parts = path.rstrip("/").split("/")
    while len(parts) > 1:
        parts.pop()
        candidate = "/".join(parts) or "/"
        for attempt in (candidate, candidate + "/"):
            try:
                adapter.match(attempt, method="GET")
            except HTTPException:
                continue
            return attempt
    return None


def init_app(app: Flask) -> None:
    # Bad input of any shape gets its 4xx before a view sees it (after the CSRF check).
    app.before_request(refuse_unusable_input)

    @app.errorhandler(UnusableInput)
    def _unusable(error: UnusableInput):
        return _render(400, error.description)

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        if current_user.is_authenticated:
            return _render(
                400,
                "This form has expired or was not sent from the portal. Reload the page and try again.",
            )
        # Most often: signed out in another tab, which renews the form token (and, in
        # the same browser, takes the session cookie too). htmx goes on to sign in.
        if wants_fragment():
            say_session_ended()
        return _render(
            400,
            "You are signed out, or this form has expired. Sign in again, then retry.",
            sign_in_again=True,
        )

    @app.errorhandler(MethodNotAllowed)
    def _method_not_allowed(error: MethodNotAllowed):
        # Back, a reload or a bookmark after a plain form post lands here with GET: go to
        # the page the form was on rather than show an error.
        if request.method == "GET":
            page = _nearest_page(request.path)
            if page is not None:
                return redirect(page, code=303)
        return _render(405)

    @app.errorhandler(RateLimitExceeded)
    def _rate_limited(error: RateLimitExceeded):
        # A limit with its own message says which budget ran out; others, the usual words.
        return _render(429, error.description if error.limit.error_message else None)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        return _render(error.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        _forget_transaction()
        if isinstance(error, DBAPIError) and database_unreachable(error):
            # One line, no stack trace: the cause is outside the portal, and a restart of
            # the database would fill the log with hundreds of the same trace.
            app.logger.warning(
                "The database cannot be reached, answered 503: %s", _first_line(error.orig)
            )
            return _database_unavailable()
        app.logger.exception("Unhandled error")
        return _render(500)

    @app.errorhandler(InternalServerError)
    def _internal(error):
        _forget_transaction()
        return _render(500)
