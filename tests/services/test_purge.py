"""Purge: each kind of row goes only once it is spent or expired (and settled), live rows
stay and keep working, batches are bounded, two purges at once agree, the audit log stays,
and the background worker purges on its interval."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from portal.database import db
from portal.models import (
    AuditEvent,
    Company,
    Invitation,
    Notification,
    OutboxMail,
    RememberedBrowser,
    User,
    UserSession,
)
from portal.origin import Origin
from portal.services import (
    invitations,
    mail,
    notifications,
    purge,
    remembered_browsers,
    sessions,
    two_step,
    worker,
)
from tests.support import is_signed_in, page_text, race, sign_in, sign_in_with_code

ORIGIN = Origin("127.0.0.1", "pytest")
SETTLE = purge.SETTLE + timedelta(seconds=1)


def run_purge(app, **options) -> dict[str, int]:
    """One purge; how many rows of each kind it removed, by the kind's plural words."""
    with app.app_context():
        return {result.kind.many: result.count for result in purge.run(**options)}


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def start_sessions(app, user_id: int, number: int, stage: str = "full") -> None:
    with app.app_context():
        user = db.session.get(User, user_id)
        for _ in range(number):
            sessions.start(user, stage, ORIGIN)
        db.session.commit()


# sessions


def test_an_idle_session_goes_and_a_used_one_stays_signed_in(
    app, client, other_client, make_user, clock
):
    # Two browsers of two people; one keeps being used, the other is left.
    make_user("emma@example.com")
    make_user("ada@example.com", name="Ada Admin")
    assert sign_in(client, "emma@example.com").status_code == 303
    assert sign_in(other_client, "ada@example.com").status_code == 303

    clock.advance(days=13)
    assert is_signed_in(client)  # used: its idle time starts again
    clock.advance(days=1, minutes=5)
    # Past its idle limit, but not for SETTLE yet: a request may still hold it.
    assert run_purge(app)["expired sessions"] == 0
    clock.advance(minutes=10)
    assert run_purge(app)["expired sessions"] == 1

    assert count(app, UserSession) == 1
    assert is_signed_in(client)
    assert not is_signed_in(other_client)
    # The ended session's last word is the usual one: signed out, nothing broken.
    assert other_client.get("/profile/").status_code in (302, 303)


def test_a_pending_sign_in_goes_after_its_lifetime_its_notice_stays(
    app, client, employee, enrol, clock
):
    enrol(employee)
    with app.app_context():
        db.session.get(Company, 1).sign_in_code_notices = True
        db.session.commit()
    assert sign_in(client, "emma@example.com").headers["Location"].startswith("/login/code")
    pending = UserSession.stage == "password"
    assert count(app, UserSession, pending) == 1

    clock.advance(minutes=5, seconds=1)  # expired, not settled
    assert run_purge(app)["expired pending sign-ins"] == 0
    clock.advance(minutes=10)
    assert run_purge(app)["expired pending sign-ins"] == 1
    assert count(app, UserSession, pending) == 0
    # The notice that someone typed the password stays, without its sign-in.
    sign_in_code = Notification.kind == notifications.SIGN_IN_CODE
    assert count(app, Notification, sign_in_code, Notification.pending_session_id.is_(None)) == 1
    # The browser that left it is asked to sign in again, and can.
    page = client.get("/login/code", follow_redirects=True)
    assert page.status_code == 200
    assert "Please sign in again." in page_text(page)
    assert sign_in(client, "emma@example.com").headers["Location"].startswith("/login/code")


@pytest.mark.parametrize(
    ("locked_for", "alive", "gone"),
    [
        # The wait between codes keeps it open until PENDING_LIFETIME after the wait...
        (timedelta(minutes=20), timedelta(minutes=34), timedelta(minutes=35, seconds=1)),
        # ...but never past PENDING_HARD_LIMIT after the password step.
        (timedelta(hours=2), timedelta(minutes=49), timedelta(minutes=50, seconds=1)),
    ],
)
def test_a_pending_sign_in_lives_through_the_accounts_wait(
    app, employee, clock, locked_for, alive, gone
):
    start = clock.now()
    with app.app_context():
        db.session.get(User, employee).second_step_locked_until = start + locked_for
        db.session.commit()
    start_sessions(app, employee, 1, stage="password")

    clock.set(start + alive)
    assert run_purge(app)["expired pending sign-ins"] == 0
    clock.set(start + gone)
    assert run_purge(app)["expired pending sign-ins"] == 1


