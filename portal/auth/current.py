"""Who is signed in: the session cookie, Flask-Login's current_user, and the pending gate.

The cookie holds only a random token. A row at stage "password" is a sign-in waiting for
its second step: it makes nobody the current user and reaches only the second-step pages.
"""

from __future__ import annotations

from typing import cast
from urllib.parse import urlsplit

from flask import Flask, current_app, flash, g, redirect, request, url_for
from flask import session as flask_session
from htmx_flask import make_response
from htmx_flask.requests import HtmxAwareRequest

from portal.auth import devices
from portal.extensions import login_manager
from portal.models import STAGE_FULL, STAGE_PASSWORD, User, UserSession
from portal.origin import Origin
from portal.services import policy, remembered_browsers, sessions
from portal.web import request_origin, safe_next, wants_fragment

COOKIE_NAME = "portal_session"
# A browser its owner asked to remember: it holds a random token (see
# portal.services.remembered_browsers); sign-in itself still needs the password.
REMEMBER_COOKIE_NAME = "portal_remembered"

# What a pending sign-in may reach: the second step itself, and a way to give up.
PENDING_ENDPOINTS = frozenset(
    {"auth.second_step", "auth.recovery_step", "auth.cancel_sign_in", "static"}
)
# What an employee past the two-step deadline may reach where the company requires
# set-up after the password: the enrolment on the Security page, and signing out.
SET_UP_ENDPOINTS = frozenset(
    {
        "profile.security",
        "profile.enable_two_step",
        "profile.confirm_two_step",
        "profile.cancel_enrolment",
        "profile.codes_saved",
        "profile.download_recovery_codes",
        "profile.show_recovery_codes",
        "auth.logout",
        "static",
        # Checks its own session, and says no more than an unread count.
        "notifications.bell",
    }
)
# The bell's poll answers a pending sign-in with "stop polling" itself, not with a redirect
# to the code step. The policy gate does apply to it: an overdue session's poll ends it.
SELF_CHECKED_ENDPOINTS = frozenset({"notifications.bell"})
SESSION_ENDED = (
    "Your session has ended: it was signed out in another tab or browser, or unused for "
    "too long. Sign in again to continue."
)
SIGN_IN_TIMED_OUT = (
    "Your sign-in timed out before the code was entered. Enter your password again to continue."
)
OVERDUE_SIGNED_OUT = (
    "You were signed out: your company requires two-step authentication, and the "
    "deadline to set it up has passed. Contact your administrator."
)


def init_app(app: Flask) -> None:
    login_manager.session_protection = None  # sessions live server-side, see below
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.request_loader(_user_from_cookie)
    login_manager.unauthorized_handler(_sign_in_first)
    app.before_request(_gate_pending_sign_in)
    app.before_request(_gate_two_step_policy)
    app.after_request(_write_cookie)
    devices.init_app(app)


def sign_in_address() -> str:
    """The sign-in page, coming back afterwards to the page the person was on."""
    if wants_fragment():
        page = urlsplit(cast(HtmxAwareRequest, request).htmx.current_url or "")
        back = page.path + (f"?{page.query}" if page.query else "") or None
    else:
        back = request.full_path.rstrip("?") if request.method == "GET" else None
    return url_for("auth.login", next=safe_next(back))


def _sign_in_first():
    """A page that needs a signed-in user: htmx is sent to sign-in as a whole page, not a
    sign-in form squeezed into a panel. A browser whose session ended meanwhile (signed
    out here or from another browser) is told so on the sign-in page."""
    if not tell_session_ended():
        flash(login_manager.login_message, login_manager.login_message_category)
    if wants_fragment():
        return make_response(
            "You are signed out. Sign in again to continue.",
            401,
            {"Content-Type": "text/plain; charset=utf-8"},
            redirect=sign_in_address(),
        )
    return redirect(sign_in_address(), code=302)


def tell_session_ended() -> bool:
    """When this browser still holds the cookie of a session that no longer exists, the
    sign-in page it is sent to says that the session ended; the dead cookie goes."""
    if not request.cookies.get(COOKIE_NAME) or _session_row() is not None:
        return False
    say_session_ended()
    return True


def say_session_ended() -> None:
    """The sign-in page this browser goes to next says that its session ended."""
    if request.cookies.get(COOKIE_NAME):
        g.clear_cookie = True
    flash(SESSION_ENDED, "warning")


def _session_row() -> UserSession | None:
    """This request's session row (full or pending), looked up once."""
    if "session_row" not in g:
        row = sessions.find(request.cookies.get(COOKIE_NAME))
        if row is not None and (
            sessions.is_expired(row, sessions.idle_limit()) or not row.user.active
        ):
            expired_stage = row.stage
            sessions.end_expired(row)
            g.clear_cookie = True
            if expired_stage == STAGE_PASSWORD:
                g.pending_expired = True
                g.pending_expired_email = row.user.email
            row = None
        g.session_row = row
    return g.session_row


def _user_from_cookie(_request) -> User | None:
    row = _session_row()
    if row is None or row.stage != STAGE_FULL:
        return None
    sessions.touch(row, request_origin())
    return row.user


