"""Security notices: each event that owns one writes it, in the event's own transaction."""

from datetime import date

from portal.database import db
from portal.models import User
from portal.origin import Origin
from portal.services import notifications, policy, two_step
from tests.notifications.flows import LAPTOP, PHONE, STRANGER, notice_kinds, outbox
from tests.support import post, sign_in, sign_in_with_code, totp_code, wrong_code

ORIGIN = Origin("203.0.113.9", LAPTOP)


def _wrong_at_sign_in(client, secret, clock, times: int) -> None:
    for _ in range(times):
        wait = client.get("/login/code")
        assert wait.status_code == 200
        post(client, "/login/code", {"code": wrong_code(secret, clock)})
        clock.advance(seconds=40)  # past the short delays from the third on


def test_one_typo_alarms_nobody_the_third_wrong_code_in_a_row_does(
    client, app, employee, enrol, clock
):
    secret, _ = enrol(employee)
    sign_in(client, "emma@example.com")
    _wrong_at_sign_in(client, secret, clock, 2)
    assert notifications.WRONG_CODES not in notice_kinds(app, employee)

    _wrong_at_sign_in(client, secret, clock, 1)
    assert notice_kinds(app, employee).count(notifications.WRONG_CODES) == 1
    _wrong_at_sign_in(client, secret, clock, 1)
    assert notice_kinds(app, employee).count(notifications.WRONG_CODES) == 1


def test_the_lock_of_the_code_step_is_a_notice(app, employee, enrol, clock):
    secret, _ = enrol(employee)
    with app.app_context():
        user = db.session.get(User, employee)
        for _ in range(two_step.LOCK_AFTER_FAILURES):
            clock.advance(minutes=16)
            two_step.verify_sign_in_code(user, wrong_code(secret, clock), ORIGIN)
    assert notice_kinds(app, employee).count(notifications.SECOND_STEP_LOCKED) == 1


def test_a_code_typed_again_is_a_notice(client, other_client, app, employee, enrol, clock):
    secret, _ = enrol(employee)
    code = totp_code(secret, clock)
    sign_in(client, "emma@example.com")
    assert post(client, "/login/code", {"code": code}).status_code == 303
    sign_in(other_client, "emma@example.com")
    assert post(other_client, "/login/code", {"code": code}).status_code == 422
    assert notifications.CODE_REUSED in notice_kinds(app, employee)


def test_changes_to_two_step_each_leave_a_notice(app, employee, enrol, clock):
    secret, _ = enrol(employee)
    assert notice_kinds(app, employee) == [notifications.TWO_STEP_ON]
    with app.app_context():
        user = db.session.get(User, employee)
        password = "correct horse battery"
        assert two_step.regenerate_recovery_codes(
            user, password, totp_code(secret, clock), ORIGIN, None
        ).ok
        clock.advance(seconds=30)
        codes = two_step.regenerate_recovery_codes(
            user, password, totp_code(secret, clock), ORIGIN, None
        ).codes
        clock.advance(seconds=30)
        assert two_step.verify_sign_in_recovery_code(user, codes[0], ORIGIN).ok
        assert two_step.authorize_device_change(
            user, password, totp_code(secret, clock), ORIGIN, None
        ).ok
        clock.advance(seconds=30)
        new_secret = two_step.pending_secret(user)
        assert two_step.confirm_enrolment(user, totp_code(new_secret, clock), ORIGIN, None).ok
        clock.advance(seconds=30)
        assert two_step.turn_off(user, password, totp_code(new_secret, clock), ORIGIN, None).ok
    assert notice_kinds(app, employee) == [
        notifications.TWO_STEP_ON,
        notifications.RECOVERY_CODES_NEW,
        notifications.RECOVERY_CODES_NEW,
        notifications.RECOVERY_CODE_USED,
        notifications.DEVICE_CHANGED,
        notifications.TWO_STEP_OFF,
    ]


def test_an_administrators_reset_pause_and_extension_are_notices(
    app, make_user, admin_user, enrol, clock
):
    emma = make_user("emma@example.com")
    enrol(emma)
    enrol(admin_user)
    with app.app_context():
        ada = db.session.get(User, admin_user)
        user = db.session.get(User, emma)
        policy.pause(user, days=3, by=ada, origin=ORIGIN)
        two_step.reset(user, reason="phone lost", origin=ORIGIN, by=ada)
        policy.save_settings(
            mandatory=True, grace_days=5, after_deadline="refuse", by=ada, origin=ORIGIN
        )
        policy.extend(user, until=date(2026, 3, 20), by=ada, origin=ORIGIN)
    assert notice_kinds(app, emma) == [
        notifications.TWO_STEP_ON,
        notifications.ADMIN_PAUSE,
        notifications.ADMIN_RESET,
        notifications.ADMIN_EXTENSION,
    ]


def test_a_sign_in_from_a_browser_not_seen_before_is_a_notice(
    client, other_client, app, employee, clock
):
    laptop, phone = {"User-Agent": LAPTOP}, {"User-Agent": PHONE}
    assert sign_in(client, "emma@example.com", headers=laptop).status_code == 303
    assert notice_kinds(app, employee) == []  # the account's first sign-in
    post(client, "/logout", headers=laptop)
    sign_in(client, "emma@example.com", headers=laptop)
    assert notice_kinds(app, employee) == []
    sign_in(other_client, "emma@example.com", headers=phone)
    assert notice_kinds(app, employee) == [notifications.NEW_BROWSER]


def test_a_new_browser_is_told_after_the_second_step_too(
    client, other_client, app, employee, enrol, clock
):
    secret, _ = enrol(employee)
    sign_in_with_code(client, secret, clock)
    sign_in(other_client, "emma@example.com", headers={"User-Agent": STRANGER})
    assert notifications.NEW_BROWSER not in notice_kinds(app, employee)
    response = post(
        other_client,
        "/login/code",
        {"code": totp_code(secret, clock)},
        headers={"User-Agent": STRANGER},
    )
    assert response.status_code == 303
    assert notice_kinds(app, employee)[-1] == notifications.NEW_BROWSER


def test_notices_go_to_the_outbox_only_with_smtp_settings(make_app, clock):
    for host, expected in (("", 0), ("mail.example.com", 1)):
        app = make_app(SMTP_HOST=host)
        with app.app_context():
            from portal.models import Company

            if db.session.get(Company, 1) is None:
                db.session.add(Company(id=1, name="Acme Tools"))
            from portal.services import accounts

            user = accounts.create(name="Emma", email=f"e{expected}@example.com", password=None)
            db.session.flush()
            notifications.notify(user, notifications.TWO_STEP_ON, origin=ORIGIN)
            db.session.commit()
        assert len(outbox(app)) == expected


def test_a_notice_rolled_back_with_its_event_leaves_no_mail(make_app, clock):
    app = make_app(SMTP_HOST="mail.example.com")
    with app.app_context():
        from portal.models import Company
        from portal.services import accounts

        db.session.add(Company(id=1, name="Acme Tools"))
        user = accounts.create(name="Emma", email="emma@example.com", password=None)
        db.session.commit()
        notifications.notify(user, notifications.TWO_STEP_OFF, origin=ORIGIN)
        db.session.rollback()
    assert outbox(app) == []
