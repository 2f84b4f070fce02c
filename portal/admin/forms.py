"""Forms of the administration pages."""

from wtforms import BooleanField, DateField, EmailField, RadioField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError
from wtforms.widgets import NumberInput

from portal.forms import EMAIL_PATTERN, PortalForm, printable
from portal.models import (
    AFTER_DEADLINE_REFUSE,
    AFTER_DEADLINE_SETUP,
    MAX_GRACE_DAYS,
    MAX_REMEMBER_DAYS,
    ROLE_ADMIN,
    ROLE_EMPLOYEE,
)
from portal.services.policy import MAX_PAUSE_DAYS


class AddEmployeeForm(PortalForm):
    name = StringField(
        "Full name",
        validators=[DataRequired("Enter the employee's name."), Length(max=120), printable],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        render_kw={"autocomplete": "off"},
    )
    email = EmailField(
        "Work email",
        validators=[
            DataRequired("Enter the employee's email."),
            Length(max=254),
            EMAIL_PATTERN,
            printable,
        ],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"},
    )
    role = SelectField(
        "Role",
        choices=[
            SelectChoice(ROLE_EMPLOYEE, "Employee"),
            SelectChoice(ROLE_ADMIN, "Administrator"),
        ],
        default=ROLE_EMPLOYEE,
        invalid_choice_message="Choose Employee or Administrator.",
    )


class ResetTwoStepForm(PortalForm):
    reason = StringField(
        "Reason",
        validators=[
            DataRequired("Say why, for example “lost phone and recovery codes”; it is recorded."),
            Length(max=300),
            printable,
        ],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        render_kw={"autocomplete": "off"},
    )


GRACE_DAYS_MESSAGE = (
    f"Enter the grace period as a whole number of days, from 0 to {MAX_GRACE_DAYS}."
)


def _whole_days(form, field) -> None:
    text = field.data or ""
    if not (text.isascii() and text.isdigit() and len(text) <= 3 and int(text) <= MAX_GRACE_DAYS):
        raise ValidationError(GRACE_DAYS_MESSAGE)


REMEMBER_DAYS_MESSAGE = (
    f"Enter how long to remember a browser as a whole number of days, from 0 to "
    f"{MAX_REMEMBER_DAYS} (0 turns it off)."
)


def _remember_days(form, field) -> None:
    text = field.data or ""
    if text and not (
        text.isascii() and text.isdigit() and len(text) <= 3 and int(text) <= MAX_REMEMBER_DAYS
    ):
        raise ValidationError(REMEMBER_DAYS_MESSAGE)


class SecuritySettingsForm(PortalForm):
    """The company's two-step policy; also what the live preview posts."""

    mandatory = BooleanField("Mandatory for all employees")
    grace_days = StringField(
        "Grace period",
        validators=[
            DataRequired(GRACE_DAYS_MESSAGE),
            _whole_days,
        ],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        widget=NumberInput(min=0, max=MAX_GRACE_DAYS, step=1),
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    after_deadline = RadioField(
        "After the deadline",
        choices=[
            SelectChoice(AFTER_DEADLINE_REFUSE, "Refuse sign-in"),
            SelectChoice(AFTER_DEADLINE_SETUP, "Require set-up right after the password"),
        ],
        default=AFTER_DEADLINE_REFUSE,
        invalid_choice_message="Choose what happens after the deadline.",
    )
    # Left empty, it is 0: browsers are not remembered.
    remember_days = StringField(
        "Remember a browser for",
        validators=[_remember_days],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        widget=NumberInput(min=0, max=MAX_REMEMBER_DAYS, step=1),
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )

    @property
    def grace_days_value(self) -> int:
        """The grace period in days; only after the form validated."""
        return int(self.grace_days.data)

    @property
    def remember_days_value(self) -> int:
        """How many days a browser may be remembered, 0 when off; only after the form
        validated."""
        return int(self.remember_days.data or 0)


def _pause_days(form, field) -> None:
    text = (field.data or "").strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 3 and int(text) <= MAX_PAUSE_DAYS):
        raise ValidationError(f"Enter a whole number of days from 0 to {MAX_PAUSE_DAYS}.")


class PauseTwoStepForm(PortalForm):
    days = StringField(
        "Pause for how many days",
        validators=[
            DataRequired(f"Enter a number of days from 0 to {MAX_PAUSE_DAYS}."),
            _pause_days,
        ],
        widget=NumberInput(min=0, max=MAX_PAUSE_DAYS),
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )

    @property
    def days_value(self) -> int:
        return int(self.days.data.strip())


class ExtendDeadlineForm(PortalForm):
    until = DateField(
        "New last day",
        validators=[InputRequired("Choose the last day to set it up, such as 2026-12-31.")],
        invalid_value_message="Enter a date such as 2026-12-31.",
        render_kw={"autocomplete": "off"},
    )


class NotificationSettingsForm(PortalForm):
    """Where the sign-in code goes: the company's notifications option. A choice rather
    than a checkbox, so that a form that says nothing changes nothing."""

    sign_in_codes = RadioField(
        "Send authentication code to Notifications",
        choices=[SelectChoice("on", "On"), SelectChoice("off", "Off")],
        invalid_choice_message="Choose on or off.",
    )

    @property
    def enabled(self) -> bool:
        return self.sign_in_codes.data == "on"


class TestMailForm(PortalForm):
    """ "Send a test mail": a button and its token."""
