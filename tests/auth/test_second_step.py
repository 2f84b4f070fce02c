"""The second sign-in step: the app code, recovery codes, replay, drift and throttling."""

import re
import threading

import pytest
from sqlalchemy import select

from portal.auth.current import COOKIE_NAME
from portal.database import db
from portal.models import UserSession
from tests.support import (
    audit_kinds,
    csrf_token,
    page_text,
    post,
    sign_in,
    totp_code,
    user_row,
    wrong_code,
)


def test_password_step_leads_to_the_code_page(client, employee, enrol, clock):
    enrol(employee)
    response = sign_in(client, "emma@example.com")
    assert response.status_code == 303
    assert "/login/code" in response.headers["Location"]
    page = page_text(client.get("/login/code"))
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' in page
    assert "Use a recovery code instead" in page


def test_pending_sign_in_reaches_no_other_page(client, app, employee, enrol, clock):
    enrol(employee)
    sign_in(client, "emma@example.com")
    allowed = {"auth.second_step", "auth.recovery_step", "auth.cancel_sign_in", "static"}
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in allowed:
            continue
        values = {
            name: (1 if "int" in type(conv).__name__.lower() else "x")
            for name, conv in rule._converters.items()
        }
        path = rule.build(values, append_unknown=False)[1]
        for method in rule.methods & {"GET", "POST"}:
            for headers in ({}, {"HX-Request": "true"}):
                response = client.open(path, method=method, headers=headers, data={})
                if headers:
                    assert response.status_code == 204, (method, path)
                    assert response.headers["HX-Redirect"].startswith("/login/code")
                else:
                    assert response.status_code == 303, (method, path, response.status_code)
                    assert response.headers["Location"].startswith("/login/code")
                checked += 1
    assert checked > 20


def test_correct_code_signs_in_with_a_new_session_id(client, employee, enrol, clock):
    secret, _ = enrol(employee)
    sign_in(client, "emma@example.com")
    pending_token = client.get_cookie(COOKIE_NAME).value
    response = post(client, "/login/code", {"code": totp_code(secret, clock)})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/profile/security")
    assert client.get_cookie(COOKIE_NAME).value != pending_token
    assert client.get("/profile/security").status_code == 200


def test_next_is_kept_through_the_second_step_but_only_on_site(client, employee, enrol, clock):
    secret, _ = enrol(employee)
    response = post(
        client,
        "/login",
        {"email": "emma@example.com", "password": "correct horse battery", "next": "/profile/"},
    )
    assert (
        "next=/profile/" in response.headers["Location"]
        or "next=%2Fprofile%2F" in response.headers["Location"]
    )
    done = post(client, "/login/code?next=/profile/", {"code": totp_code(secret, clock)})
    assert done.headers["Location"] == "/profile/"

    post(client, "/logout")
    sign_in(client, "emma@example.com")
    clock.advance(seconds=30)
    evil = post(client, "/login/code?next=//evil.example", {"code": totp_code(secret, clock)})
    assert evil.headers["Location"].endswith("/profile/security")


def test_pending_sign_in_expires_after_five_minutes(client, employee, enrol, clock):
    secret, _ = enrol(employee)
    sign_in(client, "emma@example.com")
    clock.advance(minutes=5, seconds=1)
    response = post(client, "/login/code", {"code": totp_code(secret, clock)})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/login")
    assert client.get("/profile/security").status_code == 302


def test_a_code_is_accepted_once(client, other_client, employee, enrol, clock):
    secret, _ = enrol(employee)
    code = totp_code(secret, clock)
    sign_in(client, "emma@example.com")
    assert post(client, "/login/code", {"code": code}).status_code == 303
    sign_in(other_client, "emma@example.com")
    replay = post(other_client, "/login/code", {"code": code})
    assert replay.status_code == 422
    assert "used already" in page_text(replay)


def test_an_older_step_than_the_last_used_is_refused(client, other_client, employee, enrol, clock):
    secret, _ = enrol(employee)
    sign_in(client, "emma@example.com")
    assert post(client, "/login/code", {"code": totp_code(secret, clock, +1)}).status_code == 303
    sign_in(other_client, "emma@example.com")
    assert (
        post(other_client, "/login/code", {"code": totp_code(secret, clock, 0)}).status_code == 422
    )


@pytest.mark.parametrize(
    ("steps", "accepted"), [(-2, False), (-1, True), (0, True), (1, True), (2, False)]
)
def test_one_step_of_clock_drift_either_way_is_accepted_and_two_are_not(
    client, employee, enrol, clock, steps, accepted
):
    secret, _ = enrol(employee)
    clock.advance(seconds=60)  # keep T-2 after the enrolment's own step
    sign_in(client, "emma@example.com")
    response = post(client, "/login/code", {"code": totp_code(secret, clock, steps)})
    assert (response.status_code == 303) is accepted


def test_code_from_a_phone_minutes_off_is_explained_and_counts(client, app, employee, enrol, clock):
    secret, _ = enrol(employee)
    sign_in(client, "emma@example.com")
    response = post(client, "/login/code", {"code": totp_code(secret, clock, -6)})
    assert response.status_code == 422
    assert "about 3 minutes" in page_text(response) and "behind" in page_text(response)
    assert user_row(app, employee).second_step_failures == 1


