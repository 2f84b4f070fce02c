"""Sign-in, the second step, sign-out, and links that set a password."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from portal.auth import current, devices
from portal.auth.forms import CodeForm, RecoveryCodeForm, SetPasswordForm, SignInForm
from portal.extensions import limiter
from portal.models import STAGE_PASSWORD
from portal.services import (
    accounts,
    first_run,
    invitations,
    policy,
    recovery_codes,
    remembered_browsers,
    sessions,
    two_step,
)
from portal.web import request_origin, safe_next
from portal.wording import plural

auth = Blueprint("auth", __name__)

SIGN_IN_FAILED = "That email and password do not match an active account."
SIGN_IN_REFUSED_OVERDUE = (
    "Your company requires two-step authentication, and the deadline to set it up has "
    "passed. Contact your administrator to get access again."
)


def _account_key() -> str:
    """The account's shared budget, or this browser's own one when it has signed in to the
    account before (see devices.py), so strangers' wrong passwords cannot lock it out."""
    email = accounts.normalize_email(request.form.get("email", ""))[:254]
    device = devices.known_device(email)
    if device is not None:
        return f"device:{device}"
    return "account:" + email


ACCOUNT_LIMIT_UNKNOWN_BROWSER = (
    "Too many attempts for this account from unknown browsers. For its safety, only "
    "browsers that have signed in to it before may try now: if this is your account, use "
    "one of those. Please try again in a few minutes."
)
ACCOUNT_LIMIT_THIS_BROWSER = (
    "Too many attempts for this account from this browser. Please try again in a few minutes."
)


def _account_limit_message() -> str:
    email = accounts.normalize_email(request.form.get("email", ""))[:254]
    if devices.known_device(email) is not None:
        return ACCOUNT_LIMIT_THIS_BROWSER
    return ACCOUNT_LIMIT_UNKNOWN_BROWSER


def _failed(response) -> bool:
    """A refused attempt (4xx) uses up the limits; a sign-in that passed (303) does not,
    nor one the server could not answer (503 while the database is down): no password
    was checked, and the person must not be locked out by the outage."""
    return 400 <= response.status_code < 500


@auth.get("/")
def home():
    """Where the bare address leads: setup, sign-in, or the Security page."""
    if first_run.is_needed():
        return redirect(url_for("setup.start"), code=303)
    if current_user.is_authenticated:
        return redirect(url_for("profile.security"), code=303)
    return redirect(url_for("auth.login"), code=303)


def _sign_in_form() -> SignInForm:
    return SignInForm(next=request.args.get("next", ""), email=request.args.get("email", "")[:254])


@auth.get("/login")
def login_page():
    """The sign-in form (the limits below count its posts only)."""
    if current_user.is_authenticated:
        return redirect(url_for("profile.security"))
    return render_template("auth/login.html", form=_sign_in_form())


@auth.post("/login")
@limiter.limit("20 per minute;200 per hour", deduct_when=_failed)
@limiter.limit(
    "10 per 15 minutes",
    key_func=_account_key,
    scope="login-account",
    deduct_when=_failed,
    error_message=_account_limit_message,
)
# Failures are counted after the response, so parallel guesses could all pass the test
# above before any is counted; this one counts every attempt up front.
@limiter.limit(
    "20 per 15 minutes",
    key_func=_account_key,
    scope="login-account-all",
    error_message=_account_limit_message,
)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("profile.security"))
    form = _sign_in_form()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 422

    origin = request_origin()
    user = accounts.authenticate(form.email.data, form.password.data, origin)
    if user is None:
        form.password.errors.append(SIGN_IN_FAILED)
        return render_template("auth/login.html", form=form), 422

    if policy.refuses_sign_in(user):
        policy.refuse_sign_in(user, origin)
        return render_template("auth/login.html", form=form, refused=SIGN_IN_REFUSED_OVERDUE), 403

    destination = safe_next(form.next.data)
    row = current.begin(user, origin)
    if row.stage == STAGE_PASSWORD:
        return redirect(url_for("auth.second_step", next=destination), code=303)
    set_up_again = policy.set_up_again_notice(user)
    if set_up_again:
        # After an administrator's reset, the way on leads through the new set-up.
        flash(set_up_again, "warning")
        return redirect(url_for("profile.security"), code=303)
    return redirect(destination or url_for("profile.security"), code=303)


def _pending_account_key() -> str:
    row = current.pending_sign_in()
    return f"pending:{row.user_id}" if row is not None else "pending:none"


