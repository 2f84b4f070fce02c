"""Single use holds when many requests race: one recovery code, one TOTP code."""

from sqlalchemy import func, select

from portal.database import db
from portal.models import RecoveryCode, User
from portal.origin import Origin
from portal.services import recovery_codes, totp
from tests.support import post, race, sign_in

RACERS = 20


def test_one_recovery_code_redeemed_by_20_threads_works_once(app, employee, enrol):
    _, codes = enrol(employee)

    def redeem(index):
        with app.app_context():
            user = db.session.get(User, employee)
            spent = recovery_codes.redeem(user, codes[0], Origin(f"10.0.0.{index}", "race"))
            db.session.commit()
            return spent

    assert sum(race(redeem)) == 1
    with app.app_context():
        used = db.session.scalar(
            select(func.count(RecoveryCode.id)).where(
                RecoveryCode.user_id == employee, RecoveryCode.used_at.is_not(None)
            )
        )
    assert used == 1


def test_one_recovery_code_in_20_pending_sign_ins_signs_in_once(app, employee, enrol):
    _, codes = enrol(employee)
    clients = [app.test_client() for _ in range(RACERS)]
    for client in clients:
        assert sign_in(client, "emma@example.com").status_code == 303
    tokens = {id(c): c for c in clients}
    assert len(tokens) == RACERS

    def submit(index):
        return post(clients[index], "/login/recovery", {"code": codes[3]}).status_code

    statuses = race(submit)
    assert statuses.count(303) == 1, statuses


def test_one_totp_code_in_20_pending_sign_ins_signs_in_once(app, employee, enrol, clock):
    secret, _ = enrol(employee)
    clients = [app.test_client() for _ in range(RACERS)]
    for client in clients:
        assert sign_in(client, "emma@example.com").status_code == 303
    code = totp.code_at(secret, clock.now())
    # Each client fetches its CSRF token before the race starts.
    from tests.support import csrf_token

    tokens = [csrf_token(client, "/login/code") for client in clients]

    def submit(index):
        return (
            clients[index]
            .post("/login/code", data={"code": code, "csrf_token": tokens[index]})
            .status_code
        )

    statuses = race(submit)
    assert statuses.count(303) == 1, statuses
    with app.app_context():
        assert db.session.get(User, employee).totp_last_step == totp.step_at(clock.now())


def test_one_enrolment_confirmed_by_20_threads_turns_on_once(app, employee, clock):
    from portal.services import two_step

    with app.app_context():
        secret = two_step.start_enrolment(db.session.get(User, employee))
    code = totp.code_at(secret, clock.now())

    def confirm(index):
        with app.app_context():
            user = db.session.get(User, employee)
            return two_step.confirm_enrolment(
                user, code, Origin(f"10.0.1.{index}", "race"), None
            ).ok

    assert sum(race(confirm)) == 1
    with app.app_context():
        codes = db.session.scalar(
            select(func.count(RecoveryCode.id)).where(RecoveryCode.user_id == employee)
        )
        from portal.models import AuditEvent

        enabled = db.session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.kind == "two_step_enabled")
        )
    assert (codes, enabled) == (10, 1)


def test_20_racing_wrong_codes_are_checked_no_faster_than_one_by_one(app, employee, enrol, clock):
    """Each attempt waits for the one before it to be counted: from the third failure on
    the account must wait, so only three of the twenty are even checked."""
    from tests.support import csrf_token

    secret, _ = enrol(employee)
    clients = [app.test_client() for _ in range(RACERS)]
    for client in clients:
        assert sign_in(client, "emma@example.com").status_code == 303
    tokens = [csrf_token(client, "/login/code") for client in clients]
    wrong = "000000" if totp.code_at(secret, clock.now()) != "000000" else "111111"

    def submit(index):
        return (
            clients[index]
            .post("/login/code", data={"code": wrong, "csrf_token": tokens[index]})
            .status_code
        )

    statuses = race(submit)
    assert statuses.count(422) == 3 and statuses.count(429) == RACERS - 3, statuses
    with app.app_context():
        assert db.session.get(User, employee).second_step_failures == 3