def test_the_purge_deletes_exactly_the_sessions_the_pages_would_end(app, make_user, clock):
    """The SQL rules agree with sessions.is_expired (as of SETTLE ago) row by row."""
    now = clock.now()
    minutes = [-1, -4, -6, -30, -39, -41, -60]
    states = [(started, locked) for started in minutes for locked in [None, -6, -4, 0, 30]]
    user_ids = [make_user(f"user{index}@example.com") for index in range(len(states))]
    with app.app_context():
        for index, (user_id, (started, locked)) in enumerate(zip(user_ids, states, strict=True)):
            user = db.session.get(User, user_id)
            user.second_step_locked_until = (
                None if locked is None else now + timedelta(minutes=locked)
            )
            moment = now + timedelta(minutes=started) - purge.SETTLE
            db.session.add(
                UserSession(
                    token_hash=f"{index:064d}",
                    user_id=user_id,
                    stage="password",
                    created_at=moment,
                    last_seen_at=moment,
                )
            )
        for index, days in enumerate([-13.9, -14.1, -20]):
            moment = now + timedelta(days=days) - purge.SETTLE
            db.session.add(
                UserSession(
                    token_hash=f"f{index:063d}",
                    user_id=user_id,
                    stage="full",
                    created_at=moment,
                    last_seen_at=moment,
                )
            )
        db.session.commit()
        clock.set(now - purge.SETTLE)
        idle = timedelta(days=app.config["SESSION_IDLE_DAYS"])
        expected = {
            row.token_hash
            for row in db.session.scalars(select(UserSession))
            if sessions.is_expired(row, idle)
        }
        db.session.rollback()
    clock.set(now)
    with app.app_context():
        before = set(db.session.scalars(select(UserSession.token_hash)))
    run_purge(app)
    with app.app_context():
        after = set(db.session.scalars(select(UserSession.token_hash)))
    assert 0 < len(expected) < len(before)
    assert before - after == expected


def test_a_signed_in_session_after_a_second_step_stays(app, client, employee, enrol, clock):
    secret, _codes = enrol(employee)
    sign_in_with_code(client, secret, clock)
    clock.advance(days=1)
    assert run_purge(app)["expired sessions"] == 0
    assert is_signed_in(client)


# links, remembered browsers, set-ups


def test_used_replaced_and_expired_links_go_the_open_one_stays(app, make_user, admin_user, clock):
    emma = make_user("emma@example.com")
    olga = make_user("olga@example.com", name="Olga Ray")
    with app.app_context():
        replaced = invitations.issue(db.session.get(User, emma), "reset", by=None)
        open_link = invitations.issue(db.session.get(User, emma), "reset", by=None)
        used = invitations.issue(db.session.get(User, olga), "reset", by=None)
        db.session.commit()
        invitations.accept(used, "a brand new passphrase", ORIGIN)
        assert invitations.find_valid(replaced) is None
    clock.advance(minutes=11)
    assert run_purge(app)["used, replaced or expired password links"] == 2

    with app.app_context():
        assert invitations.find_valid(open_link) is not None
        later = invitations.issue(db.session.get(User, olga), "invite", by=None)
        db.session.commit()
    # The open link stays to its end, and goes once it has ended.
    clock.advance(days=7, minutes=-6)  # the open link has ended, not yet settled
    assert run_purge(app)["used, replaced or expired password links"] == 0
    clock.advance(minutes=6)
    assert run_purge(app)["used, replaced or expired password links"] == 1
    clock.advance(minutes=11)
    assert run_purge(app)["used, replaced or expired password links"] == 1
    assert count(app, Invitation) == 0
    with app.app_context():
        assert invitations.find_valid(later) is None


