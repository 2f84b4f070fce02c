"""Changes that guard two-step authentication: a new phone, turning it off, new codes."""

from portal.services import totp
from tests.support import (
    audit_kinds,
    page_text,
    post,
    recovery_code_hashes,
    recovery_codes_from_page,
    secret_from_page,
    sign_in,
    sign_in_with_code,
    totp_code,
    user_row,
    wrong_code,
)

# --- My mobile device has changed ------------------------------------------------------


def test_device_change_needs_the_password_and_a_code(client, app, employee, enrol, clock):
    secret, _ = enrol(employee)
    sign_in_with_code(client, secret, clock)
    opened = client.get("/profile/security?open=device")
    assert "My mobile device has changed" in page_text(opened)

    wrong_password = post(
        client,
        "/profile/security/device",
        {"password": "nope nope nope", "code": totp_code(secret, clock)},
        follow_redirects=True,
    )
    assert wrong_password.status_code == 422
    assert "password is not right" in page_text(wrong_password)
    with_a_wrong_code = post(
        client,
        "/profile/security/device",
        {
            "password": "correct horse battery",
            "code": wrong_code(secret, clock),
        },
        follow_redirects=True,
    )
    assert with_a_wrong_code.status_code == 422
    assert user_row(app, employee).pending_totp_secret is None


def test_new_phone_keeps_the_old_one_working_until_confirmed(
    client, other_client, app, employee, enrol, clock
):
    old_secret, _ = enrol(employee)
    sign_in_with_code(client, old_secret, clock)
    started = post(
        client,
        "/profile/security/device",
        {"password": "correct horse battery", "code": totp_code(old_secret, clock)},
        follow_redirects=True,
    )
    assert started.status_code == 200
    page = page_text(started)
    assert "Set up your new device" in page
    new_secret = secret_from_page(page)
    assert new_secret != old_secret
    clock.advance(seconds=30)

    # Meanwhile the old phone still signs in.
    sign_in_with_code(other_client, old_secret, clock)

    confirmed = post(
        client,
        "/profile/security/confirm",
        {"code": totp_code(new_secret, clock)},
        follow_redirects=True,
    )
    assert confirmed.status_code == 200
    assert "Your new device is set up" in page_text(confirmed)
    clock.advance(seconds=30)
    # The other session was signed out, and the old phone's codes no longer work.
    assert other_client.get("/profile/security").status_code == 302
    sign_in(other_client, "emma@example.com")
    assert (
        post(other_client, "/login/code", {"code": totp_code(old_secret, clock)}).status_code == 422
    )
    clock.advance(seconds=30)
    assert (
        post(other_client, "/login/code", {"code": totp_code(new_secret, clock)}).status_code == 303
    )
    assert "device_changed" in audit_kinds(app, employee)


def test_device_change_with_a_recovery_code_and_cancel(client, app, employee, enrol, clock):
    old_secret, codes = enrol(employee)
    sign_in_with_code(client, old_secret, clock)
    started = post(
        client,
        "/profile/security/device",
        {"password": "correct horse battery", "code": codes[0]},
        follow_redirects=True,
    )
    assert started.status_code == 200
    assert "Set up your new device" in page_text(started)
    cancelled = post(client, "/profile/security/cancel", follow_redirects=True)
    assert "keeps working" in page_text(cancelled)
    user = user_row(app, employee)
    assert user.pending_totp_secret is None and user.totp_secret is not None
    post(client, "/logout")
    sign_in_with_code(client, old_secret, clock)


# --- Turning it off --------------------------------------------------------------------


def test_turn_off_needs_password_and_code_and_removes_everything(
    client, other_client, app, employee, enrol, clock
):
    secret, _ = enrol(employee)
    sign_in_with_code(other_client, secret, clock)
    sign_in_with_code(client, secret, clock)

    refused = post(
        client,
        "/profile/security/turn-off",
        {"password": "correct horse battery", "code": "12345"},
        follow_redirects=True,
    )
    assert refused.status_code == 422
    assert user_row(app, employee).totp_secret is not None

    done = post(
        client,
        "/profile/security/turn-off",
        {"password": "correct horse battery", "code": totp_code(secret, clock)},
        follow_redirects=True,
    )
    assert done.status_code == 200
    assert "Two-step authentication is off" in page_text(done)
    user = user_row(app, employee)
    assert user.totp_secret is None and user.totp_last_step is None
    assert recovery_code_hashes(app, employee) == set()
    assert other_client.get("/profile/security").status_code == 302
    post(client, "/logout")
    assert sign_in(client, "emma@example.com").headers["Location"].endswith("/profile/security")
    assert "two_step_disabled" in audit_kinds(app, employee)


def test_turn_off_is_refused_where_the_policy_forbids_it(
    client, app, employee, enrol, clock, monkeypatch
):
    from portal.services import policy

    secret, _ = enrol(employee)
    sign_in_with_code(client, secret, clock)
    monkeypatch.setattr(policy, "may_turn_off_two_step", lambda user: False)
    assert "Turn off" not in page_text(client.get("/profile/security"))
    refused = post(
        client,
        "/profile/security/turn-off",
        {"password": "correct horse battery", "code": totp_code(secret, clock)},
        follow_redirects=True,
    )
    assert refused.status_code == 422
    assert user_row(app, employee).totp_secret is not None


# --- New recovery codes ----------------------------------------------------------------


