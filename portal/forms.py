"""Form pieces shared by the blueprints."""

import copy
import functools
from typing import Any

from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp, ValidationError
from wtforms.widgets import Input, TextInput
from wtforms.widgets.core import clean_key

from portal.services.passwords import MAX_LENGTH, problem_with


def attributes(**kwargs: Any) -> Markup:
    """An input's attributes written exactly as WTForms' own ``html_params`` writes them
    (sorted by name, ``True`` bare, ``False`` left out, ``class_`` for ``class``, values
    escaped and any quote of a ``Markup`` value as ``&quot;``), without its
    ``Markup.format`` per attribute: inputs render on every page with a form, the
    sign-in page first."""
    parts: list[str] = []
    for key, value in sorted(kwargs.items()):
        if value is True:
            parts.append(_attribute_name(key))
        elif value is not False:
            # A Markup value is not escaped again, but its quotes still are: they would
            # end the attribute.
            written = str(escape(value)).replace('"', "&quot;")
            parts.append(f'{_attribute_name(key)}="{written}"')
    return Markup(" ".join(parts))


@functools.cache
def _attribute_name(key: str) -> str:
    return str(escape(clean_key(key)))


@functools.cache
def _with_plain_attributes(widget: Input) -> Input:
    """A copy of an input widget that writes its attributes with ``attributes``; the
    widget itself is shared by every form of the process and stays as it is. One copy
    per widget: the widgets are made once, with the form classes."""
    plain = copy.copy(widget)
    plain.html_params = attributes  # an instance attribute: called without self
    return plain


class PortalForm(FlaskForm):
    """The portal's forms: FlaskForm (CSRF from the session), with inputs rendered by
    ``attributes``."""

    class Meta(FlaskForm.Meta):
        def bind_field(self, form, unbound_field, options):
            field = super().bind_field(form, unbound_field, options)
            if isinstance(field.widget, Input):
                field.widget = _with_plain_attributes(field.widget)
            return field


class CodeInput(TextInput):
    """A text input that never writes its value back into the page: a code typed once (an
    app code, a recovery code) is not shown again in clear after a refusal, and cannot
    arrive filled in on the next form."""

    def __call__(self, field, **kwargs) -> Markup:
        kwargs["value"] = ""
        return super().__call__(field, **kwargs)


def secret_code_field(label: str, *, validators: list, **render_kw) -> StringField:
    """A code field whose typed value is never rendered again (see CodeInput)."""
    return StringField(label, validators=validators, widget=CodeInput(), render_kw=render_kw)


def code_field(label: str = "Authentication code", **render_kw) -> StringField:
    """A six-digit code from the authenticator app."""
    return StringField(
        label,
        widget=CodeInput(),
        validators=[
            DataRequired(message="Enter the 6-digit code from your authenticator app."),
            Length(max=20, message="Enter the 6-digit code from your authenticator app."),
        ],
        filters=[lambda value: (value or "").replace(" ", "").strip()],
        render_kw={
            "autocomplete": "one-time-code",
            "inputmode": "numeric",
            "pattern": "[0-9 ]*",
            "maxlength": "7",
            "spellcheck": "false",
            **render_kw,
        },
    )


EMAIL_PATTERN = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="Enter a valid email address.")


def printable(form, field) -> None:
    """Refuses control characters (PostgreSQL rejects NUL) and U+FFFD, which is what
    invalid UTF-8 in the request turns into."""
    if field.data and (not field.data.isprintable() or "\ufffd" in field.data):
        raise ValidationError("Use letters, digits and punctuation only.")


def current_password_field(label: str = "Your password", **render_kw) -> PasswordField:
    return PasswordField(
        label,
        validators=[DataRequired("Enter your password."), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password", **render_kw},
    )


def _good_enough_password(form, field) -> None:
    problem = problem_with(field.data or "")
    if problem:
        raise ValidationError(problem)


def new_password_field(label: str = "New password", **render_kw) -> PasswordField:
    # The rules run as a validator, so every field's problem shows at once; the checks
    # against the person's own name and email run in the view, which knows them.
    return PasswordField(
        label,
        validators=[
            DataRequired("Choose a password."),
            Length(max=MAX_LENGTH),
            _good_enough_password,
        ],
        render_kw={"autocomplete": "new-password", **render_kw},
    )


def repeat_password_field(other: str, label: str = "Repeat the new password") -> PasswordField:
    return PasswordField(
        label,
        validators=[
            DataRequired("Repeat the password."),
            EqualTo(other, message="The two passwords differ."),
        ],
        render_kw={"autocomplete": "new-password"},
    )


def email_field(label: str = "Email", **render_kw) -> EmailField:
    return EmailField(
        label,
        validators=[
            DataRequired("Enter the email address."),
            Length(max=254),
            EMAIL_PATTERN,
            printable,
        ],
        render_kw={"autocomplete": "email", **render_kw},
    )
