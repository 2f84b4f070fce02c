"""The employee's own pages: the profile, and the Security page."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from portal.auth import current
from portal.database import db
from portal.extensions import limiter
from portal.forms import EmptyForm
from portal.profile.forms import (
    ChangePasswordForm,
    CodesSavedForm,
    ConfirmPasswordForm,
    EnrolmentCodeForm,
    PasswordAndCodeForm,
    ProfileForm,
    RegenerateCodesForm,
)
from portal.services import (
    accounts,
    audit,
    first_run,
    policy,
    recovery_codes,
    sessions,
    totp,
    two_step,
)
from portal.services.passwords import problem_with
from portal.web import render_page_or_fragment, request_origin, wants_fragment

profile = Blueprint("profile", __name__, url_prefix="/profile")


def _account_key() -> str:
    return f"user:{current_user.get_id()}"


# Password and code checks on these pages must not become a guessing oracle for someone
# holding a stolen session: every change is limited per account as well as per address.
limiter.limit("30 per minute", methods=["POST"], key_func=_account_key, scope="profile-account")(
    profile
)
limiter.limit("60 per minute", methods=["POST"], scope="profile-address")(profile)


def _refused(response) -> bool:
    return response.status_code >= 400


# Wrong passwords on any of the forms that ask for it share one budget per account, as
# tight as the sign-in page's, so a stolen session is no faster password oracle.
password_checks = limiter.shared_limit(
    "10 per 15 minutes",
    scope="profile-password",
    key_func=_account_key,
    methods=["POST"],
    deduct_when=_refused,
)


@profile.get("/")
@login_required
def account():
    return render_template(
        "profile/account.html",
        profile_form=ProfileForm(obj=current_user),
        password_form=ChangePasswordForm(),
    )


@profile.post("/details")
@login_required
def update_details():
    form = ProfileForm()
    if form.validate_on_submit():
        try:
            accounts.update_profile(
                current_user, name=form.name.data, email=form.email.data, origin=request_origin()
            )
        except accounts.AccountError as error:
            form.email.errors.append(str(error))
        else:
            return _saved("profile/_details.html", "Your profile is saved.")
    return render_page_or_fragment(
        "profile/account.html",
        "profile/_details.html",
        status=422,
        profile_form=form,
        password_form=ChangePasswordForm(),
    )


@profile.post("/password")
@login_required
@password_checks
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        problem = problem_with(
            form.new_password.data, email=current_user.email, name=current_user.name
        )
        if problem:
            form.new_password.errors.append(problem)
        else:
            try:
                accounts.change_password(
                    current_user,
                    form.current_password.data,
                    form.new_password.data,
                    keep=current.current_session(),
                    origin=request_origin(),
                )
            except accounts.AccountError as error:
                form.current_password.errors.append(str(error))
            else:
                return _saved(
                    "profile/_password.html",
                    "Your password is changed. Your other sessions were signed out.",
                )
    return render_page_or_fragment(
        "profile/account.html",
        "profile/_password.html",
        status=422,
        profile_form=ProfileForm(obj=current_user),
        password_form=form,
    )


def _saved(fragment: str, message: str):
    """htmx gets the panel back with the notice; a plain form post gets the page again."""
    if wants_fragment():
        return render_page_or_fragment(
            "profile/account.html",
            fragment,
            notice=message,
            profile_form=ProfileForm(obj=current_user),
            password_form=ChangePasswordForm(),
        )
    flash(message, "success")
    return redirect(url_for("profile.account"), code=303)


# --- the Security page ------------------------------------------------------------------
#
# The two-step area (#two-step-area) is one fragment re-rendered whole for each state:
# off, asking for the password, enrolling (QR and key), showing new recovery codes, on,
# and the open forms for a new phone or turning it off. Sessions and recent activity are
# panels of their own.

OPEN_FORMS = {"device", "turn-off", "regenerate"}


def _two_step_context(*, open_form: str | None = None, **forms) -> dict:
    user = current_user
    row = current.current_session()
    fresh = sessions.password_is_fresh(row)
    context: dict = {
        "open_form": open_form if open_form in OPEN_FORMS else None,
        "password_fresh": fresh,
        "may_turn_off": policy.may_turn_off_two_step(user),
        "password_form": forms.get("password_form") or ConfirmPasswordForm(),
        "enrol_form": forms.get("enrol_form") or EnrolmentCodeForm(),
        "saved_form": forms.get("saved_form") or CodesSavedForm(),
        "guard_form": forms.get("guard_form") or PasswordAndCodeForm(),
        "regenerate_form": forms.get("regenerate_form") or RegenerateCodesForm(),
        "notice": forms.get("notice"),
        "notice_kind": forms.get("notice_kind", "success"),
        "enrolment": None,
        "unsaved_codes": None,
        "codes_left": 0,
        "codes_used": [],
        "asking_password": forms.get("asking_password", False),
    }
    secret = two_step.pending_secret(user)
    if secret is not None and fresh:
        account = user.email
        issuer = _issuer()
        uri = totp.provisioning_uri(secret, account=account, issuer=issuer)
        context["enrolment"] = {
            "qr_svg": totp.qr_svg(uri),
            "key": totp.grouped(secret),
            "account": account,
            "issuer": issuer,
            "device_change": user.two_step_enabled,
        }
    elif secret is not None:
        context["asking_password"] = True
    if user.two_step_enabled:
        unsaved = recovery_codes.unsaved(user)
        if unsaved is not None and fresh:
            context["unsaved_codes"] = unsaved
        elif unsaved is not None:
            context["codes_unsaved_hidden"] = True
        context["codes_left"] = recovery_codes.remaining(user)
        context["codes_used"] = recovery_codes.used(user)
    return context


def _issuer() -> str:
    company = first_run.company()
    return company.name if company else "Employee portal"


def _security_page_context() -> dict:
    row = current.current_session()
    return {
        "sessions": sessions.active_for(current_user),
        "this_session_id": row.id if row else None,
        "events": audit.recent_for(current_user, 20),
        "end_form": EmptyForm(),
    }


def _two_step_response(status: int = 200, **forms):
    """The two-step area for htmx, the whole Security page otherwise."""
    forms.setdefault("notice_kind", "warning" if status >= 400 else "success")
    if wants_fragment():
        response = render_page_or_fragment(
            "profile/security.html",
            "profile/_two_step.html",
            status=status,
            **_two_step_context(**forms),
        )
    else:
        response = make_response(
            render_template(
                "profile/security.html", **_two_step_context(**forms), **_security_page_context()
            ),
            status,
        )
        response.vary.add("HX-Request")
    if status < 400:
        # Other panels (activity, sessions) refresh themselves when this event fires.
        response.headers["HX-Trigger"] = "security-changed"
    return response


@profile.get("/security")
@login_required
def security():
    open_form = request.args.get("open")
    context = _two_step_context(open_form=open_form)
    if wants_fragment():
        return render_page_or_fragment("profile/security.html", "profile/_two_step.html", **context)
    return render_template("profile/security.html", **context, **_security_page_context())


@profile.post("/security/enable")
@login_required
@password_checks
def enable_two_step():
    """Confirms the password when it is not fresh, then starts enrolment with a new
    secret; when there is something to continue (an enrolment, unsaved codes) the fresh
    password just shows it again."""
    row = current.current_session()
    if not sessions.password_is_fresh(row):
        form = ConfirmPasswordForm()
        if "password" not in request.form:
            return _two_step_response(asking_password=True)
        if not form.validate_on_submit():
            return _two_step_response(422, password_form=form, asking_password=True)
        if not accounts.verify_password(current_user, form.password.data):
            audit.record(audit.PASSWORD_CONFIRM_FAILED, origin=request_origin(), actor=current_user)
            db.session.commit()
            form.password.errors.append("The password is not right.")
            return _two_step_response(422, password_form=form, asking_password=True)
        sessions.confirm_password(row)
        db.session.commit()
        if current_user.two_step_enabled or two_step.pending_secret(current_user) is not None:
            return _two_step_response()
    elif not EmptyForm().validate_on_submit():
        abort(400)
    if current_user.two_step_enabled:
        return _two_step_response(409, notice="Two-step authentication is on already.")
    two_step.start_enrolment(current_user)
    return _two_step_response()


@profile.post("/security/confirm")
@login_required
def confirm_two_step():
    form = EnrolmentCodeForm()
    if not sessions.password_is_fresh(current.current_session()):
        return _two_step_response(
            403, asking_password=True, notice="For your safety, confirm your password again."
        )
    if two_step.pending_secret(current_user) is None:
        return _two_step_response(
            409,
            notice="There is no setup in progress, or it expired. Choose Enable to start again.",
        )
    if not form.validate_on_submit():
        return _two_step_response(422, enrol_form=form)
    outcome = two_step.confirm_enrolment(
        current_user, form.code.data, request_origin(), current.current_session()
    )
    if not outcome.ok:
        form.code.errors.append(outcome.message)
        return _two_step_response(422, enrol_form=form)
    if outcome.codes:
        return _two_step_response(
            notice="Two-step authentication is on. One more step: save your recovery codes."
        )
    return _two_step_response(
        notice="Your new device is set up. Codes from the old one no longer work, and your other sessions were signed out."
    )


@profile.post("/security/cancel")
@login_required
def cancel_enrolment():
    if not EmptyForm().validate_on_submit():
        abort(400)
    two_step.cancel_enrolment(current_user)
    message = (
        "The device change was cancelled; your current app keeps working."
        if current_user.two_step_enabled
        else "Setup was cancelled. Nothing changed."
    )
    return _two_step_response(notice=message)


@profile.post("/security/codes-saved")
@login_required
def codes_saved():
    form = CodesSavedForm()
    if recovery_codes.unsaved(current_user) is None:
        return _two_step_response(notice="Your recovery codes are saved already.")
    if not form.validate_on_submit():
        return _two_step_response(422, saved_form=form)
    two_step.confirm_codes_saved(current_user)
    return _two_step_response(
        notice="All set. Keep the recovery codes somewhere other than your phone."
    )


@profile.get("/security/recovery-codes.txt")
@login_required
def download_recovery_codes():
    codes = recovery_codes.unsaved(current_user)
    if codes is None or not sessions.password_is_fresh(current.current_session()):
        abort(404)
    text = render_template("profile/recovery_codes.txt", codes=codes)
    response = make_response(text)
    response.mimetype = "text/plain"
    response.headers["Content-Disposition"] = 'attachment; filename="recovery-codes.txt"'
    return response


def _guarded_change(action, form, *, open_form: str, form_key: str, done: str | None = None):
    """A change that needs the password and a code: the form again with its errors, or
    the two-step area in its new state."""
    if not current_user.two_step_enabled:
        return _two_step_response(
            409, notice="Two-step authentication is off, so there is nothing to change."
        )
    if not form.validate_on_submit():
        return _two_step_response(422, open_form=open_form, **{form_key: form})
    outcome = action(
        current_user,
        form.password.data,
        form.code.data,
        request_origin(),
        current.current_session(),
    )
    if not outcome.ok:
        getattr(form, outcome.field).errors.append(outcome.message)
        status = 429 if outcome.throttled else 422
        return _two_step_response(status, open_form=open_form, **{form_key: form})
    return _two_step_response(notice=done)


@profile.post("/security/device")
@login_required
@password_checks
def change_device():
    return _guarded_change(
        two_step.authorize_device_change,
        PasswordAndCodeForm(),
        open_form="device",
        form_key="guard_form",
    )


@profile.post("/security/turn-off")
@login_required
@password_checks
def turn_off():
    return _guarded_change(
        two_step.turn_off,
        PasswordAndCodeForm(),
        open_form="turn-off",
        form_key="guard_form",
        done="Two-step authentication is off. Your other sessions were signed out.",
    )


@profile.post("/security/recovery-codes")
@login_required
@password_checks
def regenerate_recovery_codes():
    return _guarded_change(
        two_step.regenerate_recovery_codes,
        RegenerateCodesForm(),
        open_form="regenerate",
        form_key="regenerate_form",
        done="New recovery codes are ready; the old ones no longer work.",
    )


# --- sessions and activity panels ------------------------------------------------------


def _panel(fragment: str, notice: str | None = None):
    """htmx gets the panel back with the notice; a plain post goes back to the page."""
    if wants_fragment():
        return render_page_or_fragment(
            "profile/security.html", fragment, notice=notice, **_security_page_context()
        )
    if notice:
        flash(notice, "success")
    return redirect(url_for("profile.security"), code=303)


@profile.get("/security/sessions")
@login_required
def sessions_panel():
    if not wants_fragment():
        return redirect(url_for("profile.security") + "#sessions", code=303)
    return _panel("profile/_sessions.html")


@profile.post("/security/sessions/<int:session_id>/end")
@login_required
def end_session(session_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    this = current.current_session()
    if this is not None and this.id == session_id:
        # Ending this very session is signing out.
        audit.record(audit.SIGN_OUT, origin=request_origin(), actor=current_user)
        current.finish()
        db.session.commit()
        return current.redirect_to(url_for("auth.login"))
    if not sessions.end_one(current_user, session_id):
        abort(404)
    audit.record(audit.SESSION_ENDED, origin=request_origin(), actor=current_user)
    db.session.commit()
    return _panel("profile/_sessions.html", "That session is signed out.")


@profile.post("/security/sessions/end-others")
@login_required
def end_other_sessions():
    if not EmptyForm().validate_on_submit():
        abort(400)
    ended = sessions.end_all_except(current_user, current.current_session())
    audit.record(
        audit.OTHER_SESSIONS_ENDED,
        origin=request_origin(),
        actor=current_user,
        detail=f"{ended} ended",
    )
    db.session.commit()
    return _panel("profile/_sessions.html", f"Signed out everywhere else ({ended} sessions).")


@profile.get("/security/activity")
@login_required
def activity_panel():
    if not wants_fragment():
        return redirect(url_for("profile.security") + "#activity", code=303)
    return _panel("profile/_activity.html")