def test_an_expired_remembered_browser_goes_a_live_one_still_counts(app, employee, enrol, clock):
    enrol(employee)
    with app.app_context():
        db.session.get(Company, 1).remember_browser_days = 10
        db.session.commit()
        old_token, _row = remembered_browsers.remember(db.session.get(User, employee), ORIGIN)
    clock.advance(days=5)
    with app.app_context():
        new_token, _row = remembered_browsers.remember(db.session.get(User, employee), ORIGIN)

    clock.advance(days=5)  # the first one's end
    assert run_purge(app)["expired remembered browsers"] == 0
    clock.advance(minutes=11)
    assert run_purge(app)["expired remembered browsers"] == 1
    with app.app_context():
        user = db.session.get(User, employee)
        assert remembered_browsers.find(old_token) is None
        assert remembered_browsers.recognises(user, new_token)
    assert count(app, RememberedBrowser) == 1


def test_an_abandoned_two_step_set_up_is_cleared_a_recent_one_stays(app, make_user, clock):
    emma = make_user("emma@example.com")
    olga = make_user("olga@example.com", name="Olga Ray")
    with app.app_context():
        two_step.start_enrolment(db.session.get(User, emma))
    clock.advance(minutes=35)
    with app.app_context():
        olga_secret = two_step.start_enrolment(db.session.get(User, olga))
    clock.advance(minutes=6)  # Emma's set-up: 30 minutes' lifetime, then settled
    assert run_purge(app)["abandoned two-step set-ups"] == 1

    with app.app_context():
        emma_row = db.session.get(User, emma)
        olga_row = db.session.get(User, olga)
        assert emma_row.pending_totp_secret is None
        assert emma_row.pending_totp_created_at is None
        assert emma_row.totp_secret is None
        assert two_step.pending_secret(olga_row) == olga_secret


# mail and notifications


def test_sent_mail_goes_after_its_days_unsent_mail_stays(app, clock):
    app.config["PURGE_SENT_MAIL_DAYS"] = 30
    with app.app_context():
        old_sent = mail.enqueue("a@example.com", subject="Old", body="sent long ago")
        recent = mail.enqueue("b@example.com", subject="Recent", body="sent lately")
        unsent = mail.enqueue("c@example.com", subject="Waiting", body="never delivered")
        old_sent.sent_at = clock.now()
        db.session.commit()
        unsent_id = unsent.id
    clock.advance(days=25)
    with app.app_context():
        db.session.get(OutboxMail, recent.id).sent_at = clock.now()
        db.session.commit()
    clock.advance(days=5, seconds=1)

    assert run_purge(app)["sent mails"] == 1
    with app.app_context():
        left = set(db.session.scalars(select(OutboxMail.subject)))
    assert left == {"Recent", "Waiting"}
    clock.advance(days=400)
    assert run_purge(app)["sent mails"] == 1
    with app.app_context():
        assert list(db.session.scalars(select(OutboxMail.id))) == [unsent_id]


def test_read_notifications_go_after_their_days_unread_ones_stay(app, employee, clock):
    app.config["PURGE_READ_NOTIFICATIONS_DAYS"] = 90
    with app.app_context():
        user = db.session.get(User, employee)
        for kind in (notifications.TWO_STEP_ON, notifications.TWO_STEP_OFF):
            notifications.notify(user, kind, origin=ORIGIN)
        db.session.commit()
        first = db.session.scalars(select(Notification.id).order_by(Notification.id)).first()
        notifications.mark_read(user, first)
    clock.advance(days=90)
    assert run_purge(app)["read notifications"] == 0
    clock.advance(seconds=1)
    assert run_purge(app)["read notifications"] == 1
    clock.advance(days=1000)
    assert run_purge(app)["read notifications"] == 0
    with app.app_context():
        kinds = list(db.session.scalars(select(Notification.kind)))
        assert kinds == [notifications.TWO_STEP_OFF]
        assert notifications.unread_count(db.session.get(User, employee)) == 1


