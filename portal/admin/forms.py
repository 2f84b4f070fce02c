"""Forms of the administration pages."""

from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField

# types-WTForms still describes WTForms 3.2: SelectChoice and invalid_choice_message came
# in 3.3. warn_unused_ignores says when the stubs catch up and these ignores can go.
from wtforms.fields import SelectChoice  # type: ignore[attr-defined]
from wtforms.validators import DataRequired, Length

from portal.forms import EMAIL_PATTERN, printable
from portal.models import ROLE_ADMIN, ROLE_EMPLOYEE


class AddEmployeeForm(FlaskForm):
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
    role = SelectField(  # type: ignore[call-arg]
        "Role",
        choices=[
            SelectChoice(ROLE_EMPLOYEE, "Employee"),
            SelectChoice(ROLE_ADMIN, "Administrator"),
        ],
        default=ROLE_EMPLOYEE,
        invalid_choice_message="Choose Employee or Administrator.",
    )


class ResetTwoStepForm(FlaskForm):
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
