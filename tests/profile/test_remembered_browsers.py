"""The remembered browsers panel of the Security page: the list, forget one, forget all."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from portal.auth.current import REMEMBER_COOKIE_NAME
from portal.database import db
from portal.models import Company, RememberedBrowser
from tests.support import audit_rows, page_text, post, sign_in, totp_code

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"
IPHONE = "Mozilla/5.0 (iPhone) Safari/604.1"
PAGE = "/profile/security"


def remembered_ids(app, user_id: int) -> list[int]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(RememberedBrowser.id)
                .where(RememberedBrowser.user_id == user_id)
                .order_by(RememberedBrowser.id)
            )
        )


def sign_in_remembered(browser, secret, clock, *, user_agent: str, ip: str, email: str):
    headers = {"User-Agent": user_agent}
    environ = {"REMOTE_ADDR": ip}
    assert sign_in(browser, email, headers=headers, environ_base=environ).status_code == 303
    response = post(
        browser,
        "/login/code",
        {"code": totp_code(secret, clock), "remember": "y"},
        headers=headers,
        environ_base=environ,
    )
    assert response.status_code == 303, page_text(response)
    clock.advance(seconds=30)


@pytest.fixture
def two_remembered(app, client, other_client, clock, employee, enrol):
    """Emma's laptop (client, Firefox) and phone (other_client, iPhone), both remembered
    and signed in; the company remembers browsers for 30 days."""
    with app.app_context():
        db.session.get(Company, 1).remember_browser_days = 30
        db.session.commit()
    secret, _ = enrol(employee)
    sign_in_remembered(
        client, secret, clock, user_agent=FIREFOX, ip="192.0.2.10", email="emma@example.com"
    )
    sign_in_remembered(
        other_client, secret, clock, user_agent=IPHONE, ip="198.51.100.7", email="emma@example.com"
    )
    laptop, phone = remembered_ids(app, employee)
    return laptop, phone


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_panel_lists_each_remembered_browser(app, client, two_remembered):
    html = page_text(client.get(PAGE))
    panel = html[html.index('id="remembered-browsers"') :]
    panel = panel[: panel.index("</section>")]
    text = text_of(panel)
    assert "Remembered browsers" in text
    assert "Firefox on Linux" in text and "Safari on iPhone" in text
    assert "192.0.2.10" in text and "198.51.100.7" in text
    # When each was remembered (the test clock), and until when: 30 days later.
    assert "remembered 2026-03-02 09:00 UTC · until 2026-04-01 09:00 UTC" in text
    assert "remembered 2026-03-02 09:01 UTC · until 2026-04-01 09:01 UTC" in text
    assert text.count("This browser") == 1
    assert text.index("This browser") > text.index("Firefox on Linux")  # this one is Firefox
    assert text.count("Forget Firefox") + text.count("Forget Safari") == 2
    assert "Forget every browser" in text


def test_the_panel_is_absent_while_the_company_does_not_remember(
    app, client, clock, employee, enrol
):
    secret, _ = enrol(employee)
    sign_in(client, "emma@example.com")
    post(client, "/login/code", {"code": totp_code(secret, clock)})
    assert 'id="remembered-browsers"' not in page_text(client.get(PAGE))


def test_the_panel_without_any_browser_says_how_to_remember_one(
    app, client, clock, employee, enrol
):
    with app.app_context():
        db.session.get(Company, 1).remember_browser_days = 7
        db.session.commit()
    secret, _ = enrol(employee)
    sign_in(client, "emma@example.com")
    post(client, "/login/code", {"code": totp_code(secret, clock)})
    text = text_of(page_text(client.get(PAGE)))
    assert "No browser is remembered" in text and "for 7 days" in text


def test_forget_one_with_htmx_swaps_the_panel(app, client, other_client, employee, two_remembered):
    laptop, phone = two_remembered

    response = post(client, f"/profile/security/remembered-browsers/{phone}/forget", htmx=True)

    assert response.status_code == 200
    html = page_text(response)
    assert html.lstrip().startswith('<section class="card" id="remembered-browsers"')
    assert "That browser is forgotten" in html
    assert "Safari on iPhone" not in html and "Firefox on Linux" in html
    assert response.headers["HX-Trigger"] == "security-changed"
    assert remembered_ids(app, employee) == [laptop]
    # The laptop keeps its cookie; it was the phone that was forgotten.
    assert REMEMBER_COOKIE_NAME not in " ".join(response.headers.getlist("Set-Cookie"))
    [event] = audit_rows(app, "remembered_browser_forgotten")
    assert (event.actor_id, event.subject_id) == (employee, employee)


def test_forget_one_without_javascript_comes_back_with_a_message(
    app, client, employee, two_remembered
):
    laptop, phone = two_remembered

    response = post(client, f"/profile/security/remembered-browsers/{laptop}/forget")

    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == PAGE
    assert urlsplit(response.headers["Location"]).fragment == "remembered-browsers"
    # This very browser was forgotten: its cookie goes too.
    cleared = [
        c for c in response.headers.getlist("Set-Cookie") if c.startswith(REMEMBER_COOKIE_NAME)
    ]
    assert cleared and ("Max-Age=0" in cleared[0] or "Expires=Thu, 01 Jan 1970" in cleared[0])
    assert "That browser is forgotten" in page_text(client.get(response.headers["Location"]))
    assert remembered_ids(app, employee) == [phone]


def test_another_persons_browser_cannot_be_forgotten(
    app, client, clock, make_user, enrol, employee, two_remembered
):
    laptop, phone = two_remembered
    other = make_user("olga@example.com", name="Olga Other")
    secret, _ = enrol(other)
    olga = app.test_client()
    sign_in(olga, "olga@example.com")
    post(olga, "/login/code", {"code": totp_code(secret, clock)})

    response = post(olga, f"/profile/security/remembered-browsers/{phone}/forget", htmx=True)

    assert response.status_code == 404
    assert remembered_ids(app, employee) == [laptop, phone]
    assert audit_rows(app, "remembered_browser_forgotten") == []


@pytest.mark.parametrize("htmx", [False, True])
def test_forget_all(app, client, other_client, employee, two_remembered, htmx):
    response = post(client, "/profile/security/remembered-browsers/forget-all", htmx=htmx)

    if htmx:
        assert response.status_code == 200
        html = page_text(response)
        assert "2 browsers are forgotten" in html
        assert "No browser is remembered" in html
    else:
        assert response.status_code == 303
        assert "2 browsers are forgotten" in page_text(client.get(response.headers["Location"]))
    assert remembered_ids(app, employee) == []
    [event] = audit_rows(app, "remembered_browsers_forgotten")
    assert event.detail == "2 forgotten: forgotten from the Security page"
    # Both browsers ask for the code again.
    for browser in (client, other_client):
        post(browser, "/logout")
        assert sign_in(browser, "emma@example.com").headers["Location"].startswith("/login/code")


def test_the_panel_refreshes_alone(app, client, two_remembered):
    response = client.get(
        "/profile/security/remembered-browsers",
        headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/profile/security"},
    )
    assert response.status_code == 200
    assert page_text(response).lstrip().startswith('<section class="card" id="remembered-browsers"')
    plain = client.get("/profile/security/remembered-browsers")
    assert plain.status_code == 303
    assert plain.headers["Location"].endswith("/profile/security#remembered-browsers")


def test_the_activity_list_tells_remembering_forgetting_and_the_skipped_code(
    app, client, employee, two_remembered
):
    post(client, "/logout")
    assert sign_in(client, "emma@example.com").headers["Location"] == "/profile/security"
    text = text_of(page_text(client.get(PAGE)))
    assert (
        "Signed in · with the password; the code was not asked in this remembered browser" in text
    )
    assert "Browser remembered · the code is not asked in it for 30 days" in text

    post(client, "/profile/security/remembered-browsers/forget-all")
    text = text_of(page_text(client.get(PAGE)))
    assert (
        "Every remembered browser forgotten · 2 browsers, forgotten from the Security page" in text
    )
