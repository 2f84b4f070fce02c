"""The rules of two-step authentication: enrolment, the sign-in code, and the changes
that guard it (turning off, a new phone, new recovery codes).

Every wrong code, at sign-in or guarding a change, counts against the account: from the
third failure in a row each attempt must wait longer, and the tenth locks the code step
for fifteen minutes. The count lives in the users row so every app server sees it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import BigInteger, Update, bindparam, or_, update
from sqlalchemy.orm.attributes import set_committed_value

from portal import clock, wording
from portal.crypto import DecryptionError, Keyring
from portal.database import db
from portal.models import User, UserSession
from portal.origin import Origin
from portal.services import (
    accounts,
    activity,
    audit,
    notifications,
    policy,
    recovery_codes,
    remembered_browsers,
    sessions,
    totp,
)
from portal.wording import plural

DELAY_FROM_FAILURE = 3
LOCK_AFTER_FAILURES = 10
LOCK_DURATION = timedelta(minutes=15)
FIRST_DELAY_SECONDS = 5
ENROLMENT_LIFETIME = timedelta(minutes=30)
PENDING_PURPOSE = "pending totp"


@dataclass
class Outcome:
    ok: bool
    message: str = ""
    field: str = "code"  # which form field the message belongs to
    throttled: bool = False  # refused unchecked, because the account must wait
    codes: list[str] = dataclass_field(default_factory=list)


def _keyring() -> Keyring:
    return current_app.extensions["keyring"]


def _secret(user: User) -> str:
    if user.totp_secret is None:
        raise DecryptionError("two-step authentication is off for this account")
    return _keyring().decrypt_secret(user.totp_secret, user_id=user.id)


# --- throttling ---------------------------------------------------------------------


def delay_after(failures: int) -> timedelta:
    """How long the code step stays shut after this many wrong codes in a row."""
    if failures >= LOCK_AFTER_FAILURES:
        return LOCK_DURATION
    if failures >= DELAY_FROM_FAILURE:
        return timedelta(seconds=FIRST_DELAY_SECONDS * 2 ** (failures - DELAY_FROM_FAILURE))
    return timedelta(0)


def seconds_to_wait(user: User) -> int:
    if user.second_step_locked_until is None:
        return 0
    remaining = (user.second_step_locked_until - clock.now()).total_seconds()
    return max(0, int(remaining + 0.999))


def _wait_message(seconds: int, *, locked: bool) -> str:
    if locked:
        return (
            "Too many wrong codes: the code step is locked for this account. "
            f"Try again in {wording.duration(seconds)}, or ask your administrator for help."
        )
    return f"Please wait {wording.duration(seconds)} before the next try."


def throttle_notice(user: User) -> str | None:
    """What the code page says before any attempt, while the account must wait."""
    wait = seconds_to_wait(user)
    if not wait:
        return None
    return _wait_message(wait, locked=user.second_step_failures >= LOCK_AFTER_FAILURES)


def _throttled(user: User) -> Outcome | None:
    # The row stays locked until this attempt is recorded, so parallel attempts queue
    # here and each sees the delay the one before it set (SQLite serialises anyway).
    db.session.refresh(user, with_for_update=True)
    wait = seconds_to_wait(user)
    if wait:
        locked = user.second_step_failures >= LOCK_AFTER_FAILURES
        return Outcome(ok=False, message=_wait_message(wait, locked=locked), throttled=True)
    return None


def _record_failure(
    user: User,
    origin: Origin,
    message: str,
    detail: str,
    *,
    guarding: bool,
    reused: bool = False,
) -> Outcome:
    """Counts a wrong code. One typed at sign-in names no actor: whoever typed it knew the
    password, but is not known to be the employee."""
    now = clock.now()
    db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(second_step_failures=User.second_step_failures + 1)
    )
    db.session.refresh(user)
    failures = user.second_step_failures
    delay = delay_after(failures)
    if delay:
        user.second_step_locked_until = now + delay
    actor = user if guarding else None
    detail = f"{detail}; {failures} in a row"
    if guarding:
        detail += f"; {activity.GUARDING_A_CHANGE}"
    audit.record(audit.TWO_STEP_FAILED, origin=origin, actor=actor, subject=user, detail=detail)
    if reused:
        notifications.notify(user, notifications.CODE_REUSED, origin=origin)
    # One typo alarms nobody: the notice comes with the third wrong code in a row.
    if failures == DELAY_FROM_FAILURE:
        notifications.notify(
            user, notifications.WRONG_CODES, origin=origin, detail=f"{failures} in a row."
        )
    if failures == LOCK_AFTER_FAILURES:
        audit.record(
            audit.TWO_STEP_LOCKED,
            origin=origin,
            actor=actor,
            subject=user,
            detail="locked for 15 minutes",
        )
        notifications.notify(
            user,
            notifications.SECOND_STEP_LOCKED,
            origin=origin,
            detail=f"{failures} wrong codes in a row; locked for 15 minutes.",
        )
    db.session.commit()
    if delay:
        locked = failures >= LOCK_AFTER_FAILURES
        message = f"{message} {_wait_message(int(delay.total_seconds()), locked=locked)}"
    return Outcome(ok=False, message=message)


def locked_until(user: User) -> datetime | None:
    """When the code step opens again, while ten wrong codes keep it locked; else None."""
    if user.second_step_failures < LOCK_AFTER_FAILURES or user.second_step_locked_until is None:
        return None
    return user.second_step_locked_until if user.second_step_locked_until > clock.now() else None


class NotLocked(Exception):
    """The code step was not locked (any more) when the administrator asked to unlock it."""


def unlock(user: User, *, by: User, origin: Origin | None) -> None:
    """Lets ``user`` try codes again at once, for someone locked out by wrong codes who
    proved to an administrator who they are. One conditional UPDATE clears the count and
    the lock together, so a lock that just ran out (or a second administrator) unlocks
    nothing and records nothing. Commits."""
    now = clock.now()
    cleared = db.rows_changed_by(
        update(User)
        .where(
            User.id == user.id,
            User.second_step_failures >= LOCK_AFTER_FAILURES,
            User.second_step_locked_until > now,
        )
        .values(second_step_failures=0, second_step_locked_until=None)
        .execution_options(synchronize_session=False)
    )
    if cleared != 1:
        db.session.rollback()
        raise NotLocked(user.id)
    audit.record(audit.TWO_STEP_UNLOCKED, origin=origin, actor=by, subject=user)
    db.session.commit()
    db.session.refresh(user)


def _reset_failures(user: User) -> None:
    user.second_step_failures = 0
    user.second_step_locked_until = None


# --- checking codes -------------------------------------------------------------------


def _claim_step(user: User, step: int) -> bool:
    """Accepts a time step once: a step at or before the last used one is refused, by one
    conditional UPDATE, so two app servers cannot both accept the same code."""
    claimed = db.rows_changed_by(_claim_statement(), {"user_id": user.id, "step": step})
    if claimed == 1:
        # What the UPDATE wrote, known to the object without writing it a second time.
        set_committed_value(user, "totp_last_step", step)
        set_committed_value(user, "second_step_failures", 0)
        set_committed_value(user, "second_step_locked_until", None)
    return claimed == 1


@functools.cache
def _claim_statement() -> Update:
    """Built once: every code typed runs it."""
    step = bindparam("step", type_=BigInteger())
    return (
        update(User)
        .where(
            User.id == bindparam("user_id"),
            or_(User.totp_last_step.is_(None), User.totp_last_step < step),
        )
        .values(totp_last_step=step, second_step_failures=0, second_step_locked_until=None)
        .execution_options(synchronize_session=False)
    )


def _check_current_code(
    user: User, code: str, origin: Origin, *, guarding: bool = False
) -> Outcome:
    """A code from the enrolled app, with throttling, drift advice and replay guard."""
    waiting = _throttled(user)
    if waiting:
        return waiting
    try:
        secret = _secret(user)
    except DecryptionError:
        # A restored database without its key, or a tampered row: no code can match.
        current_app.logger.error("The two-step secret of user %s cannot be decrypted", user.id)
        return Outcome(
            ok=False,
            message="Two-step authentication for this account cannot be checked. "
            "Use a recovery code, or ask your administrator to reset it.",
        )
    result = totp.check(secret, code, clock.now())
    if result.step is not None:
        if _claim_step(user, result.step):
            return Outcome(ok=True)
        return _record_failure(
            user,
            origin,
            "That code was used already. Wait for the next code in your app.",
            "reused code",
            guarding=guarding,
            reused=True,
        )
    # Only a phone that is behind is named: a code that fits a future time would still
    # work later, and telling a guesser so would turn each guess into twenty.
    if result.clock_offset_minutes is not None and result.clock_offset_minutes < 0:
        return _record_failure(
            user,
            origin,
            totp.clock_advice(result.clock_offset_minutes),
            f"clock off by about {result.clock_offset_minutes} minutes",
            guarding=guarding,
        )
    return _record_failure(
        user,
        origin,
        "That code is not right. Check the app for this account and try again.",
        "wrong code",
        guarding=guarding,
    )


def _check_recovery_code(
    user: User, raw: str, origin: Origin, *, guarding: bool = False
) -> Outcome:
    waiting = _throttled(user)
    if waiting:
        return waiting
    if recovery_codes.redeem(user, raw, origin):
        _reset_failures(user)
        left = recovery_codes.remaining(user)
        audit.record(audit.RECOVERY_CODE_USED, origin=origin, actor=user, detail=f"{left} left")
        notifications.notify(
            user, notifications.RECOVERY_CODE_USED, origin=origin, detail=f"{left} left."
        )
        return Outcome(ok=True)
    return _record_failure(
        user,
        origin,
        "That recovery code is not right, or it was used already.",
        "wrong recovery code",
        guarding=guarding,
    )


def _check_code_or_recovery(
    user: User, code: str, origin: Origin, *, guarding: bool = False
) -> Outcome:
    """Six digits are an app code; anything longer is tried as a recovery code."""
    if recovery_codes.normalize(code) is not None:
        return _check_recovery_code(user, code, origin, guarding=guarding)
    return _check_current_code(user, code, origin, guarding=guarding)


def _confirm_identity(
    user: User,
    password: str,
    code: str,
    origin: Origin,
    keep: UserSession | None,
    *,
    recovery_allowed: bool,
) -> Outcome | None:
    """The password and a code, for a change that guards two-step itself; None when both
    are right, else the refusal. A wrong code counts like one at sign-in."""
    if not accounts.confirm_password(user, password, keep, origin):
        return Outcome(ok=False, message="The password is not right.", field="password")
    check = _check_code_or_recovery if recovery_allowed else _check_current_code
    outcome = check(user, code, origin, guarding=True)
    return None if outcome.ok else outcome


# --- the sign-in step -----------------------------------------------------------------


def verify_sign_in_code(user: User, code: str, origin: Origin) -> Outcome:
    """A right code's time step is claimed in the open transaction, which the sign-in it
    completes commits (sessions.complete_second_step): the code is spent by the sign-in,
    in one commit. A wrong one is recorded and committed here."""
    return _check_current_code(user, code, origin)


def verify_sign_in_recovery_code(user: User, raw: str, origin: Origin) -> Outcome:
    return _check_recovery_code(user, raw, origin)


# --- enrolment ------------------------------------------------------------------------


def start_enrolment(user: User) -> str:
    """A new secret, kept encrypted as pending; nothing changes for sign-in yet."""
    secret = totp.new_secret()
    user.pending_totp_secret = _keyring().encrypt_secret(
        secret, user_id=user.id, purpose=PENDING_PURPOSE
    )
    user.pending_totp_created_at = clock.now()
    db.session.commit()
    return secret


def pending_secret(user: User) -> str | None:
    if user.pending_totp_secret is None or user.pending_totp_created_at is None:
        return None
    if clock.now() - user.pending_totp_created_at > ENROLMENT_LIFETIME:
        return None
    return _keyring().decrypt_secret(
        user.pending_totp_secret, user_id=user.id, purpose=PENDING_PURPOSE
    )


def cancel_enrolment(user: User) -> None:
    user.pending_totp_secret = None
    user.pending_totp_created_at = None
    db.session.commit()


def confirm_enrolment(user: User, code: str, origin: Origin, keep: UserSession | None) -> Outcome:
    """A correct code from the new app makes the pending secret the account's secret."""
    secret = pending_secret(user)
    if secret is None:
        return Outcome(ok=False, message="This setup has expired. Please start again.")
    now = clock.now()
    result = totp.check(secret, code, now)
    if result.step is None:
        if result.clock_offset_minutes is not None:
            return Outcome(ok=False, message=totp.clock_advice(result.clock_offset_minutes))
        if totp.normalize(code) is None:
            return Outcome(ok=False, message="Enter the 6 digits that the app shows.")
        return Outcome(
            ok=False,
            message="That code is not right. Check that you scanned this page's QR code, then try a new code.",
        )

    first_time = not user.two_step_enabled
    pending_blob = user.pending_totp_secret
    # Only the request that clears this exact pending secret goes on: a double submit,
    # or two tabs, cannot enrol twice or make two sets of recovery codes.
    swapped = db.rows_changed_by(
        update(User)
        .where(User.id == user.id, User.pending_totp_secret == pending_blob)
        .values(
            totp_secret=_keyring().encrypt_secret(secret, user_id=user.id),
            totp_last_step=result.step,
            pending_totp_secret=None,
            pending_totp_created_at=None,
            second_step_failures=0,
            second_step_locked_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    if swapped != 1:
        db.session.rollback()
        return Outcome(
            ok=False,
            message="This setup was finished or replaced in another window. Reload the page.",
        )
    db.session.refresh(user)
    if keep is not None:
        # This browser has just proved a code: it may see the account's sign-in codes.
        keep.second_step_at = now
    # A session opened before this moment (one stolen with the password, say) must not
    # outlive the new protection: every other session ends, as with a new device.
    ended = sessions.end_all_except(user, keep)
    if first_time:
        user.totp_enabled_at = now
        codes = recovery_codes.replace_all(user, shown_to=keep)
        audit.record(
            audit.TWO_STEP_ENABLED,
            origin=origin,
            actor=user,
            detail=f"{plural(ended, 'other session', 'other sessions')} ended",
        )
        notifications.notify(user, notifications.TWO_STEP_ON, origin=origin)
        db.session.commit()
        return Outcome(ok=True, codes=codes)
    remembered_browsers.forget_all(
        user, because=remembered_browsers.BECAUSE_NEW_PHONE, origin=origin, actor=user
    )
    audit.record(
        audit.DEVICE_CHANGED,
        origin=origin,
        actor=user,
        detail=f"{plural(ended, 'other session', 'other sessions')} ended",
    )
    notifications.notify(user, notifications.DEVICE_CHANGED, origin=origin)
    db.session.commit()
    return Outcome(ok=True)


def confirm_codes_saved(user: User) -> None:
    recovery_codes.mark_saved(user)
    db.session.commit()


# --- changes that need the password and a code --------------------------------------


def authorize_device_change(
    user: User, password: str, code: str, origin: Origin, keep: UserSession | None
) -> Outcome:
    """Password plus a code from the old app or a recovery code, then a new pending secret.
    The old secret keeps working until the new one is confirmed."""
    refused = _confirm_identity(user, password, code, origin, keep, recovery_allowed=True)
    if refused:
        return refused
    start_enrolment(user)  # commits the spent code with it
    return Outcome(ok=True)


def _remove_two_step(user: User) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.pending_totp_secret = None
    user.pending_totp_created_at = None
    _reset_failures(user)
    recovery_codes.remove_all(user)
    policy.clear_pause(user)


def reset(user: User, *, reason: str, origin: Origin | None, by: User | None) -> None:
    """An administrator's way back in for someone who lost phone and codes: two-step is
    removed, every session ends, and the employee enrols afresh (with a fresh deadline
    where the company makes it mandatory)."""
    _remove_two_step(user)
    policy.restart_deadline(user)
    sessions.end_all_except(user, None)
    remembered_browsers.forget_all(
        user, because=remembered_browsers.BECAUSE_RESET, origin=origin, actor=by
    )
    audit.record(audit.TWO_STEP_RESET, origin=origin, actor=by, subject=user, detail=reason)
    notifications.notify(user, notifications.ADMIN_RESET, origin=origin, detail=reason)
    db.session.commit()


def turn_off(
    user: User, password: str, code: str, origin: Origin, keep: UserSession | None
) -> Outcome:
    if not policy.may_turn_off_two_step(user):
        return Outcome(
            ok=False,
            message="Your company requires two-step authentication, so it cannot be turned off.",
        )
    refused = _confirm_identity(user, password, code, origin, keep, recovery_allowed=True)
    if refused:
        return refused
    _remove_two_step(user)
    ended = sessions.end_all_except(user, keep)
    remembered_browsers.forget_all(
        user, because=remembered_browsers.BECAUSE_TURNED_OFF, origin=origin, actor=user
    )
    audit.record(
        audit.TWO_STEP_DISABLED,
        origin=origin,
        actor=user,
        detail=f"{plural(ended, 'other session', 'other sessions')} ended",
    )
    notifications.notify(user, notifications.TWO_STEP_OFF, origin=origin)
    db.session.commit()
    return Outcome(ok=True)


def regenerate_recovery_codes(
    user: User, password: str, code: str, origin: Origin, keep: UserSession | None
) -> Outcome:
    refused = _confirm_identity(user, password, code, origin, keep, recovery_allowed=False)
    if refused:
        return refused
    codes = recovery_codes.replace_all(user, shown_to=keep)
    audit.record(audit.RECOVERY_CODES_REGENERATED, origin=origin, actor=user)
    notifications.notify(user, notifications.RECOVERY_CODES_NEW, origin=origin)
    db.session.commit()
    return Outcome(ok=True, codes=codes)


def show_unsaved_recovery_codes(
    user: User, password: str, code: str, origin: Origin, keep: UserSession | None
) -> Outcome:
    """Unsaved recovery codes shown again, in ``keep`` only: they are worth as much as new
    ones, so they need what making new ones needs, the password and an app code."""
    if keep is None or recovery_codes.unsaved(user) is None:
        return Outcome(ok=False, message="There are no unsaved recovery codes to show.")
    refused = _confirm_identity(user, password, code, origin, keep, recovery_allowed=False)
    if refused:
        return refused
    codes = recovery_codes.show_to(user, keep) or []
    audit.record(audit.RECOVERY_CODES_SHOWN, origin=origin, actor=user)
    db.session.commit()
    return Outcome(ok=True, codes=codes)
