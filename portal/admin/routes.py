"""Administration: the employees list and one employee's page."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user

from portal.admin.blueprint import EMPLOYEE, admin, admin_required
from portal.admin.forms import (
    AddEmployeeForm,
    ExtendDeadlineForm,
    PauseTwoStepForm,
    ResetTwoStepForm,
)
from portal.models import User
from portal.services import activity, policy, two_step
from portal.services import employees as employee_service
from portal.services.accounts import AccountError
from portal.web import done, render_page_or_fragment, request_origin, wants_fragment
from portal.wording import plural


def _page_number() -> int:
    """The ?page= argument; anything that is not a whole number counts as the first page."""
    raw = request.args.get("page", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 else 1


@admin.get("/")
@admin_required
def employees():
    listing = employee_service.listing(
        request.args.get("q", ""), _page_number(), request.args.get("state")
    )
    return render_page_or_fragment(
        "admin/employees.html", "admin/_employee_rows.html", listing=listing
    )


@admin.route("/employees/new", methods=["GET", "POST"])
@admin_required
def add_employee():
    form = AddEmployeeForm()
    if form.validate_on_submit():
        try:
            user, token = employee_service.add(
                name=form.name.data,
                email=form.email.data,
                role=form.role.data,
                by=current_user,
                origin=request_origin(),
            )
        except AccountError as error:
            form.email.errors.append(str(error))
        else:
            # The link is shown in this very response and nowhere else: a redirect would
            # have to carry it through the client-side cookie or keep it on the server.
            return render_page_or_fragment(
                "admin/add_employee.html",
                "admin/_add_employee.html",
                form=AddEmployeeForm(formdata=None),
                added=user,
                link=_link(token),
            )
    status = 422 if request.method == "POST" else 200
    return render_page_or_fragment(
        "admin/add_employee.html", "admin/_add_employee.html", status=status, form=form
    )


@admin.get(EMPLOYEE)
@admin_required
def employee(user_id: int):
    return _employee_page(_employee_or_404(user_id))


@admin.get(EMPLOYEE + "/activity")
@admin_required
def employee_activity(user_id: int):
    """The activity panel with more rows ("Show more"); a browser gets the whole page."""
    user = _employee_or_404(user_id)
    shown = activity.shown_count(request.args.get("shown"))
    if not wants_fragment():
        page = url_for("admin.employee", user_id=user.id, activity=shown)
        return redirect(page + "#employee-events", code=303)
    return render_template("admin/_employee_events.html", **_employee_context(user, shown=shown))


# What each destructive action asks before it acts: a confirmation page without
# JavaScript, a dialog in the page with it (static/admin.js reads the same words).
CONFIRMATIONS = {
    "deactivate": (
        "Deactivate {name}?",
        "They are signed out everywhere at once and cannot sign in until an administrator "
        "lets them in again.",
        "Deactivate",
    ),
    "reset_password": (
        "Reset {name}'s password?",
        "Their current password stops working at once, they are signed out everywhere, and "
        "you get a new link to hand over.",
        "Reset password",
    ),
    "reset_two_step": (
        "Reset {name}'s two-step authentication?",
        "Their authenticator app and recovery codes stop working at once, they are signed out "
        "everywhere, and they set it up again after their next sign-in.",
        "Reset two-step authentication",
    ),
}


def _confirmed() -> bool:
    return request.method == "POST" and request.form.get("confirmed") == "yes"


def _confirmation(user: User, action: str, **context):
    """The question before a destructive action: the whole page without JavaScript, in
    place of the access panel for an htmx post. Nothing has changed yet."""
    title, consequence, button = CONFIRMATIONS[action]
    # A first click sends no answer at all; an answer other than yes is not one.
    unreadable = request.method == "POST" and "confirmed" in request.form
    return render_page_or_fragment(
        "admin/confirm.html",
        "admin/_confirm.html",
        status=422 if unreadable else 200,
        error=f"Nothing was done. Press “{button}” to go ahead." if unreadable else None,
        employee=user,
        title=title.format(name=user.name),
        consequence=consequence,
        button=button,
        action=url_for(f"admin.{action}", user_id=user.id),
        **context,
    )


@admin.route(EMPLOYEE + "/deactivate", methods=["GET", "POST"])
@admin_required
def deactivate(user_id: int):
    user = _employee_or_404(user_id)
    if not _confirmed():
        return _confirmation(user, "deactivate")
    return _employee_action(
        user,
        lambda user: employee_service.deactivate(user, by=current_user, origin=request_origin()),
        "{name} is deactivated and was signed out everywhere.",
    )


@admin.post(EMPLOYEE + "/reactivate")
@admin_required
def reactivate(user_id: int):
    return _employee_action(
        _employee_or_404(user_id),
        lambda user: employee_service.reactivate(user, by=current_user, origin=request_origin()),
        "{name} can sign in again.",
    )


@admin.route(EMPLOYEE + "/reset-password", methods=["GET", "POST"])
@admin_required
def reset_password(user_id: int):
    user = _employee_or_404(user_id)
    # A first invitation link replaces nothing that works, so it needs no question.
    if employee_service.has_set_password(user) and not _confirmed():
        return _confirmation(user, "reset_password")
    if request.method != "POST":
        return redirect(url_for("admin.employee", user_id=user.id), code=303)
    try:
        token = employee_service.reset_password(user, by=current_user, origin=request_origin())
    except AccountError as error:
        return _employee_page(user, status=422, error=str(error))
    # Shown once, in this response (see add_employee).
    return _employee_page(user, link=_link(token))


@admin.route(EMPLOYEE + "/reset-two-step", methods=["GET", "POST"])
@admin_required
def reset_two_step(user_id: int):
    user = _employee_or_404(user_id)
    if request.method == "GET":
        return _confirmation(user, "reset_two_step", form=ResetTwoStepForm(formdata=None))
    form = ResetTwoStepForm()
    reason = form.reason.data if form.validate_on_submit() else None
    if reason and not _confirmed():
        return _confirmation(user, "reset_two_step", form=form)
    return _employee_action(
        user,
        lambda user: employee_service.reset_two_step(
            user, by=current_user, origin=request_origin(), reason=reason
        ),
        _after_reset_message(user),
        reset_form=form,
    )


def _after_reset_message(user: User) -> str:
    """What the reset really leads to, which depends on the company's policy."""
    said = (
        "Two-step authentication is reset for {name}, who was signed out everywhere. "
        "At their next sign-in with their password they are asked to set it up again"
    )
    rules = policy.current()
    deadline = policy.deadline_after_reset(user, rules)
    if deadline is None:
        return said + (
            "; the company does not require it, so until they do, their password alone "
            "signs them in."
        )
    return said + f", by the end of {policy.last_day(deadline):%-d %B %Y} (UTC)."


