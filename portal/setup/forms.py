from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from portal.forms import EMAIL_PATTERN
from portal.services.passwords import MAX_LENGTH


class SetupForm(FlaskForm):
    token = HiddenField()
    company_name = StringField(
        "Company name",
        validators=[DataRequired("Enter the company name."), Length(max=120)],
        render_kw={"autocomplete": "organization", "autofocus": True},
    )
    admin_name = StringField(
        "Your name",
        validators=[DataRequired("Enter your name."), Length(max=120)],
        render_kw={"autocomplete": "name"},
    )
    email = EmailField(
        "Your email",
        validators=[DataRequired("Enter your email."), Length(max=254), EMAIL_PATTERN],
        render_kw={"autocomplete": "email"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Choose a password."), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[DataRequired("Repeat the password."), EqualTo("password", "The two passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )
