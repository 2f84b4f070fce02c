"""The Security page's activity card: ten entries, then more by htmx or a plain link."""

from __future__ import annotations

from tests.support import page_text, sign_in


def test_the_security_page_shows_ten_then_more(app, client, employee):
    for _ in range(12):
        assert sign_in(app.test_client(), "emma@example.com").status_code == 303
    sign_in(client, "emma@example.com")
    html = page_text(client.get("/profile/security"))
    assert html.count('class="event-list__item') == 10
    assert 'href="/profile/security?activity=20#activity"' in html
    more = page_text(
        client.get("/profile/security/activity?shown=20", headers={"HX-Request": "true"})
    )
    assert more.lstrip().startswith('<section class="card" id="activity"')
    assert more.count('class="event-list__item') == 13
    plain = client.get("/profile/security/activity?shown=20")
    assert plain.status_code == 303
    assert plain.headers["Location"].endswith("/profile/security?activity=20#activity")
