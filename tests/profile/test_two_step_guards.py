"""Guards on the Security page side of two-step authentication, each proved on its own:
throttling of the guarded changes, wrong codes that count, an administrator's reset that
signs the employee out, secrets and codes shown only after a fresh password, CSRF for
htmx, and the lifetime of a pending enrolment."""

from __future__ import annotations

import pytest

from portal.services import totp
from tests.support import (
    CONFIRMED,
    DEFAULT_PASSWORD,
    HTMX_HEADERS,
    audit_kinds,
    audit_rows,
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

PASSWORD_PROMPT = "For your safety, confirm your password to continue."


def _two_step_state(app, user_id):
    user = user_row(app, user_id)
    return (
        user.totp_secret,
        user.pending_totp_secret,
        user.unsaved_recovery_codes,
        user.totp_enabled_at,
        recovery_code_hashes(app, user_id),
    )


def _start_enrolment(client):
    response = post(client, "/profile/security/enable", follow_redirects=True)
    assert response.status_code == 200
    return secret_from_page(page_text(response))


# --- the guarded changes are throttled ------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/profile/security/device", "/profile/security/turn-off", "/profile/security/recovery-codes"],
)
def test_guarded_change_waits_after_three_wrong_codes_even_for_the_right_one(
    client, app, employee, enrol, clock, path
):
    secret, _ = enrol(employee)
    sign_in_with_code(client, secret, clock)
    before = _two_step_state(app, employee)
    for _ in range(3):
        wrong = post(
            client, path, {"password": DEFAULT_PASSWORD, "code": wrong_code(secret, clock)}
        )
        assert wrong.status_code == 422
    assert user_row(app, employee).second_step_failures == 3

    refused = post(client, path, {"password": DEFAULT_PASSWORD, "code": totp_code(secret, clock)})
    assert refused.status_code == 429
    assert "wait" in page_text(refused)
    assert _two_step_state(app, employee) == before
    assert user_row(app, employee).totp_last_step != totp.step_at(
        clock.now()
    )  # the code was not spent


# --- a wrong code on the device form counts -------------------------------------------


def test_a_wrong_code_on_the_device_change_form_counts_against_the_account(
    client, app, employee, enrol, clock
):
    secret, _ = enrol(employee)
    sign_in_with_code(client, secret, clock)
    assert user_row(app, employee).second_step_failures == 0
    response = post(
        client,
        "/profile/security/device",
        {"password": DEFAULT_PASSWORD, "code": wrong_code(secret, clock)},
        follow_redirects=True,
    )
    assert response.status_code == 422
    user = user_row(app, employee)
    assert user.second_step_failures == 1
    assert user.pending_totp_secret is None
    assert audit_kinds(app, employee).count("two_step_failed") == 1


# --- an administrator's reset signs the employee out ----------------------------------


def test_admin_reset_ends_the_employees_signed_in_sessions(
    client, other_client, app, admin_user, employee, enrol, clock
):
    employee_secret, _ = enrol(employee)
    admin_secret, _ = enrol(admin_user)
    sign_in_with_code(other_client, employee_secret, clock)  # Emma, fully signed in
    assert other_client.get("/profile/security").status_code == 200
    sign_in_with_code(client, admin_secret, clock, email="ada@example.com")

    done = post(
        client,
        f"/admin/employees/{employee}/reset-two-step",
        {**CONFIRMED, "reason": "lost phone and codes"},
    )
    assert done.status_code == 303
    assert user_row(app, employee).totp_secret is None

    response = other_client.get("/profile/security")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    assert client.get("/profile/security").status_code == 200  # the admin's own session stays


# --- secrets and unsaved codes only after a fresh password ----------------------------


def test_pending_enrolment_key_and_qr_are_hidden_once_the_password_is_stale(
    client, app, employee, clock
):
    sign_in(client, "emma@example.com")
    secret = _start_enrolment(client)
    clock.advance(minutes=6)
    for headers in ({}, HTMX_HEADERS):
        page = page_text(client.get("/profile/security", headers=headers))
        assert 'id="secret-key"' not in page
        assert secret not in page and totp.grouped(secret) not in page
        assert "QR code to scan" not in page and "otpauth://" not in page
        assert PASSWORD_PROMPT in page

    # A fresh password shows the same enrolment again.
    again = post(
        client, "/profile/security/enable", {"password": DEFAULT_PASSWORD}, follow_redirects=True
    )
    assert again.status_code == 200
    assert secret_from_page(page_text(again)) == secret


