from wtforms import BooleanField, HiddenField
from wtforms.validators import DataRequired, Length

from portal.forms import (
    PortalForm,
    code_field,
    current_password_field,
    email_field,
    new_password_field,
    repeat_password_field,
    secret_code_field,
)


class SignInForm(PortalForm):
    email = email_field(autocomplete="username", autofocus=True)
    password = current_password_field("Password")
    next = HiddenField()


class CodeForm(PortalForm):
    code = code_field(autofocus=True)
    # Shown only where the company allows it; the page names the number of days.
    remember = BooleanField("Remember this browser")


class RecoveryCodeForm(PortalForm):
    code = secret_code_field(
        "Recovery code",
        validators=[DataRequired("Enter one of your recovery codes."), Length(max=40)],
        autocomplete="one-time-code",
        spellcheck="false",
        autocapitalize="none",
        autofocus=True,
    )


class SetPasswordForm(PortalForm):
    password = new_password_field(autofocus=True)
    confirm = repeat_password_field("password")
