"""Waits between code attempts at sign-in: said in words, obeying them does not end the
pending sign-in (up to a hard limit), and a sign-in that does time out says so and keeps
the email."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal import wording
from portal.database import db
from portal.models import User
from portal.services import sessions
from tests.support import (
    DEFAULT_PASSWORD,
    csrf_token,
    page_text,
    post,
    sign_in,
    totp_code,
    user_row,
    wrong_code,
)


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0, "a few seconds"),
        (1, "a few seconds"),
        (5, "a few seconds"),
        (20, "about 20 seconds"),
        (44, "about 40 seconds"),
        (60, "about a minute"),
        (80, "about a minute"),
        (160, "about 3 minutes"),
        (320, "about 5 minutes"),
        (900, "about 15 minutes"),
        (3600, "about an hour"),
        (3 * 3600, "about 3 hours"),
    ],
)
def test_durations_in_words(seconds, said):
    assert wording.duration(seconds) == said


def _wrong(client, secret, clock):
    return post(client, "/login/code", {"code": wrong_code(secret, clock)})


def _fail_until_the_wait_is(client, app, employee, secret, clock, failures: int):
    """Wrong codes, each tried once the previous wait is over, up to `failures` in a row."""
    for _ in range(failures):
        wait = user_row(app, employee).second_step_locked_until
        if wait is not None and wait > clock.now():
            clock.set(wait + timedelta(seconds=1))
        response = _wrong(client, secret, clock)
        assert response.status_code == 422, page_text(response)
    return response


def test_waits_are_said_in_words(client, app, employee, enrol, clock):
    secret, _ = enrol(employee)
    sign_in(client, "emma@example.com")
    third = _fail_until_the_wait_is(client, app, employee, secret, clock, 3)
    assert "Please wait a few seconds before the next try." in page_text(third)
    waiting = post(client, "/login/code", {"code": totp_code(secret, clock)})
    assert waiting.status_code == 429
    assert "Please wait a few seconds before the next try." in page_text(waiting)
    assert "seconds before" not in page_text(waiting).replace("a few seconds before", "")

    ninth = _fail_until_the_wait_is(client, app, employee, secret, clock, 6)
    assert "Please wait about 5 minutes before the next try." in page_text(ninth)
    assert "320 seconds" not in page_text(ninth)
    # The page counts down the exact wait where scripts run.
    assert 'data-wait-seconds="320"' in page_text(ninth)


def test_obeying_the_wait_keeps_the_pending_sign_in(client, app, employee, enrol, clock):
    secret, _ = enrol(employee)
    sign_in(client, "emma@example.com")
    started = clock.now()
    _fail_until_the_wait_is(client, app, employee, secret, clock, 9)  # then 320 s to wait
    wait_over = user_row(app, employee).second_step_locked_until
    assert wait_over - started > sessions.PENDING_LIFETIME
    # Still waiting, past five minutes from the password: the code page, not the sign-in.
    clock.set(wait_over - timedelta(seconds=10))
    assert client.get("/login/code").status_code == 200
    clock.set(wait_over + timedelta(minutes=2))
    done = post(client, "/login/code", {"code": totp_code(secret, clock)})
    assert done.status_code == 303
    assert done.headers["Location"].endswith("/profile/security")


def test_a_waiting_sign_in_still_ends_at_the_hard_limit(client, app, employee, enrol, clock):
    enrol(employee)
    sign_in(client, "emma@example.com")
    with app.app_context():
        user = db.session.get(User, employee)
        user.second_step_locked_until = clock.now() + timedelta(hours=2)
        db.session.commit()
    clock.advance(minutes=39)
    assert client.get("/login/code").status_code == 200
    clock.advance(minutes=1, seconds=1)
    ended = client.get("/login/code")
    assert ended.status_code == 303
    assert "/login?" in ended.headers["Location"]


@pytest.mark.parametrize("where", ["/login/code", "/login/recovery", "/profile/security"])
def test_a_timed_out_sign_in_says_why_and_keeps_the_email(client, employee, enrol, clock, where):
    secret, _ = enrol(employee)
    sign_in(client, "emma@example.com")
    token = csrf_token(client, "/login/code")
    clock.advance(minutes=5, seconds=1)
    if where == "/profile/security":
        response = client.get(where)
    else:
        response = client.post(where, data={"code": totp_code(secret, clock), "csrf_token": token})
    assert response.status_code == 303
    login = client.get(response.headers["Location"])
    text = page_text(login)
    assert "Your sign-in timed out before the code was entered." in text
    assert 'value="emma@example.com"' in text
    assert "Please sign in again." not in text


def test_a_timed_out_sign_in_keeps_where_it_was_going(client, employee, enrol, clock):
    secret, _ = enrol(employee)
    post(
        client, "/login?next=/profile/", {"email": "emma@example.com", "password": DEFAULT_PASSWORD}
    )
    token = csrf_token(client, "/login/code?next=/profile/")
    clock.advance(minutes=5, seconds=1)
    response = client.post(
        "/login/code?next=/profile/", data={"code": totp_code(secret, clock), "csrf_token": token}
    )
    assert response.status_code == 303
    login = page_text(client.get(response.headers["Location"]))
    assert 'value="/profile/"' in login
    assert 'value="emma@example.com"' in login
