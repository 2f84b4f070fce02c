"""The employees list: what it shows, search, pages, and any page number in the URL."""

import re

import pytest

from portal.database import db
from portal.services import accounts, audit
from tests.support import DEFAULT_PASSWORD, HTMX_HEADERS, page_text, post, sign_in


def rows(response) -> list[str]:
    """The employee names in the table, in order."""
    return re.findall(r'class="employee-cell__name"[^>]*>([^<]+)</a>', page_text(response))


def add_many(app, count: int, prefix: str = "Worker") -> None:
    with app.app_context():
        for number in range(count):
            accounts.create(
                name=f"{prefix} {number:02d}",
                email=f"{prefix.lower()}{number:02d}@example.com",
                password=None,
            )
        db.session.commit()


def test_the_list_shows_name_email_role_status_and_two_step(app, admin_client, make_user):
    make_user("emma@example.com", name="Emma Stone")
    make_user("gone@example.com", name="Gina Gone", active=False)
    with app.app_context():
        user = accounts.by_email("emma@example.com")
        user.totp_secret = b"encrypted secret stand-in"
        db.session.commit()

    response = admin_client.get("/admin/")

    assert response.status_code == 200
    html = page_text(response)
    assert rows(response) == ["Ada Admin", "Emma Stone", "Gina Gone"]
    emma = html[html.index("Emma Stone") : html.index("Gina Gone")]
    assert "emma@example.com" in emma and "Employee" in emma and "Active" in emma
    assert ">On<" in emma
    gina = html[html.index("Gina Gone") :]
    assert "Deactivated" in gina and "Not set up" in gina
    ada = html[html.index("Ada Admin") : html.index("Emma Stone")]
    assert "Administrator" in ada
    assert "<caption" in html
    assert 'hx-get="/admin/"' in html and 'hx-push-url="true"' in html
    assert 'method="get" action="/admin/"' in html


def test_an_invited_employee_is_marked_invited(app, admin_client):
    add_many(app, 1, "Ivan")
    html = page_text(admin_client.get("/admin/"))
    assert "Invited" in html[html.index("Ivan 00") :]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("emma", ["Emma Stone"]),
        ("STONE", ["Emma Stone"]),
        ("bob@EXAMPLE", ["Bob Brown"]),
        ("example.com", ["Ada Admin", "Bob Brown", "Emma Stone"]),
        ("  emma  ", ["Emma Stone"]),
        ("%", []),
        ("_", []),
        ("nobody", []),
    ],
)
def test_search_by_name_or_email(admin_client, make_user, query, expected):
    make_user("emma@example.com", name="Emma Stone")
    make_user("bob@example.com", name="Bob Brown")
    response = admin_client.get("/admin/", query_string={"q": query})
    assert response.status_code == 200
    assert rows(response) == expected
    if not expected:
        assert "No employee matches" in page_text(response)