def test_regenerate_needs_password_and_a_current_code_and_replaces_all(
    client, other_client, app, employee, enrol, clock
):
    secret, old_codes = enrol(employee)
    sign_in_with_code(client, secret, clock)
    with_recovery_code = post(
        client,
        "/profile/security/recovery-codes",
        {"password": "correct horse battery", "code": old_codes[0]},
        follow_redirects=True,
    )
    assert with_recovery_code.status_code == 422  # a current app code is needed here
    wrong_password = post(
        client,
        "/profile/security/recovery-codes",
        {"password": "wrong password!", "code": totp_code(secret, clock)},
        follow_redirects=True,
    )
    assert wrong_password.status_code == 422

    response = post(
        client,
        "/profile/security/recovery-codes",
        {"password": "correct horse battery", "code": totp_code(secret, clock)},
        follow_redirects=True,
    )
    assert response.status_code == 200
    new_codes = recovery_codes_from_page(page_text(response))
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    post(client, "/profile/security/codes-saved", {"saved": "y"}, follow_redirects=True)

    sign_in(other_client, "emma@example.com")
    assert post(other_client, "/login/recovery", {"code": old_codes[1]}).status_code == 422
    assert post(other_client, "/login/recovery", {"code": new_codes[0]}).status_code == 303
    assert "recovery_codes_regenerated" in audit_kinds(app, employee)


# --- Guards on every 2FA form ----------------------------------------------------------

TWO_STEP_FORMS = [
    "/profile/security/enable",
    "/profile/security/confirm",
    "/profile/security/cancel",
    "/profile/security/codes-saved",
    "/profile/security/device",
    "/profile/security/turn-off",
    "/profile/security/recovery-codes",
    "/login/code",
    "/login/recovery",
    "/login/cancel",
]


def test_every_two_step_form_needs_the_csrf_token(client, app, employee, enrol, clock):
    secret, _codes = enrol(employee)
    sign_in_with_code(client, secret, clock)
    before = user_row(app, employee)
    for path in TWO_STEP_FORMS:
        response = client.post(
            path,
            data={
                "password": "correct horse battery",
                "code": totp_code(secret, clock),
                "saved": "y",
            },
        )
        assert response.status_code in (400, 303), path
        if response.status_code == 303:  # the second-step pages send a full session away
            assert "/login" not in response.headers["Location"] or path.startswith("/login")
    after = user_row(app, employee)
    assert (after.totp_secret, after.pending_totp_secret, after.totp_last_step) == (
        before.totp_secret,
        before.pending_totp_secret,
        before.totp_last_step,
    )
    assert client.get("/profile/security").status_code == 200


def test_every_two_step_change_needs_a_signed_in_user(client):
    for path in TWO_STEP_FORMS[:7]:
        response = post(client, path, {"password": "x", "code": "123456"})
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


# --- Recent activity -------------------------------------------------------------------


def test_recent_activity_shows_the_employees_events(client, employee, enrol, clock):
    secret, _ = enrol(employee)
    sign_in_with_code(client, secret, clock)
    page = page_text(client.get("/profile/security"))
    assert "Two-step authentication turned on" in page
    assert "Signed in" in page


# --- Nothing secret leaks once enrolment is confirmed ----------------------------------


def test_no_secret_or_code_in_cookies_logs_or_pages(client, app, employee, clock, caplog):
    caplog.set_level("DEBUG")
    sign_in(client, "emma@example.com")
    secret = secret_from_page(
        page_text(post(client, "/profile/security/enable", follow_redirects=True))
    )
    code = totp_code(secret, clock)
    codes = recovery_codes_from_page(
        page_text(post(client, "/profile/security/confirm", {"code": code}, follow_redirects=True))
    )
    post(client, "/profile/security/codes-saved", {"saved": "y"}, follow_redirects=True)
    secrets = [secret, totp.grouped(secret), *codes, *(c.replace("-", "") for c in codes)]

    cookies = " ".join(cookie.value for cookie in client._cookies.values())
    for value in secrets:
        assert value not in cookies
        assert value not in caplog.text

    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments or rule.endpoint == "static":
            continue
        body = page_text(client.get(rule.rule, follow_redirects=True))
        for value in secrets:
            assert value not in body, (rule.rule, value)


def test_wrong_passwords_share_one_tight_budget_per_account(client, app, employee, clock):
    sign_in(client, "emma@example.com")
    clock.advance(minutes=6)  # the password is no longer fresh, so Enable asks for it
    statuses = [
        post(
            client,
            "/profile/security/enable",
            {"password": f"guess number {i}"},
            follow_redirects=True,
        ).status_code
        for i in range(5)
    ]
    statuses += [
        post(
            client,
            "/profile/password",
            {
                "current_password": f"guess number {i}",
                "new_password": "a new pass phrase",
                "confirm": "a new pass phrase",
            },
        ).status_code
        for i in range(5)
    ]
    assert statuses == [422] * 10
    # The eleventh wrong guess, on any of these forms, waits; so does the right password.
    assert (
        post(
            client,
            "/profile/security/enable",
            {"password": "guess number 11"},
            follow_redirects=True,
        ).status_code
        == 429
    )
    assert (
        post(
            client,
            "/profile/security/enable",
            {"password": "correct horse battery"},
            follow_redirects=True,
        ).status_code
        == 429
    )
    assert user_row(app, employee).pending_totp_secret is None
