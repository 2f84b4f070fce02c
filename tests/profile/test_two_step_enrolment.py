"""Turning two-step authentication on from the Security page, as an employee does."""

from portal.database import db
from portal.models import User
from portal.services import audit, totp
from tests.support import (
    HTMX_HEADERS,
    audit_kinds,
    audit_rows,
    is_signed_in,
    page_text,
    post,
    recovery_code_hashes,
    recovery_codes_from_page,
    secret_from_page,
    session_count,
    sign_in,
    totp_code,
    user_row,
    wrong_code,
)


def _start(client, clock):
    response = post(client, "/profile/security/enable", follow_redirects=True)
    assert response.status_code == 200
    return page_text(response)


def test_enable_shows_qr_key_and_manual_settings(client, app, employee, clock):
    sign_in(client, "emma@example.com")
    page = _start(client, clock)
    assert "<svg" in page and 'aria-label="QR code to scan with your authenticator app"' in page
    secret = secret_from_page(page)
    assert len(secret) == 32
    for setting in ("emma@example.com", "Acme Tools", "SHA-1", "30 seconds", "<dd>6</dd>"):
        assert setting in page
    user = user_row(app, employee)
    assert user.totp_secret is None and user.pending_totp_secret is not None
    assert secret.encode() not in user.pending_totp_secret  # encrypted at rest


def test_starting_again_makes_a_new_secret(client, employee, clock):
    sign_in(client, "emma@example.com")
    first = secret_from_page(_start(client, clock))
    second = secret_from_page(_start(client, clock))
    assert first != second


def test_wrong_code_says_so_and_changes_nothing(client, app, employee, clock):
    sign_in(client, "emma@example.com")
    secret = secret_from_page(_start(client, clock))
    wrong = wrong_code(secret, clock)
    response = post(client, "/profile/security/confirm", {"code": wrong}, follow_redirects=True)
    assert response.status_code == 422
    assert "That code is not right" in page_text(response)
    assert user_row(app, employee).totp_secret is None


def test_code_from_a_phone_clock_minutes_off_is_explained(client, app, employee, clock):
    sign_in(client, "emma@example.com")
    secret = secret_from_page(_start(client, clock))
    phone_time = clock.now().replace(minute=clock.now().minute + 5)
    response = post(
        client,
        "/profile/security/confirm",
        {"code": totp.code_at(secret, phone_time)},
        follow_redirects=True,
    )
    assert response.status_code == 422
    assert "about 5 minutes" in page_text(response)
    assert "ahead of" in page_text(response)
    assert user_row(app, employee).totp_secret is None


def test_correct_code_turns_it_on_and_shows_ten_codes_until_saved(client, app, employee, clock):
    sign_in(client, "emma@example.com")
    secret = secret_from_page(_start(client, clock))
    response = post(
        client,
        "/profile/security/confirm",
        {"code": totp_code(secret, clock)},
        follow_redirects=True,
    )
    assert response.status_code == 200
    page = page_text(response)
    codes = recovery_codes_from_page(page)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(len(code) == 11 and code[5] == "-" for code in codes)
    assert "Download .txt" in page and "Print" in page and "Copy" in page
    assert response.headers["Cache-Control"] == "no-store"

    user = user_row(app, employee)
    assert user.totp_secret is not None and user.pending_totp_secret is None
    stored = recovery_code_hashes(app, employee)
    assert len(stored) == 10
    assert not any(code.replace("-", "") in stored_hash for code in codes for stored_hash in stored)
    assert "two_step_enabled" in audit_kinds(app, employee)

    download = client.get("/profile/security/recovery-codes.txt")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert all(code in page_text(download) for code in codes)

    # Setup is not finished until the employee confirms the codes are saved.
    refused = post(client, "/profile/security/codes-saved", {}, follow_redirects=True)
    assert refused.status_code == 422
    assert "Tick the box" in page_text(refused)
    assert recovery_codes_from_page(page_text(client.get("/profile/security"))) == codes

    done = post(client, "/profile/security/codes-saved", {"saved": "y"}, follow_redirects=True)
    assert done.status_code == 200
    after = page_text(client.get("/profile/security"))
    assert recovery_codes_from_page(after) == []
    assert secret not in after and totp.grouped(secret) not in after
    assert "10 left" in after
    assert client.get("/profile/security/recovery-codes.txt").status_code == 404


def test_nothing_changes_for_sign_in_before_confirmation(client, app, employee, clock):
    sign_in(client, "emma@example.com")
    _start(client, clock)
    post(client, "/logout")
    response = sign_in(client, "emma@example.com")
    assert response.headers["Location"].endswith("/profile/security")


def test_cancel_drops_the_pending_secret(client, app, employee, clock):
    sign_in(client, "emma@example.com")
    _start(client, clock)
    response = post(client, "/profile/security/cancel", follow_redirects=True)
    assert "Setup was cancelled" in page_text(response)
    assert user_row(app, employee).pending_totp_secret is None


