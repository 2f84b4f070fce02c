"""The portal writes form fields' attributes itself (portal.forms.html_params): the tags
must come out exactly as WTForms would write them."""

import importlib.util
import random
import string

import pytest
from markupsafe import Markup

from portal.forms import html_params


def _wtforms_own():
    """WTForms' html_params from a fresh copy of its module (the app replaces the one
    in the loaded module)."""
    spec = importlib.util.find_spec("wtforms.widgets.core")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.html_params


wtforms_html_params = _wtforms_own()

VALUES = [True, False, None, 7, "", 'a "quoted" <b>&', Markup('safe "x" <i>'), "plain"]
NAMES = ["class_", "for_", "data_field_name", "aria_describedby", "name", "value", "id"]


@pytest.mark.parametrize(
    "attributes",
    [
        {},
        {"name": "email", "id": "email", "class_": "field__input", "autofocus": True},
        {"checked": False, "readonly": True, "value": 'x" onmouseover="y'},
        {"aria_describedby": "code-hint code-error", "aria_invalid": "true"},
        {"data_wait_button": Markup('a"b')},
    ],
)
def test_same_attributes_as_wtforms(attributes):
    written = html_params(**attributes)
    assert written == wtforms_html_params(**attributes)
    assert isinstance(written, Markup)


def test_same_attributes_as_wtforms_for_mixed_values():
    chance = random.Random(5)
    for _ in range(500):
        attributes = {
            chance.choice(NAMES): chance.choice(
                [*VALUES, "".join(chance.choices(string.printable, k=6))]
            )
            for _ in range(4)
        }
        assert html_params(**attributes) == wtforms_html_params(**attributes)


def test_the_pages_draw_fields_with_it(client):
    import wtforms.widgets.core

    assert wtforms.widgets.core.Input.html_params is html_params
    page = client.get("/login")
    assert b'name="password"' in page.data
