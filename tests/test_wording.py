"""Counts in words: one helper for every number the portal prints."""

from portal.wording import plural
from tests.support import page_text, post, sign_in


def test_plural_fits_the_word_to_the_count():
    assert plural(1, "session", "sessions") == "1 session"
    assert plural(0, "session", "sessions") == "0 sessions"
    assert plural(4, "session", "sessions") == "4 sessions"
    assert plural(1204, "event", "events") == "1,204 events"


def test_templates_have_the_plural_filter(app):
    with app.app_context():
        template = app.jinja_env.from_string(
            '{{ 1|plural("day", "days") }}, {{ 3|plural("day", "days") }}'
        )
        assert template.render() == "1 day, 3 days"


def test_one_recovery_code_left_is_said_in_the_singular(app, client, clock, employee, enrol):
    _, codes = enrol(employee)
    page = ""
    for code in codes[:9]:
        sign_in(client, "emma@example.com")
        response = post(client, "/login/recovery", {"code": code})
        assert response.status_code == 303
        page = page_text(client.get(response.headers["Location"]))
        post(client, "/logout")
    assert "you have 1 code left" in page
    assert "Only 1 recovery code left." in page
