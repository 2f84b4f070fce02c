"""The Security settings page: the two-step policy, its live preview, the administrator's
own two-step as a precondition, the audit row of a change, and the adoption overview."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from portal.database import db
from portal.models import Company, User
from tests.support import HTMX_HEADERS, audit_rows, page_text, post, sign_in, sign_in_with_code

PAGE = "/admin/security"
PREVIEW = "/admin/security/preview"
TURN_ON = {"mandatory": "y", "grace_days": "10", "after_deadline": "setup"}


def company(app) -> Company:
    with app.app_context():
        row = db.session.get(Company, 1)
        db.session.expunge(row)
        return row


def text_of(html: str) -> str:
    # Inline elements (a <time>) run on with the text around them.
    html = re.sub(r"</?(time|strong|span)\b[^>]*>", "", html)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def checkbox(html: str) -> str:
    return re.search(r'<input[^>]*name="mandatory"[^>]*>', html).group(0)


# --- the administrator's own two-step first ---------------------------------------------


def test_without_own_two_step_the_box_is_disabled_and_the_page_says_why(app, admin_client):
    response = admin_client.get(PAGE)

    assert response.status_code == 200
    html = page_text(response)
    assert "disabled" in checkbox(html)
    assert 'aria-describedby="mandatory-blocked"' in checkbox(html)
    blocked = html[html.index('id="mandatory-blocked"') :]
    assert "turn on two-step authentication for your own account" in blocked[:400]
    assert 'href="/profile/security"' in blocked[:400]
    # The other settings can still be changed.
    assert "disabled" not in re.search(r'<input[^>]*name="grace_days"[^>]*>', html).group(0)


@pytest.mark.parametrize("htmx", [False, True])
def test_without_own_two_step_the_server_refuses_too(app, admin_client, htmx):
    response = post(admin_client, PAGE, TURN_ON, htmx=htmx)

    assert response.status_code == 422
    html = page_text(response)
    assert 'role="alert"' in html
    assert "Turn on two-step authentication for your own account first" in html
    assert company(app).two_step_mandatory is False
    assert company(app).two_step_grace_days == 5
    assert audit_rows(app, "two_step_policy_changed") == []


def test_with_own_two_step_the_box_can_be_ticked(admin_with_two_step):
    html = page_text(admin_with_two_step.get(PAGE))
    assert "disabled" not in checkbox(html)
    assert 'id="mandatory-blocked"' not in html


# --- saving -----------------------------------------------------------------------------


def test_saving_with_a_plain_post_records_the_change_and_comes_back(
    app, clock, admin_with_two_step, admin_user
):
    saved_at = clock.now()
    response = post(admin_with_two_step, PAGE, TURN_ON)

    assert response.status_code == 303
    assert response.headers["Location"] == PAGE
    row = company(app)
    assert (row.two_step_mandatory, row.two_step_grace_days, row.two_step_after_deadline) == (
        True,
        10,
        "setup",
    )
    assert row.two_step_mandatory_since == saved_at
    (event,) = audit_rows(app, "two_step_policy_changed")
    assert event.actor_id == admin_user
    assert event.detail == (
        "mandatory: off -> on; grace period: 5 -> 10 days; "
        "after the deadline: refuse sign-in -> require set-up at sign-in"
    )

    page = page_text(admin_with_two_step.get(PAGE))
    assert "Security settings saved." in page
    assert "checked" in checkbox(page)
    assert 'value="10"' in page
    assert re.search(
        r'<input[^>]*checked[^>]*value="setup"|<input[^>]*value="setup"[^>]*checked', page
    )


def test_saving_with_htmx_answers_with_the_panel_and_a_notice(app, admin_with_two_step):
    response = post(admin_with_two_step, PAGE, TURN_ON, htmx=True)

    assert response.status_code == 200
    html = page_text(response)
    assert html.lstrip().startswith('<section class="card" id="security-settings"')
    assert "<html" not in html
    assert 'role="status">Security settings saved.' in html
    # The adoption overview follows the saved policy: out of band, with its chart now.
    assert 'id="adoption"' in html and 'hx-swap-oob="true"' in html
    assert "<svg" in html
    assert company(app).two_step_mandatory is True


def test_turning_it_off_clears_when_it_started(app, admin_with_two_step):
    post(admin_with_two_step, PAGE, TURN_ON)
    response = post(admin_with_two_step, PAGE, {"grace_days": "10", "after_deadline": "setup"})
    assert response.status_code == 303
    assert company(app).two_step_mandatory is False
    assert company(app).two_step_mandatory_since is None
    assert audit_rows(app, "two_step_policy_changed")[-1].detail == "mandatory: on -> off"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"grace_days": ""}, "from 0 to 90"),
        ({"grace_days": "91"}, "from 0 to 90"),
        ({"grace_days": "-1"}, "from 0 to 90"),
        ({"grace_days": "2.5"}, "from 0 to 90"),
        ({"grace_days": "٣"}, "from 0 to 90"),
        ({"after_deadline": "maybe"}, "Choose what happens after the deadline."),
    ],
)
@pytest.mark.parametrize("path", [PAGE, PREVIEW])
def test_bad_values_get_a_message_and_change_nothing(app, admin_with_two_step, data, message, path):
    response = post(admin_with_two_step, path, {**TURN_ON, **data})

    assert response.status_code == 422
    html = page_text(response)
    assert message in html and 'role="alert"' in html
    assert 'aria-invalid="true"' in html
    assert "Correct the settings above to see their effect." in html
    assert company(app).two_step_mandatory is False
    assert audit_rows(app, "two_step_policy_changed") == []


# --- the preview ------------------------------------------------------------------------


@pytest.fixture
def staff(app, clock, make_user, enrol):
    """Emma and Noah without two-step, Olga with it, Gina deactivated."""
    make_user("emma@example.com", name="Emma Stone")
    make_user("noah@example.com", name="Noah Brook")
    olga = make_user("olga@example.com", name="Olga On")
    enrol(olga)
    make_user("gina@example.com", name="Gina Gone", active=False)


def figures(html: str) -> dict[str, str]:
    """The preview's figures: label -> value, as shown."""
    found = re.findall(r"<dt>([^<]+)</dt>\s*<dd[^>]*>(.*?)</dd>", html, re.S)
    return {label.strip(): re.sub(r"<[^>]+>", "", value).strip() for label, value in found}