def _enabled_with_unsaved_codes(client, clock) -> tuple[str, list[str]]:
    sign_in(client, "emma@example.com")
    secret = _start_enrolment(client)
    confirmed = post(
        client,
        "/profile/security/confirm",
        {"code": totp_code(secret, clock)},
        follow_redirects=True,
    )
    assert confirmed.status_code == 200
    codes = recovery_codes_from_page(page_text(confirmed))
    assert len(codes) == 10
    assert client.get("/profile/security/recovery-codes.txt").status_code == 200  # while new
    clock.advance(seconds=30)  # the confirmation spent this time step
    return secret, codes


SHOW_CODES_PROMPT = "To see them again, enter your password and a code from your app."


def _assert_codes_hidden(client, codes) -> None:
    for headers in ({}, HTMX_HEADERS):
        page = page_text(client.get("/profile/security", headers=headers))
        assert recovery_codes_from_page(page) == []
        for code in codes:
            assert code not in page and code.replace("-", "") not in page
        assert "Your new recovery codes are waiting to be saved." in page
        assert SHOW_CODES_PROMPT in page
    download = client.get("/profile/security/recovery-codes.txt")
    assert download.status_code == 404
    assert not any(code in page_text(download) for code in codes)


def test_unsaved_recovery_codes_are_hidden_after_a_few_minutes(client, app, employee, clock):
    _, codes = _enabled_with_unsaved_codes(client, clock)
    clock.advance(minutes=6)
    _assert_codes_hidden(client, codes)
    assert user_row(app, employee).unsaved_recovery_codes is not None


def test_the_password_alone_does_not_show_unsaved_codes_again(
    client, other_client, app, employee, clock
):
    """A stolen session and the password are not enough: codes are worth as much as
    new ones, which need an app code too."""
    secret, codes = _enabled_with_unsaved_codes(client, clock)
    sign_in_with_code(other_client, secret, clock)  # another browser, signed in later
    _assert_codes_hidden(other_client, codes)

    again = post(
        other_client,
        "/profile/security/enable",
        {"password": DEFAULT_PASSWORD},
        follow_redirects=True,
    )
    assert recovery_codes_from_page(page_text(again)) == []
    _assert_codes_hidden(other_client, codes)

    # The session that made them, once its few minutes are over, is no different.
    clock.advance(minutes=6)
    _assert_codes_hidden(client, codes)
    again = post(
        client, "/profile/security/enable", {"password": DEFAULT_PASSWORD}, follow_redirects=True
    )
    assert recovery_codes_from_page(page_text(again)) == []
    _assert_codes_hidden(client, codes)


@pytest.mark.parametrize("htmx", [False, True])
def test_password_and_app_code_show_unsaved_codes_again(
    client, other_client, app, employee, clock, htmx
):
    secret, codes = _enabled_with_unsaved_codes(client, clock)
    sign_in_with_code(other_client, secret, clock)

    wrong = post(
        other_client,
        "/profile/security/recovery-codes/show",
        {"password": DEFAULT_PASSWORD, "code": wrong_code(secret, clock)},
        htmx=htmx,
    )
    assert wrong.status_code == 422
    assert "That code is not right" in page_text(wrong)
    assert wrong_code(secret, clock) not in page_text(wrong)
    assert recovery_codes_from_page(page_text(wrong)) == []
    assert user_row(app, employee).second_step_failures == 1

    # A recovery code does not do: it is one of the codes being asked for.
    with_recovery = post(
        other_client,
        "/profile/security/recovery-codes/show",
        {"password": DEFAULT_PASSWORD, "code": codes[0]},
        htmx=htmx,
    )
    assert with_recovery.status_code == 422
    assert recovery_codes_from_page(page_text(with_recovery)) == []
    assert codes[0] not in page_text(with_recovery)

    shown = post(
        other_client,
        "/profile/security/recovery-codes/show",
        {"password": DEFAULT_PASSWORD, "code": totp_code(secret, clock)},
        htmx=htmx,
    )
    if htmx:
        assert shown.status_code == 200
        page = page_text(shown)
    else:
        assert shown.status_code == 303
        page = page_text(other_client.get(shown.headers["Location"]))
    assert "Here are your recovery codes again." in page
    assert recovery_codes_from_page(page) == codes
    download = other_client.get("/profile/security/recovery-codes.txt")
    assert download.status_code == 200 and all(code in page_text(download) for code in codes)
    assert "recovery_codes_shown" in [
        row.kind for row in audit_rows(app) if row.actor_id == employee
    ]
    # Only the session that proved itself: the first one still does not see them.
    clock.advance(minutes=6)
    _assert_codes_hidden(client, codes)