@admin.post(EMPLOYEE + "/unlock-two-step")
@admin_required
def unlock_two_step(user_id: int):
    return _employee_action(
        _employee_or_404(user_id),
        lambda user: employee_service.unlock_two_step(
            user, by=current_user, origin=request_origin()
        ),
        "{name} can type codes again now.",
    )


@admin.post(EMPLOYEE + "/pause-two-step")
@admin_required
def pause_two_step(user_id: int):
    user = _employee_or_404(user_id)
    form = PauseTwoStepForm()
    if not form.validate_on_submit():
        return _employee_page(user, status=422, pause_form=form, error=_first_error(form))
    days = form.days_value
    return _employee_action(
        user,
        lambda user: policy.pause(user, days=days, by=current_user, origin=request_origin()),
        "{name} signs in without the code "
        + (
            f"for {plural(days, 'day', 'days')}; it is asked again after that."
            if days
            else "until you resume it."
        ),
        pause_form=form,
    )


@admin.post(EMPLOYEE + "/resume-two-step")
@admin_required
def resume_two_step(user_id: int):
    return _employee_action(
        _employee_or_404(user_id),
        lambda user: policy.resume(user, by=current_user, origin=request_origin()),
        "{name} is asked for the code again from their next sign-in.",
    )


@admin.post(EMPLOYEE + "/extend-deadline")
@admin_required
def extend_deadline(user_id: int):
    user = _employee_or_404(user_id)
    form = ExtendDeadlineForm()
    if not form.validate_on_submit():
        return _employee_page(user, status=422, extend_form=form, error=_first_error(form))
    until = form.until.data
    return _employee_action(
        user,
        lambda user: policy.extend(user, until=until, by=current_user, origin=request_origin()),
        "{name} has until the end of " + f"{until:%-d %B %Y} to set up two-step authentication.",
        extend_form=form,
    )


def _employee_action(user: User, action: Callable[[User], object], success: str, **forms):
    """A change on the employee page: the access panel with its notice, or with its error
    and the form that was sent."""
    try:
        action(user)
    except employee_service.ReasonNeeded:
        return _employee_page(user, status=422, **forms)
    except (AccountError, policy.PolicyError) as error:
        return _employee_page(user, status=422, error=str(error), **forms)
    return done(
        success.format(name=user.name),
        fragment="admin/_employee_access_swap.html",
        redirect_to=url_for("admin.employee", user_id=user.id),
        **_employee_context(user),
    )


def _employee_context(user: User, *, shown: int | None = None, **forms) -> dict:
    rules = policy.current()
    if shown is None:
        shown = activity.shown_count(request.args.get("activity"))
    return {
        "employee": user,
        "open_link": employee_service.open_link(user),
        "has_set_password": employee_service.has_set_password(user),
        "activity": activity.for_person(user, audience=activity.ADMIN, shown=shown),
        "standing": policy.standing_for(user, rules),
        "locked_until": two_step.locked_until(user),
        "confirmations": {
            action: (title.format(name=user.name), consequence, button)
            for action, (title, consequence, button) in CONFIRMATIONS.items()
        },
        "mandatory": rules.mandatory,
        "reset_form": forms.get("reset_form") or ResetTwoStepForm(formdata=None),
        "pause_form": forms.get("pause_form") or PauseTwoStepForm(formdata=None),
        "extend_form": forms.get("extend_form") or ExtendDeadlineForm(formdata=None),
    }


def _employee_page(user: User, *, status: int = 200, **panel):
    forms = {key: panel.pop(key) for key in list(panel) if key.endswith("_form")}
    return render_page_or_fragment(
        "admin/employee.html",
        "admin/_employee_access_swap.html",
        status=status,
        **_employee_context(user, **forms),
        **panel,
    )


def _first_error(form) -> str:
    """The form's first problem, said at the top of the panel too: the form itself is shown
    only to employees it applies to."""
    for errors in form.errors.values():
        if errors:
            return str(errors[0])
    return "Check the form and try again."


def _employee_or_404(user_id: int) -> User:
    user = employee_service.get(user_id)
    if user is None:
        abort(404)
    return user


def _link(token: str) -> str:
    return url_for("auth.accept_invitation", token=token, _external=True)