def test_the_live_preview_shows_the_effect_before_saving(app, clock, admin_with_two_step, staff):
    now = clock.now()
    response = post(admin_with_two_step, PREVIEW, {**TURN_ON, "grace_days": "3"}, htmx=True)

    assert response.status_code == 200
    html = page_text(response)
    assert html.lstrip().startswith('<div id="policy-preview"')
    deadline = (now + timedelta(days=3)).strftime("%Y-%m-%d %H:%M UTC")
    assert figures(html) == {
        "Without two-step yet": "2",
        "Past their deadline at once": "0",
        "Deadline for the others": deadline,
    }
    assert (
        f"2 employees have not turned two-step authentication on. They have until {deadline}."
        in text_of(html)
    )
    assert company(app).two_step_mandatory is False
    assert audit_rows(app, "two_step_policy_changed") == []


def test_the_preview_names_who_would_be_late_at_once(app, clock, admin_with_two_step, staff):
    post(admin_with_two_step, PAGE, {**TURN_ON, "after_deadline": "refuse"})
    clock.advance(days=4)

    refuse = page_text(
        post(
            admin_with_two_step,
            PREVIEW,
            {**TURN_ON, "grace_days": "2", "after_deadline": "refuse"},
            htmx=True,
        )
    )
    assert figures(refuse)["Past their deadline at once"] == "2"
    assert "2 would be past their deadline at once and could not sign in" in text_of(refuse)
    setup = page_text(post(admin_with_two_step, PREVIEW, {**TURN_ON, "grace_days": "2"}, htmx=True))
    assert "must set it up right after their password" in text_of(setup)
    assert company(app).two_step_grace_days == 10, "a preview saves nothing"


def test_the_preview_of_turning_it_off(admin_with_two_step, staff):
    post(admin_with_two_step, PAGE, TURN_ON)
    html = page_text(
        post(
            admin_with_two_step, PREVIEW, {"grace_days": "10", "after_deadline": "setup"}, htmx=True
        )
    )
    assert "becomes optional again" in html
    assert "the 2 employees without it keep signing in with their password alone" in text_of(html)


def test_the_preview_button_works_without_javascript(app, clock, admin_with_two_step, staff):
    response = post(admin_with_two_step, PREVIEW, {**TURN_ON, "grace_days": "0"})

    assert response.status_code == 200
    html = page_text(response)
    assert "<html" in html and "<h1" in html
    # The form keeps what was typed, and the preview shows its effect.
    assert re.search(r'<input[^>]*name="grace_days"[^>]*value="0"', html)
    assert "checked" in checkbox(html)
    assert figures(html)["Past their deadline at once"] == "2"
    assert f'formaction="{PREVIEW}"' in html and "data-without-js" in html
    assert company(app).two_step_mandatory is False