def test_enrolment_needs_a_fresh_password(client, app, employee, clock):
    sign_in(client, "emma@example.com")
    clock.advance(minutes=6)
    asked = post(client, "/profile/security/enable", follow_redirects=True)
    assert "confirm your password" in page_text(asked)
    assert user_row(app, employee).pending_totp_secret is None

    wrong = post(
        client, "/profile/security/enable", {"password": "not my password"}, follow_redirects=True
    )
    assert wrong.status_code == 422
    assert "The password is not right" in page_text(wrong)
    assert user_row(app, employee).pending_totp_secret is None

    right = post(
        client,
        "/profile/security/enable",
        {"password": "correct horse battery"},
        follow_redirects=True,
    )
    assert right.status_code == 200
    assert secret_from_page(page_text(right))


def test_confirming_after_the_password_went_stale_asks_again(client, app, employee, clock):
    sign_in(client, "emma@example.com")
    secret = secret_from_page(_start(client, clock))
    clock.advance(minutes=6)
    response = post(
        client,
        "/profile/security/confirm",
        {"code": totp_code(secret, clock)},
        follow_redirects=True,
    )
    assert response.status_code == 403
    assert user_row(app, employee).totp_secret is None


def test_htmx_gets_only_the_two_step_panel(client, employee, clock):
    sign_in(client, "emma@example.com")
    response = post(client, "/profile/security/enable", htmx=True)
    body = page_text(response)
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="two-step-area"')
    assert "<html" not in body and "site-header" not in body
    assert "HX-Request" in response.headers["Vary"]
    full = client.get("/profile/security")
    assert "<html" in page_text(full) and "HX-Request" in full.headers["Vary"]


def test_htmx_form_errors_come_back_in_the_panel(client, employee, clock):
    sign_in(client, "emma@example.com")
    post(client, "/profile/security/enable", htmx=True)
    response = post(client, "/profile/security/confirm", {"code": "12"}, htmx=True)
    assert response.status_code == 422
    body = page_text(response)
    assert body.lstrip().startswith('<div id="two-step-area"')
    assert 'aria-invalid="true"' in body


def test_code_field_is_made_for_one_time_codes(client, employee, clock):
    sign_in(client, "emma@example.com")
    page = _start(client, clock)
    assert 'autocomplete="one-time-code"' in page
    assert 'inputmode="numeric"' in page
    assert '<label class="field__label" for="code">' in page


def test_enrolment_can_be_confirmed_once(client, other_client, app, employee, clock):
    """A double submit cannot enrol twice or make two sets of codes."""
    sign_in(client, "emma@example.com")
    secret = secret_from_page(_start(client, clock))
    code = totp_code(secret, clock)
    first = post(client, "/profile/security/confirm", {"code": code}, follow_redirects=True)
    second = post(client, "/profile/security/confirm", {"code": code}, follow_redirects=True)
    assert first.status_code == 200
    assert second.status_code == 409
    assert len(recovery_code_hashes(app, employee)) == 10


def test_saving_the_name_with_htmx_refreshes_the_header_too(client, employee):
    sign_in(client, "emma@example.com")
    response = post(
        client, "/profile/details", {"name": "Emma King", "email": "emma@example.com"}, htmx=True
    )
    assert response.status_code == 200
    assert (
        '<span class="user-menu__name" id="user-menu-name" hx-swap-oob="true">Emma King</span>'
        in page_text(response)
    )


def test_activity_done_by_an_administrator_says_so(client, app, employee, admin_user):
    with app.app_context():
        audit.record(
            audit.PASSWORD_RESET_ISSUED,
            origin=None,
            actor=db.session.get(User, admin_user),
            subject=db.session.get(User, employee),
        )
        db.session.commit()
    sign_in(client, "emma@example.com")
    assert "by an administrator" in page_text(client.get("/profile/security"))


def test_turning_it_on_signs_out_every_other_session(client, other_client, app, employee, clock):
    """A session opened elsewhere before enrolment (perhaps with a stolen password) does
    not survive it; this browser stays signed in."""
    sign_in(other_client, "emma@example.com")
    sign_in(client, "emma@example.com")
    assert session_count(app, employee) == 2
    secret = secret_from_page(_start(client, clock))
    response = post(
        client,
        "/profile/security/confirm",
        {"code": totp_code(secret, clock)},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Your other sessions were signed out" in page_text(response)
    assert session_count(app, employee) == 1
    assert is_signed_in(client)
    assert not is_signed_in(other_client)
    [enabled] = [row for row in audit_rows(app, audit.TWO_STEP_ENABLED) if row.actor_id == employee]
    assert enabled.detail == "1 other session ended"
    activity = client.get("/profile/security/activity", headers=HTMX_HEADERS)
    assert "1 other session signed out" in page_text(activity)
