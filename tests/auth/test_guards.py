"""Guards on the sign-in side of two-step authentication, each proved on its own:
throttling of recovery codes, the time step an enrolment uses up, the per-account and
per-address limits on the code step, idle sessions, secrets bound to their account,
keyed recovery-code hashes, the audit trail, session rows that do not outlive a new
sign-in, and invitation links under a race."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select

from portal.auth import current
from portal.auth.current import COOKIE_NAME
from portal.crypto import DecryptionError
from portal.database import db
from portal.models import STAGE_FULL, AuditEvent, Invitation, User, UserSession
from portal.origin import Origin
from portal.services import accounts, audit, invitations, sessions, totp
from tests.support import (
    DEFAULT_PASSWORD,
    assert_friendly_429,
    audit_kinds,
    csrf_token,
    page_text,
    post,
    race,
    recovery_code_hashes,
    recovery_codes_left,
    secret_from_page,
    sign_in,
    totp_code,
    user_row,
    wrong_code,
)

RACERS = 20


def _cookie(client) -> str:
    return client.get_cookie(COOKIE_NAME).value


def _row_exists(app, token) -> bool:
    with app.app_context():
        return sessions.find(token) is not None


# --- a locked code step refuses even a valid recovery code ----------------------------


def test_locked_code_step_refuses_even_a_valid_recovery_code(client, app, employee, enrol, clock):
    secret, codes = enrol(employee)
    sign_in(client, "emma@example.com")
    for _ in range(3):
        assert post(client, "/login/code", {"code": wrong_code(secret, clock)}).status_code == 422
    for _ in range(7):  # each further wrong code after its wait, until the tenth locks
        clock.advance(seconds=320)
        sign_in(client, "emma@example.com")
        assert post(client, "/login/code", {"code": wrong_code(secret, clock)}).status_code == 422
    assert user_row(app, employee).second_step_failures == 10

    clock.advance(minutes=1)
    refused = post(client, "/login/recovery", {"code": codes[0]})
    assert refused.status_code == 429
    assert "locked" in page_text(refused)
    assert recovery_codes_left(app, employee) == 10  # the code was not spent
    assert client.get("/profile/security").status_code == 303  # still only the pending sign-in

    clock.advance(minutes=15)  # the lock is over
    sign_in(client, "emma@example.com")
    assert post(client, "/login/recovery", {"code": codes[0]}).status_code == 303


# --- wrong recovery codes count like wrong app codes ----------------------------------


def test_three_wrong_recovery_codes_count_and_then_even_a_right_one_waits(
    client, app, employee, enrol, clock
):
    secret, codes = enrol(employee)
    sign_in(client, "emma@example.com")
    for guess in ("aaaaa-aaaaa", "bbbbb-bbbbb", "ccccc-ccccc"):
        assert guess not in codes
        assert post(client, "/login/recovery", {"code": guess}).status_code == 422
    assert user_row(app, employee).second_step_failures == 3
    assert audit_kinds(app, employee).count("two_step_failed") == 3

    waiting = post(client, "/login/recovery", {"code": codes[0]})
    assert waiting.status_code == 429
    assert "wait" in page_text(waiting)
    assert recovery_codes_left(app, employee) == 10
    # The app code waits as well: it is one count for the account.
    assert post(client, "/login/code", {"code": totp_code(secret, clock)}).status_code == 429
    assert client.get("/profile/security").status_code == 303


# --- the step that confirmed enrolment is used up -------------------------------------


def test_the_code_that_confirmed_enrolment_cannot_sign_in_in_the_same_step(
    client, app, employee, clock
):
    sign_in(client, "emma@example.com")
    secret = secret_from_page(
        page_text(post(client, "/profile/security/enable", follow_redirects=True))
    )
    code = totp_code(secret, clock)
    assert (
        post(client, "/profile/security/confirm", {"code": code}, follow_redirects=True).status_code
        == 200
    )
    assert (
        post(
            client, "/profile/security/codes-saved", {"saved": "y"}, follow_redirects=True
        ).status_code
        == 200
    )
    assert user_row(app, employee).totp_last_step == totp.step_at(clock.now())
    post(client, "/logout")

    sign_in(client, "emma@example.com")
    replay = post(client, "/login/code", {"code": code})
    assert replay.status_code == 422
    assert "used already" in page_text(replay)
    assert client.get("/profile/security").status_code == 303

    clock.advance(seconds=30)
    assert post(client, "/login/code", {"code": totp_code(secret, clock)}).status_code == 303


# --- request limits on the code step --------------------------------------------------


def _code_post(client, path="/login/code", *, ip="192.0.2.10", code=""):
    token = csrf_token(client, path)
    return client.post(
        path, data={"code": code, "csrf_token": token}, environ_base={"REMOTE_ADDR": ip}
    )


def _pending(app, email, ip="192.0.2.10"):
    browser = app.test_client()
    token = csrf_token(browser)
    response = browser.post(
        "/login",
        data={"email": email, "password": DEFAULT_PASSWORD, "csrf_token": token},
        environ_base={"REMOTE_ADDR": ip},
    )
    assert response.status_code == 303 and "/login/code" in response.headers["Location"]
    return browser


def test_code_step_allows_20_posts_a_minute_per_account_from_any_address(
    app, employee, enrol, limiter_clock
):
    enrol(employee)
    browser = _pending(app, "emma@example.com")
    # Empty codes: the form refuses them, so the account's own failure count stays out.
    for n in range(20):
        assert _code_post(browser, ip=f"198.51.100.{n + 1}").status_code == 422, n
    assert user_row(app, employee).second_step_failures == 0
    assert_friendly_429(_code_post(browser, ip="198.51.100.200"))

    limiter_clock.advance(minutes=1, seconds=1)
    assert _code_post(browser, ip="198.51.100.202").status_code == 422


def test_code_step_allows_30_posts_a_minute_per_address_across_accounts(
    app, employee, make_user, enrol, limiter_clock
):
    olga = make_user("olga@example.com", name="Olga Berg")
    enrol(employee)
    enrol(olga)
    emma_browser = _pending(app, "emma@example.com")
    olga_browser = _pending(app, "olga@example.com")
    for n in range(15):  # 15 each: below the per-account limit of 20
        assert _code_post(emma_browser).status_code == 422, n
        assert _code_post(olga_browser).status_code == 422, n
    assert_friendly_429(_code_post(emma_browser))
    assert_friendly_429(_code_post(olga_browser))
    # Another address is not affected.
    assert _code_post(emma_browser, ip="192.0.2.99").status_code == 422


# --- idle sessions end ----------------------------------------------------------------


def test_a_session_unused_for_the_idle_limit_and_a_day_ends(client, app, employee, clock):
    sign_in(client, "emma@example.com")
    token = _cookie(client)
    clock.advance(days=13)
    assert client.get("/profile/security").status_code == 200  # used: the idle time restarts
    clock.advance(days=13)
    assert client.get("/profile/security").status_code == 200
    clock.advance(days=app.config["SESSION_IDLE_DAYS"] + 1)
    response = client.get("/profile/security")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    assert not _row_exists(app, token)


def test_the_idle_limit_follows_the_setting(make_app, employee, clock):
    short = make_app(SESSION_IDLE_DAYS=3)
    browser = short.test_client()
    sign_in(browser, "emma@example.com")
    clock.advance(days=2)
    assert browser.get("/profile/security").status_code == 200
    clock.advance(days=4)
    assert browser.get("/profile/security").status_code == 302


# --- a TOTP secret belongs to its user ------------------------------------------------


def test_a_secret_ciphertext_does_not_open_for_another_user(app, employee, make_user, enrol):
    olga = make_user("olga@example.com", name="Olga Berg")
    enrol(employee)
    keyring = app.extensions["keyring"]
    blob = user_row(app, employee).totp_secret
    assert keyring.decrypt_secret(blob, user_id=employee)  # opens for its owner
    with pytest.raises(DecryptionError):
        keyring.decrypt_secret(blob, user_id=olga)
    with pytest.raises(DecryptionError):
        keyring.decrypt_secret(blob, user_id=employee, purpose="pending totp")


def test_a_secret_copied_to_another_users_row_fails_the_code_step_cleanly(
    client, app, employee, make_user, enrol, clock
):
    olga = make_user("olga@example.com", name="Olga Berg")
    emma_secret, _ = enrol(employee)
    enrol(olga)
    with app.app_context():
        emma_row = db.session.get(User, employee)
        olga_row = db.session.get(User, olga)
        olga_row.totp_secret = emma_row.totp_secret
        db.session.commit()

    sign_in(client, "olga@example.com")
    response = post(client, "/login/code", {"code": totp_code(emma_secret, clock)})
    assert response.status_code != 500, page_text(response)
    assert 400 <= response.status_code < 500
    assert client.get("/profile/security").status_code != 200  # not signed in


# --- recovery codes are stored keyed --------------------------------------------------


def test_recovery_code_hashes_are_keyed(app, employee, enrol):
    _, codes = enrol(employee)
    stored = recovery_code_hashes(app, employee)
    assert len(stored) == 10
    for shown in codes:
        code = shown.replace("-", "")
        for guessable in (code, shown, f"{employee}:{code}", f"{employee}:{shown}"):
            assert hashlib.sha256(guessable.encode()).hexdigest() not in stored, guessable
        assert code not in " ".join(stored)


# --- the audit trail ------------------------------------------------------------------


def test_signing_in_with_a_recovery_code_is_recorded(client, app, employee, enrol, clock):
    _, codes = enrol(employee)
    sign_in(client, "emma@example.com")
    assert post(client, "/login/recovery", {"code": codes[0]}).status_code == 303
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.kind == audit.RECOVERY_CODE_USED)
        ).one()
        assert (event.actor_id, event.subject_id) == (employee, employee)
        assert "9 left" in event.detail


def test_a_wrong_password_on_the_security_page_is_recorded(client, app, employee, clock):
    sign_in(client, "emma@example.com")
    clock.advance(minutes=6)  # the password is no longer fresh: Enable asks for it
    assert (
        post(
            client,
            "/profile/security/enable",
            {"password": "not my password"},
            follow_redirects=True,
        ).status_code
        == 422
    )
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.kind == audit.PASSWORD_CONFIRM_FAILED)
        ).one()
        assert (event.actor_id, event.subject_id) == (employee, employee)
    assert user_row(app, employee).pending_totp_secret is None


# --- a new sign-in leaves no old session row behind -----------------------------------


def test_the_second_step_replaces_the_pending_row(client, app, employee, enrol, clock):
    secret, _ = enrol(employee)
    sign_in(client, "emma@example.com")
    pending_token = _cookie(client)
    assert _row_exists(app, pending_token)
    assert post(client, "/login/code", {"code": totp_code(secret, clock)}).status_code == 303
    assert _cookie(client) != pending_token
    assert not _row_exists(app, pending_token)


def test_signing_in_again_in_the_same_browser_removes_its_previous_row(app, employee, make_user):
    olga = make_user("olga@example.com", name="Olga Berg")
    with app.app_context():
        old_token, _ = sessions.start(
            db.session.get(User, employee), STAGE_FULL, Origin("127.0.0.1", "pytest")
        )
        db.session.commit()
    with app.test_request_context(
        "/login", method="POST", headers={"Cookie": f"{COOKIE_NAME}={old_token}"}
    ):
        assert current.current_session() is not None  # the browser's previous session
        current.begin(db.session.get(User, olga), Origin("127.0.0.1", "pytest"))
        db.session.commit()
    with app.app_context():
        assert sessions.find(old_token) is None
        assert (
            db.session.scalar(
                select(func.count(UserSession.id)).where(UserSession.user_id == employee)
            )
            == 0
        )


# --- an invitation link works once under a race ---------------------------------------


def test_one_invitation_accepted_by_20_threads_works_once(app, employee):
    with app.app_context():
        token = invitations.issue(
            db.session.get(User, employee), invitations.PURPOSE_INVITE, by=None
        )
        db.session.commit()
        before = db.session.get(User, employee).password_hash

    def accept(index):
        with app.app_context():
            try:
                invitations.accept(
                    token, f"racing passphrase {index}", Origin(f"10.0.2.{index}", "race")
                )
            except accounts.AccountError:
                return "refused"
            return "accepted"

    results = race(accept, RACERS)
    assert results.count("accepted") == 1, results
    assert results.count("refused") == RACERS - 1, results
    with app.app_context():
        events = db.session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.kind == audit.INVITATION_ACCEPTED)
        )
        invitation = db.session.scalars(select(Invitation)).one()
        user = db.session.get(User, employee)
        assert events == 1
        assert invitation.used_at is not None
        assert user.password_hash != before
    winner = results.index("accepted")
    with app.app_context():
        assert accounts.verify_password(
            db.session.get(User, employee), f"racing passphrase {winner}"
        )


def test_both_code_pages_share_one_budget_per_account(app, employee, enrol, limiter_clock):
    enrol(employee)
    browser = _pending(app, "emma@example.com")
    for n in range(10):
        assert _code_post(browser, ip=f"198.51.100.{n + 1}").status_code == 422
    for n in range(10):
        assert _code_post(browser, "/login/recovery", ip=f"198.51.100.{n + 50}").status_code == 422
    assert_friendly_429(_code_post(browser, ip="198.51.100.200"))