def test_the_audit_log_is_never_purged(app, client, employee, clock):
    sign_in(client, "emma@example.com")
    with app.app_context():
        events = db.session.scalar(select(func.count(AuditEvent.id)))
    assert events
    clock.advance(days=3650)
    run_purge(app)
    assert count(app, AuditEvent) == events


# batches and concurrency


def test_batches_stay_within_their_size_and_take_every_row(app, employee, make_user, clock):
    olga = make_user("olga@example.com", name="Olga Ray")
    start_sessions(app, employee, 10)
    clock.advance(days=15)
    start_sessions(app, olga, 2)  # live

    deleted_per_statement: list[int] = []
    with app.app_context():
        engine = db.engine

    def watch(_conn, _cursor, statement, _params, _context, _many):
        if statement.lstrip().upper().startswith("DELETE FROM USER_SESSIONS"):
            deleted_per_statement.append(_cursor.rowcount)

    event.listen(engine, "after_cursor_execute", watch)
    try:
        assert run_purge(app, batch_size=3)["expired sessions"] == 10
    finally:
        event.remove(engine, "after_cursor_execute", watch)
    assert deleted_per_statement == [3, 3, 3, 1]
    assert count(app, UserSession) == 2
    assert count(app, UserSession, UserSession.user_id == olga) == 2


def test_purges_at_once_neither_fail_nor_count_a_row_twice(app, employee, clock):
    start_sessions(app, employee, 40)
    clock.advance(days=15)

    def work(_index):
        with app.app_context():
            return sum(result.count for result in purge.run(batch_size=7))

    results = race(work, count=4)
    assert all(isinstance(result, int) for result in results), results
    assert sum(results) == 40
    assert count(app, UserSession) == 0


def test_a_batch_size_below_one_is_refused(app):
    with app.app_context(), pytest.raises(ValueError):
        purge.run(batch_size=0)


# the command and the worker


def test_the_command_says_what_it_deleted_of_each_kind(app, runner, employee, clock):
    start_sessions(app, employee, 1)
    start_sessions(app, employee, 2, stage="password")
    clock.advance(days=15)
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "1 expired session deleted." in lines
    assert "2 expired pending sign-ins deleted." in lines
    assert "0 read notifications deleted." in lines
    assert "0 abandoned two-step set-ups cleared." in lines
    assert len(lines) == len(purge.KINDS)

    refused = runner.invoke(args=["purge", "--batch-size", "0"])
    assert refused.exit_code == 2
    assert "--batch-size" in refused.output


def test_the_worker_purges_on_its_interval(app, employee, clock, monkeypatch):
    app.config["SESSION_IDLE_DAYS"] = 1
    start = clock.now()
    purged_at = []
    real_run = purge.run

    def recording_run(**options):
        purged_at.append(clock.now() - start)
        return real_run(**options)

    monkeypatch.setattr(purge, "run", recording_run)
    start_sessions(app, employee, 1)
    said: list[str] = []

    def sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)

    background = worker.Worker(
        deliver_mail=False,
        purge_every=timedelta(hours=1),
        idle_wait=60,
        say=said.append,
        sleep=sleep,
    )
    end = start + timedelta(hours=26, minutes=30)
    with app.app_context():
        background.run(stopping=lambda: clock.now() >= end)

    hours = [moment / timedelta(hours=1) for moment in purged_at]
    assert hours == [float(hour) for hour in range(27)]
    # The session went at the first purge after its idle limit (a day) had settled.
    assert count(app, UserSession) == 0
    assert said == ["Purged: 1 expired session deleted."]


def test_a_failed_purge_does_not_stop_the_worker(app, clock, monkeypatch, caplog):
    from sqlalchemy.exc import OperationalError

    def failing_run(**_options):
        raise OperationalError("DELETE", {}, Exception("database is locked"))

    monkeypatch.setattr(purge, "run", failing_run)
    background = worker.Worker(
        deliver_mail=False, purge_every=timedelta(hours=1), idle_wait=5, say=print
    )
    with app.app_context():
        assert background.round() is False
    assert "Purge failed" in caplog.text
    assert background.next_purge == clock.now() + timedelta(hours=1)
