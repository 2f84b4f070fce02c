"""The two-step policy: deadlines derived from the policy as it is now, pauses that end by
themselves, extensions, resets, the settings' own rules, the preview and adoption."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from portal.database import db
from portal.models import AuditEvent, Company, User
from portal.origin import Origin
from portal.services import policy, two_step
from portal.services.policy import CompanyPolicy, PolicyError, Standing, TwoStepStanding

ORIGIN = Origin("127.0.0.1", "pytest")
DAY = timedelta(days=1)


@pytest.fixture
def admin(app, clock, make_user, enrol) -> int:
    """An administrator with two-step on, as making it mandatory requires."""
    admin_id = make_user("ada@example.com", name="Ada Admin", admin=True)
    enrol(admin_id)
    return admin_id


@pytest.fixture
def emma(clock, make_user) -> int:
    return make_user("emma@example.com", name="Emma Stone")


def save(app, by: int, *, mandatory=True, grace_days=5, after_deadline="refuse") -> None:
    with app.app_context():
        policy.save_settings(
            mandatory=mandatory,
            grace_days=grace_days,
            after_deadline=after_deadline,
            by=db.session.get(User, by),
            origin=ORIGIN,
        )


def make_mandatory(app, clock, admin: int, grace_days: int = 5) -> datetime:
    """Makes two-step mandatory now; returns that moment."""
    since = clock.now()
    save(app, admin, grace_days=grace_days)
    return since


def standing(app, user_id: int) -> TwoStepStanding:
    with app.app_context():
        return policy.standing_for(db.session.get(User, user_id))


def act(app, action, user_id: int, by: int, **kwargs) -> None:
    """policy.pause / resume / extend by an administrator, as the admin pages call them."""
    with app.app_context():
        action(db.session.get(User, user_id), by=db.session.get(User, by), origin=ORIGIN, **kwargs)


def events(app, kind: str) -> list[AuditEvent]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id)
            )
        )
        db.session.expunge_all()
        return rows


def saved_policy(app) -> CompanyPolicy:
    with app.app_context():
        return policy.current()


# --- deadlines ---------------------------------------------------------------------------


def test_before_on_and_after_the_deadline(app, clock, admin, emma):
    clock.advance(hours=1)
    since = make_mandatory(app, clock, admin, grace_days=5)
    deadline = since + 5 * DAY

    assert standing(app, emma) == TwoStepStanding(Standing.NOT_YET, deadline, days_left=5)
    clock.set(deadline - DAY)
    assert standing(app, emma).days_left == 1
    clock.set(deadline - timedelta(seconds=1))
    assert standing(app, emma) == TwoStepStanding(Standing.NOT_YET, deadline, days_left=0)
    clock.set(deadline)
    assert standing(app, emma) == TwoStepStanding(Standing.OVERDUE, deadline)
    clock.advance(days=30)
    assert standing(app, emma).state is Standing.OVERDUE


def test_days_left_count_calendar_days_to_the_last_day(app, clock, admin, emma):
    since = make_mandatory(app, clock, admin, grace_days=2)  # 2 March 09:00:30
    clock.set(datetime(2026, 3, 3, 23, 59, tzinfo=UTC))
    assert standing(app, emma).days_left == 1  # the last day is tomorrow, 4 March
    clock.set(datetime(2026, 3, 4, 0, 1, tzinfo=UTC))
    assert standing(app, emma).days_left == 0
    assert standing(app, emma).deadline == since + 2 * DAY


def test_without_the_policy_nobody_has_a_deadline(app, clock, admin, emma, enrol):
    assert standing(app, emma) == TwoStepStanding(Standing.NOT_REQUIRED)
    assert standing(app, admin) == TwoStepStanding(Standing.ON)
    with app.app_context():
        assert policy.deadline_for(db.session.get(User, emma)) is None
        assert policy.current().mandatory is False


def test_an_account_made_after_the_policy_counts_from_its_own_creation(
    app, clock, admin, emma, make_user
):
    since = make_mandatory(app, clock, admin, grace_days=5)
    clock.advance(days=3)
    noah = make_user("noah@example.com", name="Noah Brook")

    assert standing(app, noah) == TwoStepStanding(Standing.NOT_YET, clock.now() + 5 * DAY, 5)
    assert standing(app, emma) == TwoStepStanding(Standing.NOT_YET, since + 5 * DAY, 2)
    clock.advance(days=4)
    assert standing(app, emma).state is Standing.OVERDUE
    assert standing(app, noah).days_left == 1


def test_a_shorter_or_longer_grace_period_applies_at_once_to_running_clocks(
    app, clock, admin, emma, make_user
):
    since = make_mandatory(app, clock, admin, grace_days=10)
    clock.advance(days=1)
    noah = make_user("noah@example.com", name="Noah Brook")
    clock.advance(days=3)
    assert standing(app, emma) == TwoStepStanding(Standing.NOT_YET, since + 10 * DAY, 6)

    save(app, admin, grace_days=3)
    assert standing(app, emma) == TwoStepStanding(Standing.OVERDUE, since + 3 * DAY)
    noah_created = since + DAY
    assert standing(app, noah) == TwoStepStanding(Standing.OVERDUE, noah_created + 3 * DAY)

    save(app, admin, grace_days=20)
    assert standing(app, emma) == TwoStepStanding(Standing.NOT_YET, since + 20 * DAY, 16)
    assert standing(app, noah) == TwoStepStanding(Standing.NOT_YET, noah_created + 20 * DAY, 17)
    # The clock keeps the moment it became mandatory: saving again restarts nothing.
    assert saved_policy(app).mandatory_since == since


def test_turning_it_off_and_on_again_starts_a_new_clock(app, clock, admin, emma):
    make_mandatory(app, clock, admin, grace_days=1)
    clock.advance(days=5)
    assert standing(app, emma).state is Standing.OVERDUE
    save(app, admin, mandatory=False, grace_days=1)
    assert saved_policy(app).mandatory_since is None
    assert standing(app, emma).state is Standing.NOT_REQUIRED
    clock.advance(days=5)
    since = make_mandatory(app, clock, admin, grace_days=1)
    assert standing(app, emma) == TwoStepStanding(Standing.NOT_YET, since + DAY, 1)


def test_a_deactivated_account_is_only_deactivated(app, clock, admin, make_user):
    make_mandatory(app, clock, admin, grace_days=0)
    gina = make_user("gina@example.com", name="Gina Gone", active=False)
    assert standing(app, gina) == TwoStepStanding(Standing.DEACTIVATED)


# --- extensions -------------------------------------------------------------------------


def test_an_extension_replaces_the_computed_deadline(app, clock, admin, emma):
    since = make_mandatory(app, clock, admin, grace_days=2)
    clock.advance(days=3)
    assert standing(app, emma).state is Standing.OVERDUE

    act(app, policy.extend, emma, admin, until=date(2026, 3, 20))

    end_of_the_20th = datetime(2026, 3, 21, tzinfo=UTC)
    assert standing(app, emma) == TwoStepStanding(Standing.NOT_YET, end_of_the_20th, 15)
    (event,) = events(app, "two_step_deadline_extended")
    assert (event.actor_id, event.subject_id) == (admin, emma)
    assert event.detail == (f"deadline {(since + 2 * DAY):%Y-%m-%d %H:%M} UTC -> end of 2026-03-20")
    # A longer grace period does not undo an administrator's choice for one person.
    save(app, admin, grace_days=60)
    assert standing(app, emma).deadline == end_of_the_20th
    clock.set(datetime(2026, 3, 20, 23, 59, tzinfo=UTC))
    assert standing(app, emma).days_left == 0
    clock.set(end_of_the_20th)
    assert standing(app, emma).state is Standing.OVERDUE


def test_turning_the_policy_off_clears_extensions(app, clock, admin, emma):
    make_mandatory(app, clock, admin, grace_days=2)
    act(app, policy.extend, emma, admin, until=date(2026, 4, 30))
    save(app, admin, mandatory=False, grace_days=2)
    (change,) = [e for e in events(app, "two_step_policy_changed") if "on -> off" in e.detail]
    assert "1 deadline extensions cleared" in change.detail

    since = make_mandatory(app, clock, admin, grace_days=2)
    assert standing(app, emma).deadline == since + 2 * DAY


@pytest.mark.parametrize(
    ("until", "message"),
    [
        (date(2026, 3, 1), "from today"),
        (date(2027, 3, 3), "from today"),
    ],
)
def test_an_extension_must_be_from_today_to_a_year_ahead(app, clock, admin, emma, until, message):
    make_mandatory(app, clock, admin)
    with pytest.raises(PolicyError, match=message):
        act(app, policy.extend, emma, admin, until=until)
    assert events(app, "two_step_deadline_extended") == []


def test_what_cannot_be_extended(app, clock, admin, emma, make_user, enrol):
    with pytest.raises(PolicyError, match="not mandatory"):
        act(app, policy.extend, emma, admin, until=date(2026, 3, 10))
    make_mandatory(app, clock, admin)
    noah = make_user("noah@example.com", name="Noah Brook")
    enrol(noah)
    other_admin = make_user("bo@example.com", name="Bo Boss", admin=True)
    with pytest.raises(PolicyError, match="on already"):
        act(app, policy.extend, noah, admin, until=date(2026, 3, 10))
    with pytest.raises(PolicyError, match="another administrator"):
        act(app, policy.extend, other_admin, other_admin, until=date(2026, 3, 10))
    assert events(app, "two_step_deadline_extended") == []


# --- pauses -----------------------------------------------------------------------------


def paused(app, user_id: int) -> bool:
    with app.app_context():
        return policy.second_step_paused(db.session.get(User, user_id))


def test_a_pause_ends_by_itself(app, clock, admin, emma, enrol):
    enrol(emma)
    act(app, policy.pause, emma, admin, days=3)
    until = clock.now() + 3 * DAY

    assert paused(app, emma)
    assert standing(app, emma) == TwoStepStanding(Standing.PAUSED, paused_until=until)
    clock.set(until - timedelta(seconds=1))
    assert paused(app, emma)
    clock.set(until)
    assert not paused(app, emma)
    assert standing(app, emma) == TwoStepStanding(Standing.ON)
    (event,) = events(app, "two_step_paused")
    assert (event.actor_id, event.subject_id) == (admin, emma)
    assert event.detail.startswith("for 3 days, until ")


def test_a_pause_of_0_days_lasts_until_resumed(app, clock, admin, emma, enrol):
    enrol(emma)
    act(app, policy.pause, emma, admin, days=0)
    clock.advance(days=400)
    assert paused(app, emma)
    assert standing(app, emma) == TwoStepStanding(Standing.PAUSED, paused_until=None)

    act(app, policy.resume, emma, admin)

    assert not paused(app, emma)
    assert [e.detail for e in events(app, "two_step_paused")] == ["until resumed"]
    assert len(events(app, "two_step_resumed")) == 1
    with pytest.raises(PolicyError, match="not paused"):
        act(app, policy.resume, emma, admin)


def test_a_pause_while_mandatory_does_not_count_as_missing_two_step(app, clock, admin, emma, enrol):
    enrol(emma)
    make_mandatory(app, clock, admin, grace_days=0)
    act(app, policy.pause, emma, admin, days=2)
    assert standing(app, emma).state is Standing.PAUSED
    clock.advance(days=2)
    assert standing(app, emma).state is Standing.ON


def test_what_cannot_be_paused(app, clock, admin, emma, make_user, enrol):
    with pytest.raises(PolicyError, match="nothing to pause"):
        act(app, policy.pause, emma, admin, days=3)
    with pytest.raises(PolicyError, match="another administrator"):
        act(app, policy.pause, admin, admin, days=3)
    enrol(emma)
    for days in (-1, 366):
        with pytest.raises(PolicyError, match="0 to 365"):
            act(app, policy.pause, emma, admin, days=days)
    gone = make_user("gina@example.com", name="Gina Gone", active=False)
    with pytest.raises(PolicyError, match="deactivated"):
        act(app, policy.pause, gone, admin, days=3)
    assert events(app, "two_step_paused") == []


def test_a_pause_does_not_outlive_the_two_step_it_paused(app, clock, admin, emma, enrol):
    enrol(emma)
    act(app, policy.pause, emma, admin, days=0)
    with app.app_context():
        two_step.reset(db.session.get(User, emma), reason="lost phone", origin=ORIGIN, by=None)
    enrol(emma)
    assert not paused(app, emma)
    assert standing(app, emma).state is Standing.ON


# --- resets -----------------------------------------------------------------------------


def reset(app, user_id: int, by: int) -> None:
    with app.app_context():
        two_step.reset(
            db.session.get(User, user_id),
            reason="lost phone",
            origin=ORIGIN,
            by=db.session.get(User, by),
        )


@pytest.mark.parametrize(("grace_days", "fresh"), [(0, DAY), (5, 5 * DAY), (30, 30 * DAY)])
def test_a_reset_gives_a_fresh_deadline_of_at_least_a_day(
    app, clock, admin, emma, enrol, grace_days, fresh
):
    enrol(emma)
    make_mandatory(app, clock, admin, grace_days=grace_days)
    clock.advance(days=40)  # long past any deadline counted from the start

    reset(app, emma, admin)

    assert standing(app, emma) == TwoStepStanding(
        Standing.NOT_YET, clock.now() + fresh, days_left=fresh.days
    )
    clock.advance(days=fresh.days)
    assert standing(app, emma).state is Standing.OVERDUE


def test_a_reset_replaces_an_earlier_extension(app, clock, admin, emma, enrol):
    make_mandatory(app, clock, admin, grace_days=2)
    act(app, policy.extend, emma, admin, until=date(2026, 3, 3))
    enrol(emma)
    clock.advance(days=10)
    reset(app, emma, admin)
    assert standing(app, emma).deadline == clock.now() + 2 * DAY


# --- the settings -----------------------------------------------------------------------


def company_row(app) -> Company:
    with app.app_context():
        company = db.session.get(Company, 1)
        db.session.expunge(company)
        return company


def test_turning_it_on_needs_the_administrators_own_two_step(app, clock, make_user):
    ada = make_user("ada@example.com", name="Ada Admin", admin=True)
    with pytest.raises(PolicyError, match="your own account first"):
        save(app, ada, mandatory=True, grace_days=5)
    assert company_row(app).two_step_mandatory is False
    assert events(app, "two_step_policy_changed") == []

    # The other settings are not held back.
    save(app, ada, mandatory=False, grace_days=9, after_deadline="setup")
    assert saved_policy(app) == CompanyPolicy(False, None, 9, "setup")


def test_keeping_it_on_does_not_need_it_again(app, clock, admin, make_user):
    """An administrator whose own two-step was reset may still change the grace period."""
    make_mandatory(app, clock, admin)
    bo = make_user("bo@example.com", name="Bo Boss", admin=True)
    save(app, bo, mandatory=True, grace_days=7)
    assert saved_policy(app).grace_days == 7


def test_saving_records_who_changed_what(app, clock, admin):
    since = clock.now()
    save(app, admin, mandatory=True, grace_days=10, after_deadline="setup")

    (event,) = events(app, "two_step_policy_changed")
    assert (event.actor_id, event.subject_id) == (admin, admin)
    assert event.detail == (
        "mandatory: off -> on; grace period: 5 -> 10 days; "
        "after the deadline: refuse sign-in -> require set-up at sign-in"
    )
    assert (event.ip, event.user_agent) == ("127.0.0.1", "pytest")
    assert saved_policy(app) == CompanyPolicy(True, since, 10, "setup")

    save(app, admin, mandatory=True, grace_days=10, after_deadline="setup")
    assert len(events(app, "two_step_policy_changed")) == 1, "nothing changed, nothing recorded"

    save(app, admin, mandatory=False, grace_days=10, after_deadline="setup")
    assert events(app, "two_step_policy_changed")[-1].detail == "mandatory: on -> off"
    assert company_row(app).two_step_mandatory_since is None


@pytest.mark.parametrize(
    ("grace_days", "after_deadline", "message"),
    [
        (-1, "refuse", "from 0 to 90"),
        (91, "refuse", "from 0 to 90"),
        (True, "refuse", "from 0 to 90"),
        ("5", "refuse", "from 0 to 90"),
        (5, "maybe", "after the deadline"),
    ],
)
def test_values_out_of_range_are_refused(app, clock, admin, grace_days, after_deadline, message):
    with pytest.raises(PolicyError, match=message):
        save(app, admin, grace_days=grace_days, after_deadline=after_deadline)
    assert saved_policy(app) == policy.NOT_SET_UP
    assert events(app, "two_step_policy_changed") == []


def test_turning_off_is_allowed_only_while_not_mandatory(app, clock, admin, emma):
    with app.app_context():
        assert policy.may_turn_off_two_step(db.session.get(User, emma))
    make_mandatory(app, clock, admin)
    with app.app_context():
        assert not policy.may_turn_off_two_step(db.session.get(User, emma))
        assert not policy.may_turn_off_two_step(db.session.get(User, admin))


# --- preview ----------------------------------------------------------------------------


def preview(app, **kwargs) -> policy.Preview:
    with app.app_context():
        return policy.preview(**kwargs)


def test_the_preview_counts_who_would_be_late(app, clock, admin, emma, make_user, enrol):
    noah = make_user("noah@example.com", name="Noah Brook")
    enrol(noah)
    make_user("gina@example.com", name="Gina Gone", active=False)
    now = clock.now()

    assert preview(app, mandatory=True, grace_days=5) == policy.Preview(
        mandatory=True,
        grace_days=5,
        without_two_step=1,
        overdue_at_once=0,
        earliest_deadline=now + 5 * DAY,
        latest_deadline=now + 5 * DAY,
    )
    at_once = preview(app, mandatory=True, grace_days=0)
    assert (at_once.without_two_step, at_once.overdue_at_once, at_once.on_time) == (1, 1, 0)
    assert at_once.earliest_deadline is None

    since = make_mandatory(app, clock, admin, grace_days=5)
    clock.advance(days=2)
    ivy = make_user("ivy@example.com", name="Ivy New")
    clock.advance(days=1)
    # Emma's clock started with the policy, Ivy's when her account was made.
    shorter = preview(app, mandatory=True, grace_days=2)
    assert (shorter.without_two_step, shorter.overdue_at_once) == (2, 1)
    ivy_created = since + 2 * DAY
    assert shorter.earliest_deadline == shorter.latest_deadline == ivy_created + 2 * DAY
    longer = preview(app, mandatory=True, grace_days=9)
    assert (longer.overdue_at_once, longer.earliest_deadline, longer.latest_deadline) == (
        0,
        since + 9 * DAY,
        ivy_created + 9 * DAY,
    )
    off = preview(app, mandatory=False, grace_days=9)
    assert (off.without_two_step, off.overdue_at_once, off.earliest_deadline) == (2, 0, None)

    # A preview changes nothing.
    assert saved_policy(app) == CompanyPolicy(True, since, 5, "refuse")
    assert standing(app, ivy).deadline == ivy_created + 5 * DAY


# --- adoption ---------------------------------------------------------------------------


def test_adoption_counts_each_day_since_it_became_mandatory(
    app, clock, admin, emma, make_user, enrol
):
    noah = make_user("noah@example.com", name="Noah Brook")
    gina = make_user("gina@example.com", name="Gina Gone")
    enrol(gina)
    with app.app_context():
        db.session.get(User, gina).active = False
        db.session.commit()

    with app.app_context():
        before = policy.adoption()
    assert (before.active, before.enabled, before.days, before.deadline) == (3, 1, [], None)

    since = make_mandatory(app, clock, admin, grace_days=5)
    clock.advance(days=1)
    enrol(emma)
    clock.advance(days=2)
    enrol(noah)
    clock.advance(days=1)

    with app.app_context():
        seen = policy.adoption()
    assert [(day.day.isoformat(), day.enabled) for day in seen.days] == [
        ("2026-03-02", 1),
        ("2026-03-03", 2),
        ("2026-03-04", 2),
        ("2026-03-05", 3),
        ("2026-03-06", 3),
    ]
    assert (seen.active, seen.enabled, seen.percent) == (3, 3, 100)
    assert seen.deadline == since + 5 * DAY
    assert seen.mandatory_since == since


def test_adoption_share_rounds_to_whole_percent(app, clock, admin, make_user):
    make_user("emma@example.com", name="Emma Stone")
    make_user("noah@example.com", name="Noah Brook")
    with app.app_context():
        seen = policy.adoption()
    assert (seen.enabled, seen.active, seen.percent) == (1, 3, 33)


# --- the SQL form of the standing, for the employees list ------------------------------


def test_the_sql_standing_agrees_with_standing_for(app, clock, make_user):
    """Every mix of the columns the standing depends on, at moments around each edge."""
    base = clock.now()
    moments = [base + timedelta(days=d, hours=h) for d in (0, 1, 2, 4, 6, 40) for h in (0, 1)]
    variants = itertools.product(
        [True, False],  # active
        [True, False],  # two-step on
        [None, -DAY, 0 * DAY, 3 * DAY],  # created relative to base
        [None, 2 * DAY, 5 * DAY],  # reset
        [None, 1 * DAY, 30 * DAY],  # extended until
        [None, "forever", 2 * DAY],  # paused
    )
    ids = []
    with app.app_context():
        for number, (active, on, created, reset_at, extended, pause) in enumerate(variants):
            user = User(
                name=f"User {number}",
                email=f"user{number}@example.com",
                active=active,
                created_at=base + (created or 0 * DAY),
                totp_secret=b"stand-in" if on else None,
                two_step_reset_at=base + reset_at if reset_at else None,
                two_step_extended_until=base + extended if extended else None,
                two_step_paused_since=base if pause else None,
                two_step_paused_until=base + pause if isinstance(pause, timedelta) else None,
            )
            db.session.add(user)
            db.session.flush()
            ids.append(user.id)
        db.session.commit()

    policies = [policy.NOT_SET_UP] + [
        CompanyPolicy(True, base + DAY, grace, "refuse") for grace in (0, 1, 3)
    ]
    disagreements = []
    miscounts = []
    with app.app_context():
        users = {user.id: user for user in db.session.scalars(select(User))}
        for rules, moment in itertools.product(policies, moments):
            clock.set(moment)
            expression = policy.standing_expression(rules, moment)
            in_sql = {
                row.id: row.state
                for row in db.session.execute(select(User.id, expression.label("state")))
            }
            for user_id in ids:
                expected = policy.standing_for(users[user_id], rules).state
                if in_sql[user_id] != expected:
                    disagreements.append((rules, moment, user_id, in_sql[user_id], expected))
            # The list's counts of each state, taken in one pass, tell the same.
            counted = policy.standing_counts(rules, moment, select(User))
            expected_counts = Counter(
                policy.standing_for(users[user_id], rules).state.value for user_id in ids
            )
            if counted != dict(expected_counts):
                miscounts.append((rules, moment, counted, dict(expected_counts)))
            odd = select(User).where(User.id.in_(ids[::3]))
            expected_odd = Counter(
                policy.standing_for(users[user_id], rules).state.value for user_id in ids[::3]
            )
            if policy.standing_counts(rules, moment, odd) != dict(expected_odd):
                miscounts.append((rules, moment, "every third account"))
    assert not disagreements, disagreements[:5]
    assert not miscounts, miscounts[:3]
