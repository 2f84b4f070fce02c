"""Bad input of any shape on every form: a 4xx with a message, never a 500, nothing changed.

Every POST route in ``app.url_map`` must have its case in HOSTILE_CASES: the state it is
attacked in (anonymous, half signed in, signed in as an administrator, or first-run
setup). A POST route added without one fails test_every_post_route_is_attacked, by name.
The fields are read from the forms the portal itself renders; a route whose form is not
found gets a generic set of field names.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

import pytest
from flask import Blueprint
from sqlalchemy import select

from portal.database import Base, db
from portal.models import Company, User
from portal.services import first_run, invitations
from tests.support import (
    DEFAULT_PASSWORD,
    HTMX_HEADERS,
    csrf_token,
    page_text,
    sign_in,
    totp_code,
)

MEGABYTE = 1024 * 1024
# Used when no form of the portal posts to a route: the names forms here tend to use.
GENERIC_FIELDS = ("email", "password", "name", "code", "token", "next", "reason", "days", "q")
# Columns that a refused request may rightly touch: when and from where a session was
# last seen, and the count of wrong second-step codes (a wrong code is a failure however
# it is spelled, and every failure counts towards the lock).
VOLATILE_COLUMNS = {
    ("user_sessions", "last_seen_at"),
    ("user_sessions", "ip"),
    ("users", "second_step_failures"),
    ("users", "second_step_locked_until"),
}
# Security events are meant to be recorded, also for refused attempts.
APPEND_ONLY_TABLES = {"audit_events", "notifications", "mail_outbox"}
GARBAGE = "\u202e<script>alert(1)</script>' OR 1=1 --\x7f"
# Routes that a button's formaction posts its form to, with that form's fields (the forms
# read from the pages name only their own action).
FORMACTION_FIELDS = {
    "/admin/security/preview": {
        "mandatory": "checkbox",
        "grace_days": "number",
        "after_deadline": "radio",
        "remember_days": "number",
    },
}

ANONYMOUS, PENDING, SIGNED_IN, SETUP = "anonymous", "pending", "signed in", "setup"


# Each POST endpoint and the case that attacks it: the state the route is meant for.
# A new POST route goes here too; test_every_post_route_is_attacked names any that do not.
HOSTILE_CASES = {
    "setup.start": SETUP,
    "auth.login": ANONYMOUS,
    "auth.accept_invitation": ANONYMOUS,
    "auth.second_step": PENDING,
    "auth.recovery_step": PENDING,
    "auth.cancel_sign_in": PENDING,
    "auth.logout": SIGNED_IN,
    "profile.update_details": SIGNED_IN,
    "profile.change_password": SIGNED_IN,
    "profile.enable_two_step": SIGNED_IN,
    "profile.confirm_two_step": SIGNED_IN,
    "profile.cancel_enrolment": SIGNED_IN,
    "profile.codes_saved": SIGNED_IN,
    "profile.change_device": SIGNED_IN,
    "profile.turn_off": SIGNED_IN,
    "profile.regenerate_recovery_codes": SIGNED_IN,
    "profile.show_recovery_codes": SIGNED_IN,
    "profile.end_session": SIGNED_IN,
    "profile.end_other_sessions": SIGNED_IN,
    "profile.forget_remembered_browser": SIGNED_IN,
    "profile.forget_all_remembered_browsers": SIGNED_IN,
    "profile.dismiss_deadline_banner": SIGNED_IN,
    "admin.add_employee": SIGNED_IN,
    "admin.deactivate": SIGNED_IN,
    "admin.reactivate": SIGNED_IN,
    "admin.reset_password": SIGNED_IN,
    "admin.reset_two_step": SIGNED_IN,
    "admin.pause_two_step": SIGNED_IN,
    "admin.resume_two_step": SIGNED_IN,
    "admin.extend_deadline": SIGNED_IN,
    "admin.unlock_two_step": SIGNED_IN,
    "admin.security_settings": SIGNED_IN,
    "admin.security_settings_preview": SIGNED_IN,
    "admin.notification_settings": SIGNED_IN,
    "admin.send_test_mail": SIGNED_IN,
    "notifications.mark_read": SIGNED_IN,
    "notifications.mark_all_read": SIGNED_IN,
    "notifications.not_me": SIGNED_IN,
}


# Reading the portal's own forms.


class FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, str, dict[str, str]]] = []
        self._current: dict[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self._current = {}
            self.forms.append(
                (
                    (attributes.get("method") or "get").lower(),
                    attributes.get("action") or "",
                    self._current,
                )
            )
        elif tag in ("input", "textarea", "select") and self._current is not None:
            name = attributes.get("name")
            if name:
                self._current[name] = (attributes.get("type") or tag).lower()

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def read_forms(html: str, into: dict[str, dict[str, str]]) -> None:
    reader = FormReader()
    reader.feed(html)
    for method, action, fields in reader.forms:
        if method == "post" and action:
            into.setdefault(urlsplit(action).path, {}).update(fields)


# The database, before and after.


def snapshot(app) -> dict[str, list[tuple]]:
    with app.app_context():
        state = {}
        for table in Base.metadata.sorted_tables:
            if table.name in APPEND_ONLY_TABLES:
                continue
            columns = [c for c in table.columns if (table.name, c.name) not in VOLATILE_COLUMNS]
            rows = db.session.execute(select(*columns).order_by(*table.primary_key.columns))
            state[table.name] = [tuple(row) for row in rows]
        db.session.rollback()
        return state


def describe_change(before, after) -> str:
    changed = [name for name in before if before[name] != after[name]]
    return "changed " + ", ".join(changed)


# The attack.


@dataclass
class Payload:
    name: str
    with_token: bool  # carries a valid CSRF token, so it reaches the view
    kwargs: dict = field(default_factory=dict)


def payloads(fields: list[str], token: str) -> list[Payload]:
    plausible = {name: _plausible(name) for name in fields}
    with_token = lambda data: {**data, "csrf_token": token}  # noqa: E731
    attacks = [
        Payload("empty body", False),
        Payload("empty form", False, {"data": {}}),
        Payload("no CSRF token", False, {"data": plausible}),
        Payload("forged CSRF token", False, {"data": {**plausible, "csrf_token": "forged"}}),
        Payload(
            "forged token before the real one",
            False,
            {"data": {**plausible, "csrf_token": ["x", token]}},
        ),
        Payload(
            "invalid UTF-8 without a token",
            False,
            {
                "data": b"\xff\xfe=\x80&csrf_token=\xc3\x28",
                "content_type": "application/x-www-form-urlencoded",
            },
        ),
        Payload("blank fields", True, {"data": with_token(dict.fromkeys(fields, ""))}),
        Payload(
            "1 MB in every field",
            True,
            {"data": with_token(dict.fromkeys(fields, "x" * MEGABYTE))},
        ),
        Payload(
            "invalid UTF-8",
            True,
            {
                "data": urlencode({"csrf_token": token}).encode()
                + b"".join(b"&" + name.encode() + b"=%FF%FE%C3%28\xff\xfe\x80" for name in fields),
                "content_type": "application/x-www-form-urlencoded",
            },
        ),
        Payload(
            "NUL bytes", True, {"data": with_token(dict.fromkeys(fields, "a\x00b@example.com"))}
        ),
        Payload(
            "repeated fields", True, {"data": with_token({name: ["", GARBAGE] for name in fields})}
        ),
        Payload(
            "numbers",
            True,
            {"data": with_token(dict.fromkeys(fields, "-99999999999999999999"))},
        ),
        Payload("scripts and quotes", True, {"data": with_token(dict.fromkeys(fields, GARBAGE))}),
        Payload(
            "files instead of text",
            True,
            {
                "data": with_token(
                    {name: (io.BytesIO(b"\x00\xff" * 64), "x.txt") for name in fields}
                ),
                "content_type": "multipart/form-data",
            },
        ),
        Payload(
            "JSON with wrong types",
            True,
            {
                "data": json.dumps(
                    dict(zip(fields, itertools.cycle([5, [1, 2], {"a": None}, True, None])))
                ),
                "content_type": "application/json",
                "headers": {"X-CSRFToken": token},
            },
        ),
        Payload(
            "blank fields from htmx",
            True,
            {"data": _blank(fields), "headers": {**HTMX_HEADERS, "X-CSRFToken": token}},
        ),
    ]
    for name in fields:
        attacks.append(
            Payload(
                f"1 MB in {name}",
                True,
                {"data": with_token({**_blank(fields), name: "y" * MEGABYTE})},
            )
        )
    return attacks


def _plausible(name: str) -> str:
    if "email" in name:
        return "emma@example.com"
    if "password" in name or name == "confirm":
        return DEFAULT_PASSWORD
    return "plausible"


def _blank(fields):
    return dict.fromkeys(fields, "")


def readable_problem(response, *, must_refuse: bool) -> str | None:
    """None when the answer is a 4xx page or fragment that tells a person what happened.

    Where the route's form is unknown, the payload may happen to be acceptable: then a
    2xx or 3xx passes, provided that the database did not change (checked by the caller).
    """
    text = page_text(response)
    status = response.status_code
    if "Traceback" in text or "Werkzeug" in text or "werkzeug" in text:
        return f"status {status} with a traceback or the bare Werkzeug page"
    if status >= 500 or (status < 400 and must_refuse):
        return f"status {status}"
    if status < 400:
        return None
    if status == 422 and 'role="alert"' not in text:
        return "422 without an error message"
    if 'role="alert"' not in text and not re.search(r"<h1[\s>]", text):
        return f"{status} without a message for a person"
    return None


_addresses = (f"10.66.{n // 250}.{n % 250 + 1}" for n in itertools.count())


def send(client, url: str, payload: Payload):
    kwargs = dict(payload.kwargs)
    headers = dict(kwargs.pop("headers", {}))
    # A new address for each request, so the per-address limits never hide a handler.
    return client.post(
        url, headers=headers, environ_base={"REMOTE_ADDR": next(_addresses)}, **kwargs
    )


# The states routes are attacked in.


@dataclass
class World:
    client: object
    url_values: dict
    pages: list[str]


@pytest.fixture
def worlds(app, request, clock):
    def enrol(user_id: int) -> str:
        try:
            enrol_fixture = request.getfixturevalue("enrol")
        except pytest.FixtureLookupError:
            return ""
        secret, _codes = enrol_fixture(user_id)
        return secret

    def build(state: str) -> World:
        client = app.test_client()
        if state == SETUP:
            first_run.ensure_token(app.instance_path)
            return World(client, {}, [])
        company = request.getfixturevalue("company")
        make_user = request.getfixturevalue("make_user")
        employee = make_user("emma@example.com", name="Emma Stone")
        with app.app_context():
            invited = make_user("ivy@example.com", name="Ivy Invited")
            token = invitations.issue(
                db.session.get(User, invited), invitations.PURPOSE_INVITE, by=None
            )
            db.session.commit()
        values = {"token": token, "user_id": employee, "session_id": 1}
        assert company
        if state == ANONYMOUS:
            return World(client, values, ["/login", f"/invitation/{token}"])
        if state == PENDING:
            if not enrol(employee):
                pytest.skip("two-step authentication is not available")
            assert sign_in(client, "emma@example.com").status_code == 303
            return World(client, values, ["/login/code", "/login/recovery"])

        admin = make_user("ada@example.com", name="Ada Admin", admin=True)
        secret = enrol(admin)
        with app.app_context():
            db.session.get(Company, 1).remember_browser_days = 30
            db.session.commit()
        # A second browser, so that the sessions list offers to end one, remembered so
        # that the remembered browsers panel offers to forget it.
        for browser, remember in ((app.test_client(), "y"), (client, "")):
            response = sign_in(browser, "ada@example.com")
            assert response.status_code == 303
            if secret:
                code = totp_code(secret, clock)
                clock.advance(seconds=30)
                response = browser.post(
                    "/login/code",
                    data={
                        "code": code,
                        "remember": remember,
                        "csrf_token": csrf_token(browser, "/login/code"),
                    },
                )
                assert response.status_code == 303, page_text(response)
        with app.app_context():
            from portal.models import RememberedBrowser, UserSession

            values["session_id"] = db.session.scalars(
                select(UserSession.id).where(UserSession.user_id == admin).order_by(UserSession.id)
            ).first()
            values["browser_id"] = db.session.scalars(select(RememberedBrowser.id)).first() or 1
        with app.app_context():
            from portal.models import Notification

            values["notice_id"] = db.session.scalars(
                select(Notification.id).where(Notification.user_id == admin)
            ).first()
        values["user_id"] = employee
        return World(client, values, [])

    return build


def get_paths(app, values) -> list[str]:
    paths = []
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and rule.endpoint != "static":
            try:
                paths.append(
                    adapter.build(rule.endpoint, {k: values.get(k, "x") for k in rule.arguments})
                )
            except Exception:
                continue
    return sorted(set(paths))


def post_rules(app):
    return sorted(
        (rule for rule in app.url_map.iter_rules() if "POST" in rule.methods),
        key=lambda rule: rule.rule,
    )


def discover_forms(client, paths) -> dict[str, dict[str, str]]:
    forms: dict[str, dict[str, str]] = {}
    for path in paths:
        response = client.get(path)
        if response.mimetype == "text/html":
            read_forms(page_text(response), forms)
    return forms


@pytest.mark.parametrize("state", [ANONYMOUS, PENDING, SIGNED_IN, SETUP])
def test_hostile_posts_are_refused_cleanly(app, worlds, state):
    world = worlds(state)
    adapter = app.url_map.bind("localhost")
    rules = [rule for rule in post_rules(app) if HOSTILE_CASES.get(rule.endpoint) == state]
    forms = discover_forms(world.client, [*world.pages, *get_paths(app, world.url_values)])
    token = csrf_token(world.client, "/login")

    problems = []
    attacked = []
    for rule in rules:
        url = adapter.build(
            rule.endpoint, {name: world.url_values[name] for name in rule.arguments}
        )
        known = forms.get(urlsplit(url).path) or FORMACTION_FIELDS.get(urlsplit(url).path)
        fields = sorted(set(known) - {"csrf_token"}) if known is not None else list(GENERIC_FIELDS)
        # A button (a form with nothing but its CSRF token) does its one thing when the
        # token is right; only the forged and missing tokens are hostile there.
        is_button = known is not None and not fields
        attacked.append(rule.endpoint)
        for payload in payloads(fields or list(GENERIC_FIELDS), token):
            if is_button and payload.with_token:
                continue
            before = snapshot(app)
            response = send(world.client, url, payload)
            problem = readable_problem(
                response, must_refuse=known is not None or not payload.with_token
            )
            if problem is None and snapshot(app) != before:
                problem = describe_change(before, snapshot(app))
            if problem:
                problems.append(f"POST {url} [{payload.name}]: {problem}")
    assert attacked or state == PENDING, f"no POST route is meant for the {state} state"
    assert not problems, "\n".join(problems)


def post_routes_without_a_case(app) -> list[str]:
    """The POST routes of this app that HOSTILE_CASES does not attack, as endpoint (path)."""
    return sorted(
        f"{rule.endpoint} ({rule.rule})"
        for rule in post_rules(app)
        if HOSTILE_CASES.get(rule.endpoint) not in (ANONYMOUS, PENDING, SIGNED_IN, SETUP)
    )


def assert_every_post_route_is_attacked(app) -> None:
    missing = post_routes_without_a_case(app)
    assert not missing, "POST routes with no hostile-input case in HOSTILE_CASES: " + ", ".join(
        missing
    )
    endpoints = {rule.endpoint for rule in post_rules(app)}
    stale = sorted(set(HOSTILE_CASES) - endpoints)
    assert not stale, "HOSTILE_CASES names endpoints with no POST route: " + ", ".join(stale)


def test_every_post_route_is_attacked(app):
    assert_every_post_route_is_attacked(app)


def test_a_post_route_without_a_case_is_named(app):
    """The check above fails for a POST route it does not know, and says which."""
    probe = Blueprint("probe", __name__)

    @probe.post("/probe/new-form")
    def new_form():
        return "made"

    @probe.route("/probe/form-and-page", methods=["GET", "POST"])
    def form_and_page():
        return "made"

    @probe.get("/probe/page")
    def page_only():
        return "a page"

    app.register_blueprint(probe)

    assert post_routes_without_a_case(app) == [
        "probe.form_and_page (/probe/form-and-page)",
        "probe.new_form (/probe/new-form)",
    ]
    with pytest.raises(AssertionError) as failure:
        assert_every_post_route_is_attacked(app)
    assert "probe.new_form (/probe/new-form)" in str(failure.value)
    assert "probe.page_only" not in str(failure.value)


HOSTILE_QUERIES = [
    {"next": "//evil.com"},
    {"next": "javascript:alert(1)"},
    {"q": "x" * 10_000},
    {"q": "\x00"},
    {"q": GARBAGE},
    {"q": ["a", "b"]},
    {"page": "-1"},
    {"page": "0"},
    {"page": "abc"},
    {"page": "99999999999999999999"},
    {"token": "\x00" * 3},
    {"token": "t" * 10_000},
    {"kind": "'; DROP TABLE users; --", "since": "not a date", "until": "9999-99-99"},
    {"person": GARBAGE, "from": "0001-01-01", "to": "9999-12-31"},
    {"person": "\x00%_", "from": "2026-02-30", "to": ["2026-01-01", "x"]},
]


@pytest.mark.parametrize("state", [ANONYMOUS, SIGNED_IN, SETUP])
def test_hostile_query_strings_never_break_a_page(app, worlds, state):
    world = worlds(state)
    problems = []
    paths = get_paths(app, world.url_values)
    raw_queries = ["q=%FF%FE%C3%28", "page=%00", "next=%5C%5Cevil.com", "%zz=%zz&&=&q"]
    for path in paths:
        before = snapshot(app)
        for query in [*HOSTILE_QUERIES, *raw_queries]:
            response = world.client.get(path, query_string=query)
            if response.status_code >= 500 or "Traceback" in page_text(response):
                problems.append(f"GET {path}?{query!r}: status {response.status_code}")
            response.close()
        if snapshot(app) != before:
            problems.append(f"GET {path}: {describe_change(before, snapshot(app))}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "path",
    [
        "/invitation/%FF%FE",
        "/invitation/" + "t" * 5000,
        "/invitation/%00",
        "/admin/employees/99999999999999999999",
        "/admin/employees/-1",
        "/profile/security/sessions/99999999999999999999/end",
        "/static/../../etc/passwd",
        "/%FF",
    ],
)
def test_hostile_paths_get_a_clean_answer(app, worlds, path):
    world = worlds(SIGNED_IN)
    before = snapshot(app)
    for method in ("get", "post"):
        response = getattr(world.client, method)(
            path, data={"csrf_token": csrf_token(world.client, "/login")}
        )
        if method == "get" and response.status_code == 303:
            # A GET on a form's address leads back to the page the form is on.
            assert response.headers["Location"].startswith("/"), response.headers["Location"]
            continue
        assert 400 <= response.status_code < 500, (method, path, response.status_code)
        assert "Traceback" not in page_text(response)
    assert snapshot(app) == before
