"""The Security page: the two-step area (turn on, recovery codes, a new phone, turn off),
where the employee is signed in, and recent security activity.

Every change in the two-step area answers with the area in its new state (htmx) or a 303
back to the page (a plain form post); other panels refresh on the ``security-changed``
event that a successful change sends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal.auth import current
from portal.profile import two_step_area
from portal.profile.blueprint import password_checks, profile
from portal.profile.forms import (
    CodesSavedForm,
    ConfirmPasswordForm,
    EnrolmentCodeForm,
    PasswordAndCodeForm,
    RegenerateCodesForm,
    ShowCodesForm,
)
from portal.services import (
    accounts,
    activity,
    policy,
    recovery_codes,
    remembered_browsers,
    sessions,
    two_step,
)
from portal.web import done, render_page_or_fragment, request_origin, wants_fragment
from portal.wording import plural

SECURITY_PAGE = "profile/security.html"
TWO_STEP_AREA = "profile/_two_step.html"
CHANGED = "security-changed"


def _panels_context() -> dict[str, Any]:
    """The page's other panels: sessions and recent activity; none while the employee
    may reach only the set-up."""
    if current.confined_to_set_up():
        return {"confined": True}
    row = current.current_session()
    return {
        "sessions": sessions.active_for(current_user),
        "this_session_id": row.id if row else None,
        "activity": activity.for_person(
            current_user, shown=activity.shown_count(request.args.get("activity"))
        ),
        **_remembered_context(),
    }


def _remembered_context() -> dict[str, Any]:
    """The remembered browsers panel: drawn while the company allows remembering and the
    employee has two-step on (or still has a remembered browser to forget)."""
    remembered = remembered_browsers.remembered_for(current_user)
    this_browser = remembered_browsers.owned_by(current_user, current.remembered_token())
    days = remembered_browsers.days_allowed()
    return {
        "remembered": remembered,
        "remember_days": days,
        "shows_remembered": bool(remembered) or (days > 0 and current_user.two_step_enabled),
        "this_browser_id": this_browser.id if this_browser else None,
    }


def _area_context(
    *, open_form: str | None = None, asking_password: bool = False, **forms: Any
) -> dict[str, Any]:
    area = two_step_area.build(
        current_user,
        current.current_session(),
        open_form=open_form,
        asking_password=asking_password,
    )
    return {
        "area": area,
        **{
            name: forms.get(name) or _EmptyForm(form_class)
            for name, form_class in _AREA_FORMS.items()
        },
        "wait_seconds": two_step.seconds_to_wait(current_user),
    }


_AREA_FORMS: dict[str, type] = {
    "password_form": ConfirmPasswordForm,
    "enrol_form": EnrolmentCodeForm,
    "saved_form": CodesSavedForm,
    "guard_form": PasswordAndCodeForm,
    "regenerate_form": RegenerateCodesForm,
    "show_codes_form": ShowCodesForm,
}


class _EmptyForm:
    """A blank form of the area, built when the template first reads it: each state of
    the area draws one or two of them, and building a form (fields, CSRF) costs."""

    def __init__(self, form_class: type) -> None:
        self._form_class = form_class
        self._form: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._form is None:
            self._form = self._form_class(formdata=None)
        return getattr(self._form, name)


def _two_step_area(
    status: int = 200,
    *,
    notice: str | None = None,
    open_form: str | None = None,
    asking_password: bool = False,
    **forms: Any,
):
    """The two-step area as it stands (a form with its errors, or a step to take), as a
    panel for htmx or within the whole page."""
    return render_page_or_fragment(
        SECURITY_PAGE,
        TWO_STEP_AREA,
        status=status,
        page_context=_panels_context,
        notice=notice,
        notice_kind="warning" if status >= 400 else "success",
        **_area_context(open_form=open_form, asking_password=asking_password, **forms),
    )


def _two_step_done(message: str | None):
    """A change went through: the area in its new state, and the other panels refresh."""
    return done(
        message,
        fragment=TWO_STEP_AREA,
        redirect_to=url_for("profile.security"),
        trigger=CHANGED,
        notice_kind="success",
        **_area_context(),
    )


@profile.get("/security")
@login_required
def security():
    return _two_step_area(open_form=request.args.get("open"))


@profile.post("/security/enable")
@login_required
@password_checks
def enable_two_step():
    """Confirms the password when it is not fresh, then starts enrolment with a new
    secret; when there is something to continue the fresh password leads back to it (an
    enrolment is shown again; unsaved codes still ask for an app code as well)."""
    row = current.current_session()
    if not sessions.password_is_fresh(row):
        if "password" not in request.form:
            return _two_step_area(asking_password=True)
        form = ConfirmPasswordForm()
        if not form.validate_on_submit():
            return _two_step_area(422, password_form=form, asking_password=True)
        if not accounts.confirm_password(current_user, form.password.data, row, request_origin()):
            form.password.errors.append("The password is not right.")
            return _two_step_area(422, password_form=form, asking_password=True)
        if current_user.two_step_enabled or two_step.pending_secret(current_user) is not None:
            return _two_step_done(None)
    if current_user.two_step_enabled:
        return _two_step_area(409, notice="Two-step authentication is on already.")
    two_step.start_enrolment(current_user)
    return _two_step_done(None)


@profile.post("/security/confirm")
@login_required
def confirm_two_step():
    form = EnrolmentCodeForm()
    if not sessions.password_is_fresh(current.current_session()):
        return _two_step_area(
            403, asking_password=True, notice="For your safety, confirm your password again."
        )
    if two_step.pending_secret(current_user) is None:
        return _two_step_area(
            409,
            notice="There is no setup in progress, or it expired. Choose Enable to start again.",
        )
    if not form.validate_on_submit():
        return _two_step_area(422, enrol_form=form)
    outcome = two_step.confirm_enrolment(
        current_user, form.code.data, request_origin(), current.current_session()
    )
    if not outcome.ok:
        form.code.errors.append(outcome.message)
        return _two_step_area(422, enrol_form=form)
    if outcome.codes:
        return _two_step_done(
            "Two-step authentication is on. Your other sessions were signed out. "
            "One more step: save your recovery codes."
        )
    return _two_step_done(
        "Your new device is set up. Codes from the old one no longer work, "
        "and your other sessions were signed out."
    )


@profile.post("/security/cancel")
@login_required
def cancel_enrolment():
    two_step.cancel_enrolment(current_user)
    if current_user.two_step_enabled:
        return _two_step_done("The device change was cancelled; your current app keeps working.")
    return _two_step_done("Setup was cancelled. Nothing changed.")


@profile.post("/security/codes-saved")
@login_required
def codes_saved():
    form = CodesSavedForm()
    if recovery_codes.unsaved(current_user) is None:
        return _two_step_done("Your recovery codes are saved already.")
    if not form.validate_on_submit():
        return _two_step_area(422, saved_form=form)
    two_step.confirm_codes_saved(current_user)
    return _two_step_done("All set. Keep the recovery codes somewhere other than your phone.")


@profile.get("/security/recovery-codes.txt")
@login_required
def download_recovery_codes():
    codes = recovery_codes.unsaved_shown_to(current_user, current.current_session())
    if codes is None:
        abort(404)
    response = make_response(render_template("profile/recovery_codes.txt", codes=codes))
    response.mimetype = "text/plain"
    response.headers["Content-Disposition"] = 'attachment; filename="recovery-codes.txt"'
    return response


GuardedChange = Callable[..., two_step.Outcome]


def _guarded_change(
    change: GuardedChange,
    form,
    *,
    open_form: str | None,
    form_key: str,
    message: str | None = None,
):
    """A change that needs the password and a code: the form again with its errors, or
    the two-step area in its new state."""
    if not current_user.two_step_enabled:
        return _two_step_area(
            409, notice="Two-step authentication is off, so there is nothing to change."
        )
    if not form.validate_on_submit():
        return _two_step_area(422, open_form=open_form, **{form_key: form})
    outcome = change(
        current_user,
        form.password.data,
        form.code.data,
        request_origin(),
        current.current_session(),
    )
    if not outcome.ok:
        getattr(form, outcome.field).errors.append(outcome.message)
        # A code typed by the employee is never written back into the page.
        form.code.data = ""
        status = 429 if outcome.throttled else 422
        return _two_step_area(status, open_form=open_form, **{form_key: form})
    return _two_step_done(message)


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
    if current_user.two_step_enabled and not policy.may_turn_off_two_step(current_user):
        # Said in the area: the turn-off form is not drawn while the company requires it.
        return _two_step_area(
            422,
            notice="Your company requires two-step authentication, so it cannot be turned off.",
        )
    return _guarded_change(
        two_step.turn_off,
        PasswordAndCodeForm(),
        open_form="turn-off",
        form_key="guard_form",
        message="Two-step authentication is off. Your other sessions were signed out.",
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
        message="New recovery codes are ready; the old ones no longer work.",
    )


@profile.post("/security/recovery-codes/show")
@login_required
@password_checks
def show_recovery_codes():
    if recovery_codes.unsaved(current_user) is None:
        return _two_step_done("Your recovery codes are saved already.")
    return _guarded_change(
        two_step.show_unsaved_recovery_codes,
        ShowCodesForm(),
        open_form=None,
        form_key="show_codes_form",
        message="Here are your recovery codes again. Save them, then confirm below.",
    )


# --- sessions and activity panels ------------------------------------------------------


def _sessions_done(message: str):
    return done(
        message,
        fragment="profile/_sessions.html",
        redirect_to=url_for("profile.security") + "#sessions",
        **_panels_context(),
    )


@profile.get("/security/sessions")
@login_required
def sessions_panel():
    if not wants_fragment():
        return redirect(url_for("profile.security") + "#sessions", code=303)
    return render_template("profile/_sessions.html", **_panels_context())


@profile.post("/security/sessions/<int:session_id>/end")
@login_required
def end_session(session_id: int):
    this = current.current_session()
    if this is not None and this.id == session_id:
        # Ending this very session is signing out.
        current.finish(request_origin())
        return current.redirect_to(url_for("auth.login"))
    if not sessions.end_other(current_user, session_id, request_origin()):
        abort(404)
    return _sessions_done("That session is signed out.")


@profile.post("/security/sessions/end-others")
@login_required
def end_other_sessions():
    ended = sessions.sign_out_everywhere_else(
        current_user, current.current_session(), request_origin()
    )
    return _sessions_done(f"Signed out everywhere else ({plural(ended, 'session', 'sessions')}).")


@profile.get("/security/activity")
@login_required
def activity_panel():
    """The activity panel again, with ``?shown=`` entries ("Show more")."""
    shown = activity.shown_count(request.args.get("shown"))
    if not wants_fragment():
        return redirect(url_for("profile.security", activity=shown) + "#activity", code=303)
    page = activity.for_person(current_user, shown=shown)
    return render_template("profile/_activity.html", activity=page)


# --- remembered browsers panel -------------------------------------------------------

REMEMBERED_PANEL = "profile/_remembered_browsers.html"


def _remembered_done(message: str):
    return done(
        message,
        fragment=REMEMBERED_PANEL,
        redirect_to=url_for("profile.security") + "#remembered-browsers",
        trigger=CHANGED,
        **_remembered_context(),
    )


@profile.get("/security/remembered-browsers")
@login_required
def remembered_browsers_panel():
    if not wants_fragment():
        return redirect(url_for("profile.security") + "#remembered-browsers", code=303)
    return render_template(REMEMBERED_PANEL, **_remembered_context())


@profile.post("/security/remembered-browsers/<int:browser_id>/forget")
@login_required
def forget_remembered_browser(browser_id: int):
    this_browser = remembered_browsers.owned_by(current_user, current.remembered_token())
    if not remembered_browsers.forget(current_user, browser_id, request_origin()):
        abort(404)
    if this_browser is not None and this_browser.id == browser_id:
        current.forget_browser_cookie()
    return _remembered_done("That browser is forgotten: it will ask for the code again.")


@profile.post("/security/remembered-browsers/forget-all")
@login_required
def forget_all_remembered_browsers():
    forgotten = remembered_browsers.forget_all_asked(current_user, request_origin())
    if current.remembered_token():
        current.forget_browser_cookie()
    browsers = plural(forgotten, "browser is", "browsers are")
    return _remembered_done(f"{browsers} forgotten: each will ask for the code again.")
