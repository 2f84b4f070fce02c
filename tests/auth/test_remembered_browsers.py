"""Remember this browser: the checkbox at the app-code step, the cookie, sign-in that skips
the code there, and everything that makes the browser ask for the code again."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.auth.current import REMEMBER_COOKIE_NAME
from portal.database import db
from portal.models import Company, RememberedBrowser, User
from portal.origin import Origin
from portal.services import accounts, employees, remembered_browsers, two_step
from tests.support import (
    DEFAULT_PASSWORD,
    audit_rows,
    csrf_token,
    page_text,
    post,
    sign_in,
    totp_code,
    wrong_code,
)

ORIGIN = Origin("127.0.0.1", "pytest")
NEW_PASSWORD = "a brand new passphrase"


def allow_remembering(app, days: int = 30) -> None:
    with app.app_context():
        db.session.get(Company, 1).remember_browser_days = days
        db.session.commit()


def remembered_rows(app, user_id: int | None = None) -> list[RememberedBrowser]:
    with app.app_context():
        statement = select(RememberedBrowser).order_by(RememberedBrowser.id)
        if user_id is not None:
            statement = statement.where(RememberedBrowser.user_id == user_id)
        rows = list(db.session.scalars(statement))
        db.session.expunge_all()
        return rows


def sign_in_remembering(client, secret, clock, email="emma@example.com", *, remember=True):
    """Both steps, ticking "remember this browser" at the second; returns the code step's
    response. The clock then moves on so that the next code is a new one."""
    assert sign_in(client, email).headers["Location"].startswith("/login/code")
    data = {"code": totp_code(secret, clock)}
    if remember:
        data["remember"] = "y"
    response = post(client, "/login/code", data)
    assert response.status_code == 303, page_text(response)
    clock.advance(seconds=30)
    return response


def sign_out(client) -> None:
    assert post(client, "/logout").status_code == 303


def lands_without_code(client, email="emma@example.com", password=DEFAULT_PASSWORD) -> bool:
    """Signs in with the password; True when that alone completed the sign-in, False when
    the code step was asked for."""
    response = sign_in(client, email, password)
    assert response.status_code == 303, page_text(response)
    location = response.headers["Location"]
    if location.startswith("/login/code"):
        post(client, "/login/cancel")
        return False
    assert client.get("/profile/").status_code == 200
    return True


@pytest.fixture
def remembered(app, client, clock, employee, enrol):
    """Emma with two-step on; the company remembers browsers for 30 days and her browser
    (``client``) is remembered and signed out."""
    allow_remembering(app)
    secret, codes = enrol(employee)
    sign_in_remembering(client, secret, clock)
    sign_out(client)
    return secret, codes


# --- off by default ---------------------------------------------------------------------


def test_off_by_default_the_code_step_offers_no_checkbox_and_remembers_nothing(
    app, client, clock, employee, enrol
):
    secret, _ = enrol(employee)
    sign_in(client, "emma@example.com")
    assert 'name="remember"' not in page_text(client.get("/login/code"))

    response = sign_in_remembering(client, secret, clock)

    assert REMEMBER_COOKIE_NAME not in response.headers.get("Set-Cookie", "")
    assert remembered_rows(app) == []
    sign_out(client)
    assert not lands_without_code(client)


def test_the_checkbox_names_the_days_and_is_labelled(app, client, employee, enrol):
    allow_remembering(app, 1)
    enrol(employee)
    sign_in(client, "emma@example.com")
    html = page_text(client.get("/login/code"))
    assert (
        '<input aria-describedby="remember-hint" id="remember" name="remember" type="checkbox"'
        in html
    )
    assert '<label for="remember">Remember this browser for 1 day</label>' in html

    allow_remembering(app, 14)
    assert "Remember this browser for 14 days" in page_text(client.get("/login/code"))


# --- remembering, and the sign-in it shortens ---------------------------------------------


def test_a_remembered_browser_skips_the_second_step_within_the_days(
    app, client, clock, employee, enrol
):
    allow_remembering(app, 30)
    secret, _ = enrol(employee)
    response = sign_in_remembering(client, secret, clock)

    cookie = response.headers.getlist("Set-Cookie")
    remember = next(c for c in cookie if c.startswith(REMEMBER_COOKIE_NAME + "="))
    assert "HttpOnly" in remember
    assert "SameSite=Lax" in remember
    assert f"Max-Age={30 * 24 * 3600}" in remember
    assert "Secure" not in remember  # plain HTTP in tests; see the HTTPS test below
    [row] = remembered_rows(app, employee)
    token = remember.split(";")[0].split("=", 1)[1]
    assert token not in (row.token_hash, row.fingerprint)  # only a hash is stored
    assert [r.detail for r in audit_rows(app, "browser_remembered")] == ["for 30 days"]

    sign_out(client)
    clock.advance(days=29, hours=23)
    assert lands_without_code(client)
    sign_in_row = audit_rows(app, "sign_in")[-1]
    assert sign_in_row.detail == "password; second step skipped in a remembered browser"
    # The session id is new all the same.
    assert client.get_cookie("portal_session") is not None


def test_after_the_days_the_code_is_asked_again(app, client, clock, remembered):
    clock.advance(days=30)
    assert not lands_without_code(client)


def test_shortening_the_days_applies_to_browsers_remembered_already(app, client, clock, remembered):
    allow_remembering(app, 7)
    clock.advance(days=6)
    assert lands_without_code(client)
    sign_out(client)
    clock.advance(days=1)
    assert not lands_without_code(client)


def test_turning_the_option_off_asks_for_the_code_again(app, client, clock, remembered):
    allow_remembering(app, 0)
    assert not lands_without_code(client)


def test_the_cookie_is_secure_behind_https(make_app, clock, employee, enrol):
    app = make_app(HTTPS=True)
    allow_remembering(app)
    secret, _ = enrol(employee)
    client = app.test_client()
    https = {"base_url": "https://localhost"}

    def https_post(path, data):
        token = csrf_token(client, "https://localhost" + path)
        return client.post(
            path,
            data={**data, "csrf_token": token},
            headers={"Referer": "https://localhost" + path},
            **https,
        )

    signed = https_post("/login", {"email": "emma@example.com", "password": DEFAULT_PASSWORD})
    assert signed.headers["Location"].startswith("/login/code")
    response = https_post("/login/code", {"code": totp_code(secret, clock), "remember": "y"})
    assert response.status_code == 303, page_text(response)
    remember = next(
        c for c in response.headers.getlist("Set-Cookie") if c.startswith(REMEMBER_COOKIE_NAME)
    )
    assert "Secure" in remember and "HttpOnly" in remember and "SameSite=Lax" in remember


def test_unticked_the_browser_is_not_remembered(app, client, clock, employee, enrol):
    allow_remembering(app)
    secret, _ = enrol(employee)
    sign_in_remembering(client, secret, clock, remember=False)
    assert remembered_rows(app) == []
    sign_out(client)
    assert not lands_without_code(client)


def test_a_recovery_code_never_remembers(app, client, clock, employee, enrol):
    allow_remembering(app)
    _secret, codes = enrol(employee)
    sign_in(client, "emma@example.com")
    assert 'name="remember"' not in page_text(client.get("/login/recovery"))

    response = post(client, "/login/recovery", {"code": codes[0], "remember": "y"})

    assert response.status_code == 303, page_text(response)
    assert REMEMBER_COOKIE_NAME not in " ".join(response.headers.getlist("Set-Cookie"))
    assert remembered_rows(app) == []
    sign_out(client)
    assert not lands_without_code(client)


def test_a_wrong_code_with_the_box_ticked_remembers_nothing(app, client, clock, employee, enrol):
    allow_remembering(app)
    secret, _ = enrol(employee)
    sign_in(client, "emma@example.com")
    response = post(client, "/login/code", {"code": wrong_code(secret, clock), "remember": "y"})
    assert response.status_code == 422
    box = re.search(r'<input[^>]*name="remember"[^>]*>', page_text(response)).group(0)
    assert "checked" in box
    assert remembered_rows(app) == []


# --- what the cookie cannot do -------------------------------------------------------------


def test_a_forged_cookie_does_nothing(app, client, clock, employee, enrol):
    allow_remembering(app)
    enrol(employee)
    client.set_cookie(REMEMBER_COOKIE_NAME, "forged-" + "x" * 40)
    assert not lands_without_code(client)
    client.set_cookie(REMEMBER_COOKIE_NAME, "y" * 3000)
    assert not lands_without_code(client)


def test_another_accounts_cookie_does_nothing(
    app, client, other_client, clock, employee, make_user, enrol, remembered
):
    other = make_user("olga@example.com", name="Olga Other")
    enrol(other)
    # Emma's remembered browser, used by Olga.
    assert not lands_without_code(client, "olga@example.com")
    # Emma's cookie copied into another browser where Olga signs in.
    other_client.set_cookie(REMEMBER_COOKIE_NAME, client.get_cookie(REMEMBER_COOKIE_NAME).value)
    assert not lands_without_code(other_client, "olga@example.com")
    # Emma's own browser still skips for her.
    assert lands_without_code(client)


def test_the_cookie_does_not_stand_in_for_the_password(app, client, clock, remembered):
    response = sign_in(client, "emma@example.com", "not the password")
    assert response.status_code == 422
    assert client.get("/profile/").status_code != 200


def test_the_password_limits_still_apply(app, client, clock, remembered, limiter_clock):
    for _ in range(10):
        assert sign_in(client, "emma@example.com", "not the password").status_code == 422
    assert sign_in(client, "emma@example.com").status_code == 429


def test_a_locked_code_step_is_not_stepped_around(app, client, clock, employee, remembered):
    with app.app_context():
        user = db.session.get(User, employee)
        user.second_step_failures = 10
        user.second_step_locked_until = clock.now() + two_step.LOCK_DURATION
        db.session.commit()
    assert not lands_without_code(client)
    clock.advance(minutes=16)
    assert lands_without_code(client)


# --- each change that voids every remembered browser ---------------------------------------


def _voided_by(app, employee, kind_detail: str) -> None:
    assert remembered_rows(app, employee) == []
    details = [r.detail for r in audit_rows(app, "remembered_browsers_forgotten")]
    assert details == [f"1 forgotten: {kind_detail}"]


def test_a_new_phone_voids_it(app, client, other_client, clock, employee, remembered):
    secret, _ = remembered
    with app.app_context():
        user = db.session.get(User, employee)
        outcome = two_step.authorize_device_change(
            user, DEFAULT_PASSWORD, totp_code(secret, clock), ORIGIN, None
        )
        assert outcome.ok
        new_secret = two_step.pending_secret(user)
        clock.advance(seconds=30)
        assert two_step.confirm_enrolment(user, totp_code(new_secret, clock), ORIGIN, None).ok
    clock.advance(seconds=30)
    _voided_by(app, employee, "new phone")
    assert not lands_without_code(client)


def test_an_administrators_reset_voids_it(
    app, client, clock, employee, admin_user, enrol, remembered
):
    with app.app_context():
        employees.reset_two_step(
            db.session.get(User, employee),
            by=db.session.get(User, admin_user),
            origin=ORIGIN,
            reason="lost phone",
        )
    _voided_by(app, employee, "two-step reset by an administrator")
    [row] = audit_rows(app, "remembered_browsers_forgotten")
    assert (row.actor_id, row.subject_id) == (admin_user, employee)
    enrol(employee)
    assert not lands_without_code(client)


def test_turning_two_step_off_voids_it(app, client, clock, employee, enrol, remembered):
    secret, _ = remembered
    with app.app_context():
        assert two_step.turn_off(
            db.session.get(User, employee),
            DEFAULT_PASSWORD,
            totp_code(secret, clock),
            ORIGIN,
            None,
        ).ok
    _voided_by(app, employee, "two-step turned off")
    # Signing in with the password alone now is no skip: there is no second step at all.
    enrol(employee)
    assert not lands_without_code(client)


def test_a_password_change_voids_it(app, client, clock, employee, remembered):
    with app.app_context():
        accounts.change_password(
            db.session.get(User, employee),
            DEFAULT_PASSWORD,
            NEW_PASSWORD,
            keep=None,
            origin=ORIGIN,
        )
    _voided_by(app, employee, "password changed")
    assert not lands_without_code(client, password=NEW_PASSWORD)


def test_a_password_reset_by_an_administrator_voids_it(
    app, client, clock, employee, admin_user, remembered
):
    with app.app_context():
        employees.reset_password(
            db.session.get(User, employee), by=db.session.get(User, admin_user), origin=ORIGIN
        )
    _voided_by(app, employee, "password reset by an administrator")


def test_the_cookie_is_bound_to_the_password_even_where_no_row_was_deleted(
    app, client, clock, employee, remembered
):
    """The fingerprint alone voids it: a password set by any other path counts too."""
    with app.app_context():
        user = db.session.get(User, employee)
        accounts.set_password(user, NEW_PASSWORD)
        db.session.commit()
    assert len(remembered_rows(app, employee)) == 1
    assert not lands_without_code(client, password=NEW_PASSWORD)


def test_the_cookie_is_bound_to_the_secret_even_where_no_row_was_deleted(
    app, client, clock, employee, remembered
):
    with app.app_context():
        user = db.session.get(User, employee)
        keyring = app.extensions["keyring"]
        user.totp_secret = keyring.encrypt_secret("JBSWY3DPEHPK3PXP", user_id=user.id)
        db.session.commit()
    assert len(remembered_rows(app, employee)) == 1
    assert not lands_without_code(client)


def test_remembering_again_after_a_voiding_event_works(app, client, clock, employee, remembered):
    with app.app_context():
        accounts.change_password(
            db.session.get(User, employee), DEFAULT_PASSWORD, NEW_PASSWORD, keep=None, origin=ORIGIN
        )
    secret, _ = remembered
    assert sign_in(client, "emma@example.com", NEW_PASSWORD).status_code == 303
    response = post(client, "/login/code", {"code": totp_code(secret, clock), "remember": "y"})
    assert response.status_code == 303
    clock.advance(seconds=30)
    sign_out(client)
    assert lands_without_code(client, password=NEW_PASSWORD)


def test_the_service_recognises_nobody_while_two_step_is_off(app, employee):
    with app.app_context():
        user = db.session.get(User, employee)
        assert remembered_browsers.recognises(user, "anything") is False
        assert remembered_browsers.remember(user, ORIGIN) is None


def test_a_deactivated_account_cannot_sign_in_and_its_browsers_are_forgotten(
    app, client, clock, employee, admin_user, remembered
):
    with app.app_context():
        employees.deactivate(
            db.session.get(User, employee), by=db.session.get(User, admin_user), origin=ORIGIN
        )
    _voided_by(app, employee, "account deactivated")
    assert sign_in(client, "emma@example.com").status_code == 422
    assert client.get("/profile/").status_code != 200


def test_a_new_hash_of_the_same_password_keeps_it(
    app, make_app, client, clock, employee, remembered
):
    """Stronger hashing parameters rehash the password at the next sign-in: the password is
    the same, so the browser stays remembered."""
    before = user_hash(app, employee)
    stronger = make_app(fast_hashing=False)
    browser = stronger.test_client()
    browser.set_cookie(REMEMBER_COOKIE_NAME, client.get_cookie(REMEMBER_COOKIE_NAME).value)

    assert lands_without_code(browser)
    assert user_hash(app, employee) != before
    assert len(remembered_rows(app, employee)) == 1
    post(browser, "/logout")
    assert lands_without_code(browser)


def user_hash(app, user_id: int) -> str:
    with app.app_context():
        return db.session.get(User, user_id).password_hash