def _code_step_limits(view):
    """Per address and per account, one budget for both code pages; the account's own
    failure count does the rest."""
    view = limiter.shared_limit("30 per minute", scope="code-address", methods=["POST"])(view)
    return limiter.shared_limit(
        "20 per minute", scope="code-account", methods=["POST"], key_func=_pending_account_key
    )(view)


def _pending_or_restart():
    row = current.pending_sign_in()
    if row is None and g.get("pending_expired"):
        return None, current.timed_out()
    if row is None:
        flash("Please sign in again.", "info")
        return None, redirect(url_for("auth.login"), code=303)
    if not row.user.two_step_enabled:
        # Two-step was switched off for this account meanwhile: start over cleanly.
        current.finish(request_origin())
        return None, redirect(url_for("auth.login"), code=303)
    return row, None


def _complete_sign_in(row, method: str, *, remember: bool = False):
    user = row.user
    try:
        current.complete_second_step(row, request_origin(), method)
    except sessions.AlreadyEnded:
        flash(
            "This sign-in was finished or cancelled in another tab. Please sign in again.", "info"
        )
        return redirect(url_for("auth.login"), code=303)
    if remember:
        current.remember_browser(user, request_origin())
    return redirect(safe_next(request.args.get("next")) or url_for("profile.security"), code=303)


def _not_offered() -> int:
    return 0


def _code_step(
    form,
    template: str,
    verify,
    method: str,
    on_success=None,
    *,
    remember_days: Callable[[], int] = _not_offered,
):
    """The second step with one kind of code: the app's, or a recovery code. Only the
    app's page offers to remember the browser (``remember_days()`` above 0, asked only
    when the answer matters: a right code goes through without reading the setting
    unless the box was ticked)."""
    row, restart = _pending_or_restart()
    if restart:
        return restart
    status = 200
    if form.validate_on_submit():
        outcome = verify(row.user, form.code.data, request_origin())
        if outcome.ok:
            if on_success:
                on_success(row.user)
            remember = (
                bool(getattr(form, "remember", None) and form.remember.data) and remember_days() > 0
            )
            return _complete_sign_in(row, method, remember=remember)
        form.code.errors.append(outcome.message)
        status = 429 if outcome.throttled else 422
    elif request.method == "POST":
        status = 422
    context = {
        "form": form,
        "wait_notice": two_step.throttle_notice(row.user),
        "wait_seconds": two_step.seconds_to_wait(row.user),
        "next": safe_next(request.args.get("next")),
        "remember_days": remember_days(),
    }
    return render_template(template, **context), status


@auth.route("/login/code", methods=["GET", "POST"])
@_code_step_limits
def second_step():
    return _code_step(
        CodeForm(),
        "auth/second_step.html",
        two_step.verify_sign_in_code,
        "authenticator app",
        remember_days=remembered_browsers.days_allowed,
    )


def _tell_codes_left(user) -> None:
    left = recovery_codes.remaining(user)
    flash(
        f"You signed in with a recovery code; you have {plural(left, 'code', 'codes')} left. "
        "If your phone is lost or replaced, choose “My mobile device has changed” below.",
        "warning",
    )


@auth.route("/login/recovery", methods=["GET", "POST"])
@_code_step_limits
def recovery_step():
    return _code_step(
        RecoveryCodeForm(),
        "auth/recovery_step.html",
        two_step.verify_sign_in_recovery_code,
        "recovery code",
        on_success=_tell_codes_left,
    )


@auth.post("/login/cancel")
def cancel_sign_in():
    current.finish(request_origin())
    return redirect(url_for("auth.login"), code=303)


@auth.post("/logout")
def logout():
    current.finish(request_origin())
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"), code=303)


@auth.route("/invitation/<token>", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def accept_invitation(token: str):
    invitation = invitations.find_valid(token)
    if invitation is None:
        return render_template("auth/invitation_invalid.html"), 404
    form = SetPasswordForm()
    if form.validate_on_submit():
        user = invitation.user
        try:
            invitations.accept(token, form.password.data, request_origin())
        except accounts.WeakPassword as problem:
            form.password.errors.append(str(problem))
        except accounts.AccountError as error:
            flash(str(error), "error")
            return render_template("auth/invitation_invalid.html"), 410
        else:
            # Whoever was signed in on this browser is not the person who set this password.
            current.finish(request_origin())
            flash("Your password is set. Please sign in.", "success")
            return redirect(url_for("auth.login", email=user.email), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("auth/invitation.html", form=form, invitation=invitation), status