def test_htmx_search_answers_with_the_results_fragment_only(admin_client, make_user):
    make_user("emma@example.com", name="Emma Stone")
    response = admin_client.get("/admin/?q=emma", headers=HTMX_HEADERS)
    html = page_text(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="employee-results"')
    assert "<html" not in html and "<form" not in html
    assert rows(response) == ["Emma Stone"]
    assert "HX-Request" in response.headers["Vary"]


def test_a_history_restore_gets_the_whole_page(admin_client):
    response = admin_client.get(
        "/admin/?q=ada", headers={**HTMX_HEADERS, "HX-History-Restore-Request": "true"}
    )
    assert "<html" in page_text(response)


def test_pages_of_25_by_name(app, admin_client):
    add_many(app, 30)  # with Ada, 31 people

    first = admin_client.get("/admin/")
    second = admin_client.get("/admin/?page=2")

    assert rows(first) == ["Ada Admin"] + [f"Worker {n:02d}" for n in range(24)]
    assert rows(second) == [f"Worker {n:02d}" for n in range(24, 30)]
    assert "Showing 1–25 of 31" in page_text(first)
    assert "Showing 26–31 of 31" in page_text(second)
    assert 'href="/admin/?page=2"' in page_text(first)
    assert 'href="/admin/?page=1"' in page_text(second)
    assert "Page 2 of 2" in page_text(second)


def test_pages_keep_the_search(app, admin_client):
    add_many(app, 27)
    add_many(app, 3, "Other")
    first = admin_client.get("/admin/?q=worker")
    assert len(rows(first)) == 25
    assert 'href="/admin/?page=2&amp;q=worker"' in page_text(first)
    second = admin_client.get("/admin/?page=2&q=worker")
    assert rows(second) == ["Worker 25", "Worker 26"]


@pytest.mark.parametrize("page", ["abc", "-1", "1.5", "", "%00", "99999999999999999999999", "٢"])
def test_a_page_number_that_is_not_a_page_number_shows_the_first_page(admin_client, page):
    response = admin_client.get(f"/admin/?page={page}")
    assert response.status_code == 200
    assert rows(response) == ["Ada Admin"]


@pytest.mark.parametrize("page", ["2", "99", "999999"])
def test_a_page_past_the_end_shows_the_last_page(admin_client, make_user, page):
    for number in range(30):
        make_user(f"worker{number:02}@example.com", name=f"Worker {number:02}")
    response = admin_client.get(f"/admin/?page={page}")
    assert response.status_code == 200
    assert rows(response) == [f"Worker {number:02}" for number in range(24, 30)]
    text = " ".join(page_text(response).split())
    assert "Showing 26–31 of 31 employees" in text and "Page 2 of 2" in text
    assert 'rel="prev" href="/admin/?page=1"' in text and 'rel="next"' not in text


def test_page_zero_shows_the_first_page(admin_client):
    response = admin_client.get("/admin/?page=0")
    assert response.status_code == 200
    assert rows(response) == ["Ada Admin"]


@pytest.mark.parametrize(
    "query",
    [
        "a" * 5000,
        "\x00",
        "emma\x00",
        "\ud800".encode("utf-8", "surrogatepass"),
        b"\xff\xfe",
        "' OR 1=1 --",
    ],
)
def test_any_search_text_gets_an_answer_never_an_error(admin_client, make_user, query):
    make_user("emma@example.com", name="Emma Stone")
    response = admin_client.get("/admin/", query_string={"q": query})
    assert response.status_code == 200


# --- two-step states under the company's policy ---------------------------------------


def row_of(response, name: str) -> str:
    """The table row of one employee, tags stripped and spaces collapsed."""
    html = page_text(response)
    start = html.index(f">{name}</a>")
    row = html[start : html.index("</tr>", start)]
    return " ".join(re.sub(r"<[^>]+>", " ", row).split())


def filter_counts(response) -> dict[str, int]:
    """The two-step filters above the list: label -> count."""
    nav = page_text(response).split('class="state-filters"', 1)[1].split("</nav>", 1)[0]
    found = re.findall(r'>([^<>]+?) <span class="state-filter__count">(\d+)</span>', nav)
    return {label: int(count) for label, count in found}


@pytest.fixture
def company_of_every_state(app, client, clock, make_user, enrol):
    """Ada (admin, on) made it mandatory with 5 days; six days later: Emma overdue, Ivy new
    and not yet, Noah on, Paula on but paused until resumed, Gina deactivated."""
    from portal.models import User
    from portal.services import policy
    from portal.web import Origin
    from tests.support import sign_in_with_code

    origin = Origin("127.0.0.1", "pytest")
    ada = make_user("ada@example.com", name="Ada Admin", admin=True)
    ada_secret, _ = enrol(ada)
    emma = make_user("emma@example.com", name="Emma Stone")
    noah = make_user("noah@example.com", name="Noah Brook")
    paula = make_user("paula@example.com", name="Paula Paused")
    make_user("gina@example.com", name="Gina Gone", active=False)
    enrol(noah)
    enrol(paula)
    with app.app_context():
        admin = db.session.get(User, ada)
        policy.save_settings(
            mandatory=True, grace_days=5, after_deadline="refuse", by=admin, origin=origin
        )
        policy.pause(db.session.get(User, paula), days=0, by=admin, origin=origin)
    clock.advance(days=6)
    make_user("ivy@example.com", name="Ivy New")
    sign_in_with_code(client, ada_secret, clock, email="ada@example.com")
    return {"emma": emma, "noah": noah, "paula": paula}


def test_the_list_shows_each_employees_two_step_state(client, clock, company_of_every_state):
    response = client.get("/admin/")

    assert response.status_code == 200
    assert rows(response) == [
        "Ada Admin",
        "Emma Stone",
        "Gina Gone",
        "Ivy New",
        "Noah Brook",
        "Paula Paused",
    ]
    assert "Overdue deadline was 2026-03-07 09:01 UTC" in row_of(response, "Emma Stone")
    assert "Not yet by 2026-03-13 09:01 UTC · 5 days left" in row_of(response, "Ivy New")
    assert "Two-step On" not in row_of(response, "Ivy New")
    assert re.search(r"Active On 2026", row_of(response, "Noah Brook"))
    assert "Paused until resumed" in row_of(response, "Paula Paused")
    assert "Deactivated Not set up" in row_of(response, "Gina Gone")
    assert filter_counts(response) == {
        "All": 6,
        "On": 2,
        "Not yet": 1,
        "Overdue": 1,
        "Paused": 1,
        "Deactivated": 1,
    }
    html = page_text(response)
    assert 'href="/admin/?state=overdue"' in html
    assert 'href="/admin/" aria-current="page"' in html


def test_the_last_day_says_so(client, clock, company_of_every_state):
    clock.advance(days=5, hours=-1)
    assert "1 day left" not in row_of(client.get("/admin/"), "Ivy New")
    assert "last day" in row_of(client.get("/admin/"), "Ivy New")


def test_the_counts_follow_the_search(client, company_of_every_state):
    response = client.get("/admin/?q=st")  # Emma Stone only
    assert filter_counts(response) == {
        "All": 1,
        "On": 0,
        "Not yet": 0,
        "Overdue": 1,
        "Paused": 0,
        "Deactivated": 0,
    }
    assert 'href="/admin/?q=st&amp;state=paused"' in page_text(response)


def test_without_the_policy_the_list_has_no_deadlines(app, admin_client, make_user):
    make_user("emma@example.com", name="Emma Stone")
    response = admin_client.get("/admin/")
    assert filter_counts(response) == {
        "All": 2,
        "On": 0,
        "Not set up": 2,
        "Paused": 0,
        "Deactivated": 0,
    }
    assert "Not set up" in row_of(response, "Emma Stone")


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("overdue", ["Emma Stone"]),
        ("not_yet", ["Ivy New"]),
        ("on", ["Ada Admin", "Noah Brook"]),
        ("paused", ["Paula Paused"]),
        ("deactivated", ["Gina Gone"]),
        ("not_required", []),
        (
            "nonsense",
            ["Ada Admin", "Emma Stone", "Gina Gone", "Ivy New", "Noah Brook", "Paula Paused"],
        ),
    ],
)
def test_the_service_filters_by_state(app, company_of_every_state, state, expected):
    from portal.services import employees

    with app.app_context():
        listing = employees.listing("", 1, state=state)
        assert [user.name for user in listing.users] == expected
        assert listing.total == len(expected)


