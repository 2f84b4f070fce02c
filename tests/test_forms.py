"""The portal's forms render their inputs themselves (portal.forms.PortalForm): what a
person typed comes back escaped, and every form of the portal is one of them."""

import importlib
import pkgutil
import random
import string
from html.parser import HTMLParser

from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import BooleanField, StringField
from wtforms.widgets import TextInput
from wtforms.widgets.core import html_params as wtforms_html_params

import portal
from portal.forms import PortalForm, attributes, code_field, email_field

HOSTILE = "\"><script>alert(1)</script>&amp; ' <b>"


class _Inputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "input":
            self.inputs.append(dict(attrs))


def _parsed(html: str) -> list[dict[str, str | None]]:
    parser = _Inputs()
    parser.feed(html)
    return parser.inputs


class _Form(PortalForm):
    email = email_field(autofocus=True)
    code = code_field()
    note = StringField("Note")
    remember = BooleanField("Remember")


def test_a_typed_value_comes_back_escaped_and_whole(app):
    with app.test_request_context(
        "/", method="POST", data={"email": HOSTILE, "note": HOSTILE, "code": "123 456"}
    ):
        form = _Form()
        email, note, code = form.email(), form.note(), form.code()
    for html in (email, note):
        assert "<script>" not in html
        (found,) = _parsed(str(html))
        assert found["value"] == HOSTILE
    (email_input,) = _parsed(str(email))
    assert email_input["type"] == "email"
    assert email_input["autocomplete"] == "email"
    assert "autofocus" in email_input and email_input["autofocus"] is None  # bare
    assert email_input["required"] is None  # from DataRequired, as WTForms sets it
    (code_input,) = _parsed(str(code))
    # A code is never written back into the page.
    assert code_input["value"] == ""
    assert code_input["inputmode"] == "numeric"
    assert code_input["autocomplete"] == "one-time-code"


def test_false_attributes_are_left_out_and_names_are_html_names():
    html = str(attributes(class_="field", data_wait_seconds=3, disabled=False, hidden=True))
    assert html == 'class="field" data-wait-seconds="3" hidden'


VALUES = [True, False, None, 7, "", 'a "quoted" <b>&', Markup('safe "x" <i>'), "plain"]
NAMES = ["class_", "for_", "data_field_name", "aria_describedby", "name", "value", "id"]


def test_the_same_attributes_as_wtforms_writes():
    """Byte for byte what WTForms' own html_params writes, for the names and values
    inputs are drawn with, hostile text and Markup among them."""
    chance = random.Random(5)
    for _ in range(500):
        given = {
            chance.choice(NAMES): chance.choice(
                [*VALUES, "".join(chance.choices(string.printable, k=6))]
            )
            for _ in range(4)
        }
        assert attributes(**given) == wtforms_html_params(**given), given


def test_no_value_ends_its_attribute_not_even_markup():
    html = str(attributes(title=Markup('a" onfocus="x'), value='b" onclick="y'))
    (found,) = _parsed(f"<input {html}>")
    assert found == {"title": 'a" onfocus="x', "value": 'b" onclick="y'}


def test_the_shared_widgets_are_left_as_they_are(app):
    """The plain rendering is a copy per form field's widget: WTForms' own widgets, which
    every other form of the process shares, keep their rendering."""
    with app.test_request_context("/"):
        _Form()
    assert TextInput.html_params is not attributes
    assert StringField.widget.html_params is not attributes  # type: ignore[attr-defined]


def test_every_form_of_the_portal_is_a_portal_form():
    forms = []
    for module_info in pkgutil.walk_packages(portal.__path__, "portal."):
        if not module_info.name.endswith(".forms"):
            continue
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            defined_here = getattr(value, "__module__", None) == module.__name__
            if defined_here and isinstance(value, type) and issubclass(value, FlaskForm):
                forms.append(value)
    assert len(forms) > 15
    assert [form for form in forms if not issubclass(form, PortalForm)] == []
