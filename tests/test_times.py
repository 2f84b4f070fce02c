"""Times as <time> elements: the UTC moment for static/time.js to put in the viewer's time
zone, and the UTC text for a browser without scripts."""

from datetime import UTC, datetime

from portal.templating import when, with_local_times


def test_a_moment_is_a_time_element_with_its_utc_text():
    moment = datetime(2026, 11, 26, 0, 44, 5, tzinfo=UTC)
    assert str(when(moment)) == (
        '<time datetime="2026-11-26T00:44:05Z" title="2026-11-26 00:44 UTC" '
        'data-local="minutes">2026-11-26 00:44 UTC</time>'
    )
    assert 'data-local="seconds">2026-11-26 00:44:05 UTC</time>' in str(when(moment, seconds=True))
    assert 'data-local="date">2026-11-26 UTC</time>' in str(when(moment, date=True))
    assert when(None) == "—"


def test_the_employees_list_gives_the_day_added_as_a_time_element(app, client, admin_user):
    from tests.support import page_text, sign_in

    sign_in(client, "ada@example.com")
    html = page_text(client.get("/admin/"))
    assert 'data-local="date">' in html


def test_moments_in_stored_text_become_time_elements_and_the_rest_is_escaped():
    marked = str(with_local_times("paused until 2026-11-29 07:52 UTC & <then>"))
    assert marked.startswith('paused until <time datetime="2026-11-29T07:52:00Z"')
    assert marked.endswith("</time> &amp; &lt;then&gt;")
    assert str(with_local_times("no moment here")) == "no moment here"
    assert str(with_local_times(None)) == ""


def test_a_moment_after_until_is_marked_exact_and_others_are_not():
    moment = datetime(2026, 11, 26, 0, 44, tzinfo=UTC)
    assert " data-exact>" in str(when(moment, exact=True))
    assert "data-exact" not in str(when(moment))
    assert " data-exact>" in str(with_local_times("paused until 2026-11-29 07:52 UTC"))
