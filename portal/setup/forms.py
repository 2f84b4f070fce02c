from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from portal.forms import (
    PortalForm,
    email_field,
    new_password_field,
    printable,
    repeat_password_field,
)


class SetupForm(PortalForm):
    token = HiddenField()
    company_name = StringField(
        "Company name",
        validators=[DataRequired("Enter the company name."), Length(max=120), printable],
        render_kw={"autocomplete": "organization", "autofocus": True},
    )
    admin_name = StringField(
        "Your name",
        validators=[DataRequired("Enter your name."), Length(max=120), printable],
        render_kw={"autocomplete": "name"},
    )
    email = email_field("Your email")
    password = new_password_field("Password")
    confirm = repeat_password_field("password", "Repeat the password")
