from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from portal.forms import EMAIL_PATTERN, code_field, printable
from portal.services.passwords import MAX_LENGTH


class ProfileForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[DataRequired("Enter your name."), Length(max=120), printable],
        render_kw={"autocomplete": "name"},
    )
    email = EmailField(
        "Email",
        validators=[DataRequired("Enter your email."), Length(max=254), EMAIL_PATTERN, printable],
        render_kw={"autocomplete": "email"},
    )


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password."), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        "New password",
        validators=[DataRequired("Choose a new password."), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[DataRequired("Repeat the new password."), EqualTo("new_password", "The two passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )


class ConfirmPasswordForm(FlaskForm):
    password = PasswordField(
        "Your password",
        validators=[DataRequired("Enter your password."), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )


class EnrolmentCodeForm(FlaskForm):
    code = code_field("Code from the app")


class CodesSavedForm(FlaskForm):
    saved = BooleanField(
        "I have saved these recovery codes somewhere safe",
        validators=[DataRequired("Tick the box once the codes are saved.")],
    )


class PasswordAndCodeForm(FlaskForm):
    """Guards turning off and moving to a new phone: an app code or a recovery code."""

    password = PasswordField(
        "Your password",
        validators=[DataRequired("Enter your password."), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    code = StringField(
        "Code from your app, or a recovery code",
        validators=[
            DataRequired("Enter a code from your app or one of your recovery codes."),
            Length(max=40, message="That is not a code."),
        ],
        render_kw={"autocomplete": "one-time-code", "spellcheck": "false", "autocapitalize": "none"},
    )


class RegenerateCodesForm(FlaskForm):
    password = PasswordField(
        "Your password",
        validators=[DataRequired("Enter your password."), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    code = code_field("Code from your app")
