from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from portal.forms import (
    PortalForm,
    code_field,
    current_password_field,
    email_field,
    new_password_field,
    printable,
    repeat_password_field,
    secret_code_field,
)
from portal.services.passwords import MAX_LENGTH


class ProfileForm(PortalForm):
    name = StringField(
        "Name",
        validators=[DataRequired("Enter your name."), Length(max=120), printable],
        render_kw={"autocomplete": "name"},
    )
    email = email_field()
    # Asked only when the email changes (the service checks it then).
    password = PasswordField(
        "Current password",
        validators=[Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )


class ChangePasswordForm(PortalForm):
    current_password = current_password_field("Current password")
    new_password = new_password_field()
    confirm = repeat_password_field("new_password")


# data-autofocus: after an htmx swap opens one of these forms, the cursor goes to it
# (static/portal.js).
class ConfirmPasswordForm(PortalForm):
    password = current_password_field("Your password", **{"data-autofocus": True})


class EnrolmentCodeForm(PortalForm):
    code = code_field("Code from the app", **{"data-autofocus": True})


class CodesSavedForm(PortalForm):
    saved = BooleanField(
        "I have saved these recovery codes somewhere safe",
        validators=[DataRequired("Tick the box once the codes are saved.")],
    )


class PasswordAndCodeForm(PortalForm):
    """Guards turning off and moving to a new phone: an app code or a recovery code."""

    password = current_password_field("Your password", **{"data-autofocus": True})
    code = secret_code_field(
        "Code from your app, or a recovery code",
        validators=[
            DataRequired("Enter a code from your app or one of your recovery codes."),
            Length(max=40, message="That is not a code."),
        ],
        autocomplete="one-time-code",
        spellcheck="false",
        autocapitalize="none",
    )


class RegenerateCodesForm(PortalForm):
    password = current_password_field("Your password", **{"data-autofocus": True})
    code = code_field("Code from your app")


class ShowCodesForm(PortalForm):
    """Unsaved recovery codes shown again: the same proof as making new ones."""

    password = current_password_field("Your password", **{"data-autofocus": True})
    code = code_field("Code from your app")
