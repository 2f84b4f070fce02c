"""The company's security settings: the two-step policy, the preview of its effect, and how
far the employees have come."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from flask import flash, redirect, request, url_for
from flask_login import current_user

from portal import clock
from portal.admin.blueprint import admin, admin_required
from portal.admin.forms import NotificationSettingsForm, SecuritySettingsForm, TestMailForm
from portal.services import mail, notifications, policy, remembered_browsers
from portal.web import done, render_page_or_fragment, request_origin, wants_fragment
from portal.wording import plural

PAGE = "admin/security_settings.html"
NOTIFICATIONS_PANEL = "admin/_notification_settings.html"


@admin.route("/security", methods=["GET", "POST"])
@admin_required
def security_settings():
    if request.method == "GET":
        return _page(_form_of(policy.current()))
    form = SecuritySettingsForm()
    if not form.validate_on_submit():
        return _page(form, status=422)
    try:
        policy.save_settings(
            mandatory=form.mandatory.data,
            grace_days=form.grace_days_value,
            after_deadline=form.after_deadline.data,
            remember_days=form.remember_days_value,
            by=current_user,
            origin=request_origin(),
        )
    except policy.PolicyError as error:
        return _page(form, status=422, error=str(error))
    message = "Security settings saved."
    if wants_fragment():
        return _page(_form_of(policy.current()), notice=message)
    flash(message, "success")
    return redirect(url_for("admin.security_settings"), code=303)


@admin.post("/security/preview")
@admin_required
def security_settings_preview():
    """What saving the form would do, without saving: the preview panel for htmx, the
    whole page (with the form as typed) for the Preview button without JavaScript."""
    form = SecuritySettingsForm()
    valid = form.validate_on_submit()
    return render_page_or_fragment(
        PAGE,
        "admin/_policy_preview.html",
        status=200 if valid else 422,
        **_context(form, previewing=True),
    )


def _form_of(saved: policy.CompanyPolicy) -> SecuritySettingsForm:
    return SecuritySettingsForm(
        formdata=None,
        data={
            "mandatory": saved.mandatory,
            "grace_days": str(saved.grace_days),
            "after_deadline": saved.after_deadline,
            "remember_days": str(saved.remember_days),
        },
    )


def _page(form: SecuritySettingsForm, *, status: int = 200, **panel):
    return render_page_or_fragment(
        PAGE,
        "admin/_security_settings_swap.html",
        status=status,
        **_context(form),
        **panel,
    )


def _context(form: SecuritySettingsForm, *, previewing: bool = False) -> dict:
    saved = policy.current()
    adoption = policy.adoption(saved)
    # The preview follows the form as typed; while the form has errors, it says so.
    preview = None
    if not form.errors:
        preview = policy.preview(
            mandatory=bool(form.mandatory.data), grace_days=form.grace_days_value
        )
    return {
        "form": form,
        "saved": saved,
        "preview": preview,
        "previewing": previewing,
        "remember_days": None if form.errors else form.remember_days_value,
        "remembered_now": remembered_browsers.count_all(),
        # Turning it on needs the administrator's own two-step; keeping it on does not.
        "may_turn_on": saved.mandatory or current_user.two_step_enabled,
        "adoption": adoption,
        "chart": adoption_chart(adoption, clock.now()),
        **_notification_panel(),
    }


# --- notifications and mail ------------------------------------------------------------


def _notification_panel(form: NotificationSettingsForm | None = None) -> dict:
    return {
        "notification_form": form
        or NotificationSettingsForm(
            formdata=None,
            data={"sign_in_codes": "on" if notifications.sign_in_codes_on() else "off"},
        ),
        "test_mail_form": TestMailForm(),
        "mail_configured": mail.configured(),
        "mail_waiting": mail.waiting(),
    }


def _policy_context() -> dict:
    """The rest of the settings page, around the notifications panel."""
    context = _context(_form_of(policy.current()))
    for key in _notification_panel():
        context.pop(key)
    return context


def _notification_settings_page(status: int, **panel):
    return render_page_or_fragment(
        PAGE,
        NOTIFICATIONS_PANEL,
        status=status,
        page_context=lambda: _policy_context(),
        **{**_notification_panel(), **panel},
    )


@admin.post("/security/notifications")
@admin_required
def notification_settings():
    form = NotificationSettingsForm()
    if not form.validate_on_submit():
        return _notification_settings_page(422, notification_form=form)
    try:
        changed = notifications.save_sign_in_code_option(
            form.enabled, by=current_user, origin=request_origin()
        )
    except notifications.NotificationError as error:
        return _notification_settings_page(422, notification_error=str(error))
    message = "Notification settings saved." if changed else "Nothing to change."
    return done(
        message,
        fragment=NOTIFICATIONS_PANEL,
        redirect_to=url_for("admin.security_settings") + "#notification-settings",
        **_notification_panel(),
    )


@admin.post("/security/test-mail")
@admin_required
def send_test_mail():
    if not TestMailForm().validate_on_submit():
        return _notification_settings_page(
            422, notification_error="This form has expired. Reload the page and try again."
        )
    try:
        mail.send_test(current_user, origin=request_origin())
    except mail.MailError as error:
        return _notification_settings_page(422, notification_error=str(error))
    return done(
        f"A test mail to {current_user.email} is queued; the mail worker sends it within seconds.",
        fragment=NOTIFICATIONS_PANEL,
        redirect_to=url_for("admin.security_settings") + "#notification-settings",
        **_notification_panel(),
    )


# --- the adoption chart ----------------------------------------------------------------

CHART_WIDTH = 600
CHART_HEIGHT = 160


@dataclass(frozen=True)
class AdoptionChart:
    """Coordinates for a step chart in a CHART_WIDTH x CHART_HEIGHT viewBox: one band per
    day from the day it became mandatory to today (or to the deadline, when that is later)."""

    line: str  # polyline points: the count at the end of each day
    area: str  # the same, closed along the bottom
    deadline_x: float | None  # where the grace period ended (or ends)
    first_day: str
    last_day: str
    summary: str


def adoption_chart(adoption: policy.Adoption, now: datetime) -> AdoptionChart | None:
    if not adoption.days or adoption.mandatory_since is None or adoption.deadline is None:
        return None
    first = adoption.days[0].day
    last = max(adoption.days[-1].day, policy.last_day(adoption.deadline))
    bands = (last - first).days + 1
    band = CHART_WIDTH / bands
    top = max(adoption.active, 1)

    def y(count: int) -> float:
        return round(CHART_HEIGHT - count / top * CHART_HEIGHT, 2)

    steps = []
    for index, day in enumerate(adoption.days):
        steps += [
            (round(index * band, 2), y(day.enabled)),
            (round((index + 1) * band, 2), y(day.enabled)),
        ]
    line = " ".join(f"{x},{y_}" for x, y_ in steps)
    right = steps[-1][0]
    area = f"0,{CHART_HEIGHT} {line} {right},{CHART_HEIGHT}"

    start = datetime.combine(first, time(0), UTC)
    deadline_x = None
    if adoption.deadline >= start:
        offset = (adoption.deadline - start) / timedelta(days=1)
        deadline_x = round(min(offset * band, CHART_WIDTH), 2)

    today = adoption.days[-1]
    summary = (
        f"From {first.isoformat()} to {today.day.isoformat()}, employees with two-step "
        f"authentication on went from {adoption.days[0].enabled} to {today.enabled} "
        f"of {plural(adoption.active, 'active employee', 'active employees')}. The grace period "
        f"{'ended' if adoption.deadline <= now else 'ends'} "
        f"{adoption.deadline.strftime('%Y-%m-%d %H:%M UTC')}."
    )
    return AdoptionChart(
        line=line,
        area=area,
        deadline_x=deadline_x,
        first_day=first.isoformat(),
        last_day=last.isoformat(),
        summary=summary,
    )
