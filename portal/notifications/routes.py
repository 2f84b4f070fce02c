"""The bell in the header and the notifications page.

The bell's poll is the most frequent request of all (every open tab, every 30 seconds):
it skips the page gates and the template context, and answers from one indexed query
(notifications.bell_state) with a few bytes. Everything else here is an ordinary page.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, url_for
from flask_login import current_user, login_required
from htmx_flask import make_response

from portal.auth import current
from portal.extensions import limiter
from portal.notifications.forms import NoticeActionForm
from portal.services import notifications as service
from portal.web import done, render_page_or_fragment, request_origin, wants_fragment

notifications = Blueprint("notifications", __name__, url_prefix="/notifications")
NOTICE = "/<int(max=2147483647):notice_id>"
PAGE = "notifications/notifications.html"
LIST = "notifications/_list.html"
# While a sign-in code is live, the bell asks this often, so the code shown is current.
LIVE_POLL_SECONDS = 5
# htmx stops polling on this status: the session is over.
STOP_POLLING = 286


def _account_key() -> str:
    return f"user:{current_user.get_id()}"


limiter.limit("60 per minute", methods=["POST"], key_func=_account_key, scope="notify-account")(
    notifications
)


@notifications.app_template_global("notice_title")
def _notice_title(kind: str) -> str:
    return service.title(kind)


@notifications.app_context_processor
def _bell():
    """The bell of a whole page: the count, and a live sign-in code where there is one.
    A fragment for htmx has no header, so its swap pays for none of this."""
    if wants_fragment() or not current_user.is_authenticated:
        return {}
    return {"bell": bell_context(current_user, current.current_session())}


def _may_see_codes(row) -> bool:
    """Only a session that passed the second step is shown the account's sign-in codes."""
    return row is not None and row.second_step_at is not None


def bell_context(user, row) -> dict:
    counts = service.header_counts(row.token_hash) if row is not None else None
    if counts is None:
        unread = service.unread_count(user)
        live = service.live_codes(user, may_see_codes=_may_see_codes(row))
    else:
        # The notices themselves are read only where a sign-in code is live.
        unread, waiting = counts
        live = service.live_codes(user, may_see_codes=_may_see_codes(row)) if waiting else []
    return {
        "unread": unread,
        "live": live,
        "interval": _interval(bool(live)),
    }


def _interval(live: bool) -> int:
    every = current_app.config["BELL_POLL_SECONDS"]
    return min(every, LIVE_POLL_SECONDS) if live else every


@notifications.get("/bell")
def bell():
    """The bell alone, for htmx's poll, where it has a live sign-in code to show (the
    count alone is answered by portal.notifications.poll before this view)."""
    row = current.current_session()
    if row is None:
        return make_response("", STOP_POLLING)
    template = current_app.jinja_env.get_template("notifications/_bell.html")
    return make_response(template.render(bell=bell_context(row.user, row)), 200)


@notifications.get("/")
@login_required
def page():
    return render_page_or_fragment(PAGE, LIST, **_list_context())


def _list_context() -> dict:
    row = current.current_session()
    # A swap of the list after a change brings the header's bell along, out of band.
    swap = {"bell_oob": True, "bell": bell_context(current_user, row)} if wants_fragment() else {}
    return {
        **swap,
        "listing": service.listing(current_user),
        "live": {
            live.notice.id: live
            for live in service.live_codes(current_user, may_see_codes=_may_see_codes(row))
        },
        "form": NoticeActionForm(),
    }


@notifications.post(NOTICE + "/read")
@login_required
def mark_read(notice_id: int):
    if not NoticeActionForm().validate_on_submit():
        return _refused("This form has expired. Reload the page and try again.", 400)
    try:
        service.mark_read(current_user, notice_id)
    except service.NotificationError as error:
        return _refused(str(error), 404)
    return _listed("Marked as read.")


@notifications.post("/read-all")
@login_required
def mark_all_read():
    if not NoticeActionForm().validate_on_submit():
        return _refused("This form has expired. Reload the page and try again.", 400)
    changed = service.mark_all_read(current_user)
    return _listed("All notifications are marked as read." if changed else "Nothing was unread.")


@notifications.post(NOTICE + "/not-me")
@login_required
def not_me(notice_id: int):
    """Ends the pending sign-in at once, then the employee changes the password."""
    if not NoticeActionForm().validate_on_submit():
        return _refused("This form has expired. Reload the page and try again.", 400)
    try:
        service.deny_sign_in(current_user, notice_id, origin=request_origin())
    except service.NotificationError as error:
        return _refused(str(error), 409)
    message = (
        "That sign-in is ended and your administrators are told. "
        "Change your password now: whoever tried knows it."
    )
    flash(message, "warning")
    page = url_for("profile.account")
    if wants_fragment():
        # Without the fragment: from the profile page itself, a fragment would only
        # scroll, and the message would wait for the next page.
        return make_response("", 204, redirect=page)
    return redirect(page + "#profile-password", code=303)


def _listed(message: str):
    return done(
        message, fragment=LIST, redirect_to=url_for("notifications.page"), **_list_context()
    )


def _refused(message: str, status: int):
    return render_page_or_fragment(PAGE, LIST, status=status, error=message, **_list_context())
