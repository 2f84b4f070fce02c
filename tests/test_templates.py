"""The portal's Jinja environment (portal.templating.PortalEnvironment): macro files are
imported as one module made once, which reaches the environment's globals; a template
with globals of its own, which such a module could not see, is refused."""

import pytest

from portal.templating import PortalEnvironment


def test_an_imported_macro_reaches_the_globals(app):
    with app.test_request_context("/admin/audit"):
        template = app.jinja_env.from_string(
            '{% from "_macros.html" import pagination %}'
            '{{ pagination("Audit pages", 2, 3, "admin.audit_log", {"q": "x"}) }}'
        )
        for _ in range(2):  # the second render uses the module the first one made
            page = template.render()
            assert 'href="/admin/audit?page=1&amp;q=x"' in page
            assert 'href="/admin/audit?page=3&amp;q=x"' in page


def test_templates_with_globals_of_their_own_are_refused(app):
    assert isinstance(app.jinja_env, PortalEnvironment)
    with pytest.raises(ValueError):
        app.jinja_env.from_string("{{ extra }}", globals={"extra": 1})