def current_session() -> UserSession | None:
    """The full session of the signed-in user, if any."""
    row = _session_row()
    return row if row is not None and row.stage == STAGE_FULL else None


def pending_sign_in() -> UserSession | None:
    row = _session_row()
    return row if row is not None and row.stage == STAGE_PASSWORD else None


def _gate_pending_sign_in():
    if (
        request.endpoint in PENDING_ENDPOINTS
        or request.endpoint in SELF_CHECKED_ENDPOINTS
        or request.endpoint is None
    ):
        return None
    if pending_sign_in() is not None:
        return redirect_to(url_for("auth.second_step"))
    if g.get("pending_expired"):
        if request.endpoint == "auth.login" and request.method == "POST":
            return None  # signing in afresh: the old attempt is no news
        return timed_out()
    return None


def timed_out():
    """A pending sign-in ended before its code: say so, and offer the sign-in again with
    the email filled in."""
    flash(SIGN_IN_TIMED_OUT, "warning")
    back = safe_next(request.args.get("next")) if request.endpoint in PENDING_ENDPOINTS else None
    return redirect_to(url_for("auth.login", email=g.get("pending_expired_email"), next=back))


def _gate_two_step_policy():
    """Past the deadline without two-step: an open session ends ("refuse sign-in"), or
    reaches nothing but the set-up ("require set-up"). Checked at every request, so a
    change of the policy applies at once."""
    if request.endpoint is None or request.endpoint == "static":
        return None
    row = current_session()
    if row is None:
        return None
    rules = policy.current()
    if policy.refuses_sign_in(row.user, rules):
        finish(request_origin())
        flash(OVERDUE_SIGNED_OUT, "warning")
        return redirect_to(url_for("auth.login"))
    if request.endpoint not in SET_UP_ENDPOINTS and policy.confines_to_set_up(row.user, rules):
        return redirect_to(url_for("profile.security"))
    return None


def confined_to_set_up() -> bool:
    """This request's user may reach only the two-step set-up (see SET_UP_ENDPOINTS)."""
    row = current_session()
    return row is not None and policy.confines_to_set_up(row.user)


def redirect_to(location: str):
    """A redirect that also works when htmx made the request."""
    if wants_fragment():
        return make_response("", 204, redirect=location)
    return redirect(location, code=303)


def _new_csrf_token() -> None:
    # A CSRF token planted in this browser before sign-in must not outlive it.
    flask_session.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def begin(user: User, origin: Origin, *, method: str = "password") -> UserSession:
    """The password step passed: a brand-new session id for this browser, pending its
    second step or full; any row the browser had before is gone."""
    token, row = sessions.begin_sign_in(
        user,
        origin,
        replacing=_session_row(),
        method=method,
        remembered_token=remembered_token(),
    )
    g.session_row = row
    g.new_cookie = token
    _new_csrf_token()
    if row.stage == STAGE_FULL:
        devices.remember(user)
    return row


def complete_second_step(row: UserSession, origin: Origin, method: str) -> UserSession:
    """Raises sessions.AlreadyEnded when a racing request completed or ended it first."""
    token, fresh = sessions.complete_second_step(row, origin, method=method)
    g.session_row = fresh
    g.new_cookie = token
    _new_csrf_token()
    devices.remember(fresh.user)
    return fresh


def remembered_token() -> str | None:
    """The token of this browser's "remember this browser" cookie, if it has one."""
    return request.cookies.get(REMEMBER_COOKIE_NAME)


def remember_browser(user: User, origin: Origin) -> None:
    """Remembers this browser for the company's number of days (nothing while the option
    is off); the cookie goes with the response."""
    remembered = remembered_browsers.remember(user, origin)
    if remembered is not None:
        token, row = remembered
        g.remember_cookie = (token, row.expires_at - row.created_at)


def forget_browser_cookie() -> None:
    """This browser was forgotten: its cookie goes too."""
    g.clear_remember_cookie = True


def finish(origin: Origin) -> None:
    """Sign-out, or giving up a pending sign-in: the row goes, so the old cookie is
    worthless even if it was copied."""
    row = _session_row()
    if row is not None:
        sessions.sign_out(row, origin)
    g.session_row = None
    g.clear_cookie = True
    _new_csrf_token()


def _write_cookie(response):
    config = current_app.config
    if g.get("new_cookie"):
        response.set_cookie(
            COOKIE_NAME,
            g.new_cookie,
            max_age=int(sessions.idle_limit().total_seconds()),
            httponly=True,
            secure=config["HTTPS"],
            samesite="Lax",
            path="/",
        )
    elif g.get("clear_cookie"):
        response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="Lax")
    if g.get("remember_cookie"):
        token, lifetime = g.remember_cookie
        response.set_cookie(
            REMEMBER_COOKIE_NAME,
            token,
            max_age=int(lifetime.total_seconds()),
            httponly=True,
            secure=config["HTTPS"],
            samesite="Lax",
            path="/",
        )
    elif g.get("clear_remember_cookie"):
        response.delete_cookie(
            REMEMBER_COOKIE_NAME, path="/", httponly=True, secure=config["HTTPS"], samesite="Lax"
        )
    return response
