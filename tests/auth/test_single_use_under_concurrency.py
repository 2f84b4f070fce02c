"""Single use holds when many requests race: one recovery code, one TOTP code."""

from sqlalchemy import func, select

from portal.database import db
from portal.models import AuditEvent, User
from portal.origin import Origin
from portal.services import recovery_codes, totp, two_step
from tests.support import (
    csrf_token,
    post,
    race,
    recovery_code_hashes,
    recovery_codes_left,
    sign_in,
    totp_code,
    user_row,
    wrong_code,
)

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
    used = len(recovery_code_hashes(app, employee)) - recovery_codes_left(app, employee)
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
    code = totp_code(secret, clock)
    # Each client fetches its CSRF token before the race starts.
    tokens = [csrf_token(client, "/login/code") for client in clients]

    def submit(index):
        return (
            clients[index]
            .post("/login/code", data={"code": code, "csrf_token": tokens[index]})
            .status_code
        )

    statuses = race(submit)
    assert statuses.count(303) == 1, statuses
    assert user_row(app, employee).totp_last_step == totp.step_at(clock.now())


def test_one_enrolment_confirmed_by_20_threads_turns_on_once(app, employee, clock):
    with app.app_context():
        secret = two_step.start_enrolment(db.session.get(User, employee))
    code = totp_code(secret, clock)

    def confirm(index):
        with app.app_context():
            user = db.session.get(User, employee)
            return two_step.confirm_enrolment(
                user, code, Origin(f"10.0.1.{index}", "race"), None
            ).ok

    assert sum(race(confirm)) == 1
    with app.app_context():
        enabled = db.session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.kind == "two_step_enabled")
        )
    assert (len(recovery_code_hashes(app, employee)), enabled) == (10, 1)


def test_20_racing_wrong_codes_are_checked_no_faster_than_one_by_one(app, employee, enrol, clock):
    """Each attempt waits for the one before it to be counted: from the third failure on
    the account must wait, so only three of the twenty are even checked."""
    secret, _ = enrol(employee)
    clients = [app.test_client() for _ in range(RACERS)]
    for client in clients:
        assert sign_in(client, "emma@example.com").status_code == 303
    tokens = [csrf_token(client, "/login/code") for client in clients]
    wrong = wrong_code(secret, clock)

    def submit(index):
        return (
            clients[index]
            .post("/login/code", data={"code": wrong, "csrf_token": tokens[index]})
            .status_code
        )

    statuses = race(submit)
    assert statuses.count(422) == 3 and statuses.count(429) == RACERS - 3, statuses
    assert user_row(app, employee).second_step_failures == 3