def test_showing_codes_again_needs_the_password(client, other_client, app, employee, clock):
    secret, codes = _enabled_with_unsaved_codes(client, clock)
    sign_in_with_code(other_client, secret, clock)
    refused = post(
        other_client,
        "/profile/security/recovery-codes/show",
        {"password": "not my password", "code": totp_code(secret, clock)},
    )
    assert refused.status_code == 422
    assert "The password is not right." in page_text(refused)
    _assert_codes_hidden(other_client, codes)


# --- CSRF holds for htmx too ----------------------------------------------------------


def test_htmx_post_without_csrf_token_is_refused_and_changes_nothing(
    client, app, employee, enrol, clock
):
    secret, _ = enrol(employee)
    sign_in_with_code(client, secret, clock)
    before = _two_step_state(app, employee)
    forms = {
        "/profile/security/turn-off": {
            "password": DEFAULT_PASSWORD,
            "code": totp_code(secret, clock),
        },
        "/profile/security/device": {
            "password": DEFAULT_PASSWORD,
            "code": totp_code(secret, clock),
        },
        "/profile/security/recovery-codes": {
            "password": DEFAULT_PASSWORD,
            "code": totp_code(secret, clock),
        },
    }
    for path, data in forms.items():
        response = client.post(path, data=data, headers=HTMX_HEADERS)
        assert response.status_code == 400, path
    assert _two_step_state(app, employee) == before
    assert user_row(app, employee).second_step_failures == 0
    # The same request with the token goes through, so it was the missing token.
    done = post(
        client, "/profile/security/turn-off", forms["/profile/security/turn-off"], htmx=True
    )
    assert done.status_code == 200
    assert user_row(app, employee).totp_secret is None


def test_htmx_enable_without_csrf_token_starts_no_enrolment(client, app, employee, clock):
    sign_in(client, "emma@example.com")
    response = client.post("/profile/security/enable", data={}, headers=HTMX_HEADERS)
    assert response.status_code == 400
    assert user_row(app, employee).pending_totp_secret is None


# --- a pending enrolment expires ------------------------------------------------------


def test_a_pending_enrolment_expires_after_thirty_minutes(client, app, employee, clock):
    sign_in(client, "emma@example.com")
    old_secret = _start_enrolment(client)
    clock.advance(minutes=31)
    renewed = post(
        client, "/profile/security/enable", {"password": DEFAULT_PASSWORD}, follow_redirects=True
    )
    assert renewed.status_code == 200
    new_secret = secret_from_page(page_text(renewed))
    assert new_secret != old_secret

    refused = post(
        client,
        "/profile/security/confirm",
        {"code": totp_code(old_secret, clock)},
        follow_redirects=True,
    )
    assert refused.status_code == 422
    assert user_row(app, employee).totp_secret is None
    assert (
        post(
            client,
            "/profile/security/confirm",
            {"code": totp_code(new_secret, clock)},
            follow_redirects=True,
        ).status_code
        == 200
    )


def test_a_pending_enrolment_still_confirms_within_thirty_minutes(client, app, employee, clock):
    sign_in(client, "emma@example.com")
    secret = _start_enrolment(client)
    clock.advance(minutes=29)
    again = post(
        client, "/profile/security/enable", {"password": DEFAULT_PASSWORD}, follow_redirects=True
    )
    assert secret_from_page(page_text(again)) == secret
    assert (
        post(
            client,
            "/profile/security/confirm",
            {"code": totp_code(secret, clock)},
            follow_redirects=True,
        ).status_code
        == 200
    )
    assert user_row(app, employee).totp_secret is not None