def test_the_form_asks_for_a_preview_as_the_administrator_types(admin_with_two_step):
    html = page_text(admin_with_two_step.get(PAGE))
    form = re.search(r'<form method="post" action="/admin/security"[^>]*>', html).group(0)
    assert f'hx-post="{PREVIEW}"' in form
    assert 'hx-trigger="change, input delay:300ms"' in form
    assert 'hx-target="#policy-preview"' in form
    assert 'hx-post="/admin/security" hx-target="#security-settings"' in html
    # The preview of the saved settings is there from the start.
    assert 'id="policy-preview"' in html


def test_the_page_explains_the_trade_off_of_set_up_at_sign_in(admin_with_two_step):
    html = text_of(page_text(admin_with_two_step.get(PAGE)))
    assert "whoever knows only the password could sign in and enrol their own phone" in html


# --- adoption ---------------------------------------------------------------------------


def test_adoption_bar_and_text(admin_with_two_step, staff):
    html = page_text(admin_with_two_step.get(PAGE))
    meter = re.search(r"<meter[^>]*>", html).group(0)
    assert 'value="2"' in meter and 'max="4"' in meter
    assert "2 of 4 active employees have two-step authentication on" in html
    assert "50%" in html
    assert "<svg" not in html, "no chart until it is mandatory"
    assert "starts when two-step authentication becomes mandatory" in html


def test_adoption_chart_since_it_became_mandatory(app, clock, admin_with_two_step, staff, enrol):
    post(admin_with_two_step, PAGE, {**TURN_ON, "grace_days": "5"})
    clock.advance(days=2)
    with app.app_context():
        emma = db.session.query(User).filter_by(email="emma@example.com").one().id
    enrol(emma)
    clock.advance(days=1)

    html = page_text(admin_with_two_step.get(PAGE))
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert (
        'role="img"' in svg and 'aria-labelledby="adoption-chart-title adoption-chart-desc"' in svg
    )
    assert "style=" not in svg
    assert 'class="chart__deadline"' in svg
    # Six bands of 100 (2 to 7 March, the deadline's day); the deadline at 09:01:30 on the 7th.
    assert 'class="chart__deadline" x1="537.6"' in svg
    desc = re.search(r'<desc id="adoption-chart-desc">([^<]+)</desc>', svg).group(1)
    assert desc.startswith("From 2026-03-02 to 2026-03-05, employees with two-step")
    assert "went from 2 to 3 of 4 active employees" in desc
    assert "The grace period ends 2026-03-07" in desc
    table = html[html.index("The numbers by day") :]
    assert re.search(r"<td>2026-03-05</td><td>3 of 4</td>", table)
    assert re.search(r"<td>2026-03-02</td><td>2 of 4</td>", table)


# --- reaching the page ------------------------------------------------------------------


def test_the_header_links_the_settings_for_administrators(
    client, other_client, employee, admin_user
):
    sign_in(client, "emma@example.com")
    sign_in(other_client, "ada@example.com")
    assert f'href="{PAGE}"' not in page_text(client.get("/profile/"))
    html = page_text(other_client.get(PAGE))
    assert f'href="{PAGE}" aria-current="page">Settings</a>' in html
    assert 'href="/admin/" >Administration</a>' in html


def test_a_get_on_the_preview_leads_to_the_page(admin_with_two_step):
    response = admin_with_two_step.get(PREVIEW)
    assert response.status_code == 303
    assert response.headers["Location"] == PAGE


def test_htmx_page_load_gets_the_whole_page(admin_with_two_step):
    response = admin_with_two_step.get(
        PAGE, headers={**HTMX_HEADERS, "HX-History-Restore-Request": "true"}
    )
    assert "<html" in page_text(response)


def test_while_it_is_mandatory_nobody_can_turn_theirs_off(
    app, clock, admin_with_two_step, other_client, employee, enrol
):
    from portal.services import totp
    from tests.support import user_row

    secret, _codes = enrol(employee)
    sign_in_with_code(other_client, secret, clock)
    assert "Turn off" in page_text(other_client.get("/profile/security"))

    post(admin_with_two_step, PAGE, TURN_ON)

    assert "Turn off" not in page_text(other_client.get("/profile/security"))
    refused = post(
        other_client,
        "/profile/security/turn-off",
        {"password": "correct horse battery", "code": totp.code_at(secret, clock.now())},
    )
    assert refused.status_code == 422
    assert user_row(app, employee).totp_secret is not None