def test_wrong_codes_slow_down_then_lock(client, app, employee, enrol, clock):
    secret, _ = enrol(employee)
    sign_in(client, "emma@example.com")

    def wrong():
        return post(client, "/login/code", {"code": wrong_code(secret, clock)})

    assert wrong().status_code == 422
    assert wrong().status_code == 422
    third = wrong()
    assert third.status_code == 422  # the third failure is recorded, then the waiting starts
    # Now even the right code must wait.
    waiting = post(client, "/login/code", {"code": totp_code(secret, clock)})
    assert waiting.status_code == 429
    assert "wait" in page_text(waiting)
    assert user_row(app, employee).second_step_failures == 3

    for expected in range(4, 11):
        clock.advance(seconds=320)  # longer than any growing delay before the lock
        sign_in(client, "emma@example.com")  # a new password step does not reset the count
        assert wrong().status_code in (422, 429)
        assert user_row(app, employee).second_step_failures == expected

    clock.advance(minutes=14)
    sign_in(client, "emma@example.com")
    locked = post(client, "/login/code", {"code": totp_code(secret, clock)})
    assert locked.status_code == 429
    assert "locked" in page_text(locked)

    clock.advance(minutes=1, seconds=1)
    sign_in(client, "emma@example.com")
    assert post(client, "/login/code", {"code": totp_code(secret, clock)}).status_code == 303
    assert user_row(app, employee).second_step_failures == 0
    kinds = audit_kinds(app, employee)
    assert kinds.count("two_step_failed") == 10
    assert kinds.count("two_step_locked") == 1


def test_sign_in_with_a_recovery_code_in_any_form(
    client, other_client, app, employee, enrol, clock
):
    _, codes = enrol(employee)
    sign_in(client, "emma@example.com")
    assert "Use a recovery code" in page_text(client.get("/login/recovery"))
    typed = "  " + codes[0].replace("-", "").upper() + " "
    response = post(client, "/login/recovery", {"code": typed})
    assert response.status_code == 303
    page = page_text(client.get("/profile/security", follow_redirects=True))
    assert "you have 9 codes left" in page
    assert "9 left" in page
    assert "127.0.0.1" in page  # where the used code was used

    sign_in(other_client, "emma@example.com")
    again = post(other_client, "/login/recovery", {"code": codes[0]})
    assert again.status_code == 422
    assert "used already" in page_text(again)


def test_low_recovery_codes_are_warned_about(client, employee, enrol, clock):
    _, codes = enrol(employee)
    for code in codes[:7]:
        sign_in(client, "emma@example.com")
        assert post(client, "/login/recovery", {"code": code}).status_code == 303
        post(client, "/logout")
    sign_in(client, "emma@example.com")
    post(client, "/login/recovery", {"code": codes[7]})
    page = page_text(client.get("/profile/security"))
    assert re.search(r"Only 2 recovery codes left", page)


def test_cancel_ends_the_pending_sign_in(client, employee, enrol, clock):
    enrol(employee)
    sign_in(client, "emma@example.com")
    response = post(client, "/login/cancel")
    assert response.headers["Location"].endswith("/login")
    assert client.get("/login").status_code == 200
    assert client.get("/login/code").status_code == 303


def test_a_code_that_fits_a_later_time_is_not_explained_at_sign_in(
    client, app, employee, enrol, clock
):
    """Saying "your phone is ahead" would tell a guesser that the code works later."""
    secret, _ = enrol(employee)
    sign_in(client, "emma@example.com")
    response = post(client, "/login/code", {"code": totp_code(secret, clock, +8)})
    assert response.status_code == 422
    assert "That code is not right" in page_text(response)
    assert "minutes" not in page_text(response).split("Codes keep being refused")[0]
    assert user_row(app, employee).second_step_failures == 1


def test_the_csrf_token_is_renewed_at_sign_in_and_sign_out(client, employee, enrol, clock):
    planted = csrf_token(client)
    secret, _ = enrol(employee)
    sign_in(client, "emma@example.com")
    assert csrf_token(client, "/login/code") != planted
    # A token from before the sign-in is refused afterwards.
    response = client.post(
        "/login/code", data={"code": totp_code(secret, clock), "csrf_token": planted}
    )
    assert response.status_code == 400
    signed_in_token = csrf_token(client, "/login/code")
    assert post(client, "/login/code", {"code": totp_code(secret, clock)}).status_code == 303
    assert csrf_token(client, "/profile/") != signed_in_token


def test_the_fresh_password_window_starts_at_the_password_step(client, employee, enrol, clock):
    secret, _ = enrol(employee)
    sign_in(client, "emma@example.com")
    clock.advance(minutes=4)
    assert post(client, "/login/code", {"code": totp_code(secret, clock)}).status_code == 303
    clock.advance(minutes=2)  # six minutes after the password was typed
    # The Security page asks for the password again before anything guarded.
    response = post(client, "/profile/security/enable", follow_redirects=True)
    assert response.status_code == 200
    assert "confirm your password" in page_text(response)


def test_one_pending_sign_in_completes_once_when_two_codes_race(
    app, client, employee, enrol, clock
):
    secret, codes = enrol(employee)
    sign_in(client, "emma@example.com")
    token = csrf_token(client, "/login/code")
    twin = app.test_client()  # the same browser, in a second tab
    for cookie in client._cookies.values():
        twin.set_cookie(cookie.key, cookie.value)
    barrier = threading.Barrier(2)
    statuses = {}

    def send(name, browser, path, code):
        barrier.wait()
        statuses[name] = browser.post(path, data={"code": code, "csrf_token": token})

    threads = [
        threading.Thread(
            target=send, args=("app", client, "/login/code", totp_code(secret, clock))
        ),
        threading.Thread(target=send, args=("recovery", twin, "/login/recovery", codes[0])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    locations = sorted(response.headers.get("Location", "") for response in statuses.values())
    assert [response.status_code for response in statuses.values()] == [303, 303]
    assert locations == ["/login", "/profile/security"], locations
    with app.app_context():
        full = db.session.scalars(select(UserSession).where(UserSession.stage == "full")).all()
    assert len(full) == 1
    winner = client if statuses["app"].headers["Location"] == "/profile/security" else twin
    assert winner.get("/profile/security").status_code == 200