def test_a_state_link_filters_the_list(client, company_of_every_state):
    response = client.get("/admin/?state=overdue")
    assert rows(response) == ["Emma Stone"]
    html = page_text(response)
    assert 'href="/admin/?state=overdue" aria-current="page"' in html
    assert 'name="state" value="overdue"' in html  # a search keeps the filter
    assert "Showing 1–1 of 1 employee in “Overdue”." in " ".join(html.split())


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("muller", ["Jana Müller", "Otto Muller"]),
        ("Müller", ["Jana Müller", "Otto Muller"]),
        ("MÜLLER", ["Jana Müller", "Otto Muller"]),
        ("jose", ["José Ñúñez"]),
        ("nunez", ["José Ñúñez"]),
        ("søren", ["Søren Kierk"]),
        ("soren", ["Søren Kierk"]),
        ("strasse", ["Lena Straße"]),
        ("straße", ["Lena Straße"]),
        ("zoe@", ["Zoë Adams"]),
    ],
)
def test_search_matches_with_or_without_accents(admin_client, make_user, query, found):
    make_user("jana@example.com", name="Jana Müller")
    make_user("otto@example.com", name="Otto Muller")
    make_user("jose@example.com", name="José Ñúñez")
    make_user("soren@example.com", name="Søren Kierk")
    make_user("lena@example.com", name="Lena Straße")
    make_user("zoë@example.com", name="Zoë Adams")
    assert rows(admin_client.get("/admin/", query_string={"q": query})) == found


def test_search_follows_a_change_of_name_and_email(app, admin_client, make_user):
    make_user("emma@example.com", name="Emma Stone")
    emma = app.test_client()
    sign_in(emma, "emma@example.com")
    changed = post(
        emma,
        "/profile/details",
        {
            "name": "Emma Sjöberg",
            "email": "emma.sjoberg@example.com",
            "password": DEFAULT_PASSWORD,
        },
    )
    assert changed.status_code == 303
    assert rows(admin_client.get("/admin/?q=sjoberg")) == ["Emma Sjöberg"]
    assert rows(admin_client.get("/admin/?q=Sjöberg")) == ["Emma Sjöberg"]
    assert rows(admin_client.get("/admin/?q=stone")) == []
    assert rows(admin_client.get("/admin/?q=emma.sjoberg@")) == ["Emma Sjöberg"]


def test_a_page_past_the_end_of_the_audit_log_shows_the_last_page(app, admin_client):
    with app.app_context():
        for _number in range(60):
            audit.record(audit.SIGN_OUT, origin=None)
        db.session.commit()
    response = admin_client.get("/admin/audit?page=99")
    assert response.status_code == 200
    text = " ".join(page_text(response).split())
    assert "Page 2 of 2" in text and 'rel="prev" href="/admin/audit?page=1"' in text
