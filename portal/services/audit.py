"""The one door every security event goes through: ``record`` writes the audit row in
the caller's transaction, so a change and its record land together or not at all."""

from __future__ import annotations

from portal import clock
from portal.database import db
from portal.models import AuditEvent, User
from portal.origin import Origin

# Kinds, so that call sites and filters agree on the words.
SIGN_IN = "sign_in"
SIGN_IN_FAILED = "sign_in_failed"
SIGN_IN_PASSWORD_PASSED = "sign_in_password_passed"
SIGN_OUT = "sign_out"
SESSION_ENDED = "session_ended"
OTHER_SESSIONS_ENDED = "other_sessions_ended"
PASSWORD_CHANGED = "password_changed"
PROFILE_CHANGED = "profile_changed"
EMAIL_CHANGED = "email_changed"
SETUP_COMPLETED = "setup_completed"
EMPLOYEE_ADDED = "employee_added"
EMPLOYEE_DEACTIVATED = "employee_deactivated"
EMPLOYEE_REACTIVATED = "employee_reactivated"
PASSWORD_RESET_ISSUED = "password_reset_issued"
INVITATION_ACCEPTED = "invitation_accepted"
TWO_STEP_ENABLED = "two_step_enabled"
TWO_STEP_DISABLED = "two_step_disabled"
TWO_STEP_FAILED = "two_step_failed"
TWO_STEP_LOCKED = "two_step_locked"
DEVICE_CHANGED = "device_changed"
RECOVERY_CODE_USED = "recovery_code_used"
RECOVERY_CODES_REGENERATED = "recovery_codes_regenerated"
RECOVERY_CODES_SHOWN = "recovery_codes_shown"
TWO_STEP_RESET = "two_step_reset"
PASSWORD_CONFIRM_FAILED = "password_confirm_failed"
TWO_STEP_POLICY_CHANGED = "two_step_policy_changed"
TWO_STEP_PAUSED = "two_step_paused"
TWO_STEP_RESUMED = "two_step_resumed"
TWO_STEP_DEADLINE_EXTENDED = "two_step_deadline_extended"
SIGN_IN_REFUSED_OVERDUE = "sign_in_refused_overdue"
TWO_STEP_UNLOCKED = "two_step_unlocked"
BROWSER_REMEMBERED = "browser_remembered"
REMEMBERED_BROWSER_FORGOTTEN = "remembered_browser_forgotten"
REMEMBERED_BROWSERS_FORGOTTEN = "remembered_browsers_forgotten"
SIGN_IN_DENIED = "sign_in_denied"
TEST_MAIL_QUEUED = "test_mail_queued"

DESCRIPTIONS = {
    SIGN_IN: "Signed in",
    SIGN_IN_FAILED: "Failed sign-in attempt",
    SIGN_IN_PASSWORD_PASSED: "Password accepted, waiting for the code",
    SIGN_OUT: "Signed out",
    SESSION_ENDED: "A session was signed out",
    OTHER_SESSIONS_ENDED: "Signed out everywhere else",
    PASSWORD_CHANGED: "Password changed",
    PROFILE_CHANGED: "Profile changed",
    EMAIL_CHANGED: "Email address changed",
    SETUP_COMPLETED: "Portal set up",
    EMPLOYEE_ADDED: "Employee added",
    EMPLOYEE_DEACTIVATED: "Employee deactivated",
    EMPLOYEE_REACTIVATED: "Employee reactivated",
    PASSWORD_RESET_ISSUED: "Password reset link issued",
    INVITATION_ACCEPTED: "Password set from a link",
    TWO_STEP_ENABLED: "Two-step authentication turned on",
    TWO_STEP_DISABLED: "Two-step authentication turned off",
    TWO_STEP_FAILED: "Wrong authentication code",
    TWO_STEP_LOCKED: "Code step locked after repeated wrong codes",
    DEVICE_CHANGED: "Authenticator moved to a new device",
    RECOVERY_CODE_USED: "Recovery code used",
    RECOVERY_CODES_REGENERATED: "New recovery codes made",
    RECOVERY_CODES_SHOWN: "Unsaved recovery codes shown again",
    TWO_STEP_RESET: "Two-step authentication reset by an administrator",
    PASSWORD_CONFIRM_FAILED: "Wrong password when confirming a security change",
    TWO_STEP_POLICY_CHANGED: "Two-step authentication policy changed",
    TWO_STEP_PAUSED: "Two-step authentication paused by an administrator",
    TWO_STEP_RESUMED: "Two-step authentication resumed by an administrator",
    TWO_STEP_DEADLINE_EXTENDED: "Deadline for two-step authentication extended",
    SIGN_IN_REFUSED_OVERDUE: "Sign-in refused: two-step authentication not set up by the deadline",
    TWO_STEP_UNLOCKED: "Code step unlocked by an administrator",
    BROWSER_REMEMBERED: "Browser remembered",
    REMEMBERED_BROWSER_FORGOTTEN: "A remembered browser forgotten",
    REMEMBERED_BROWSERS_FORGOTTEN: "Every remembered browser forgotten",
    SIGN_IN_DENIED: "Pending sign-in ended by the account's owner: \u201cThis wasn't me\u201d",
    TEST_MAIL_QUEUED: "Test mail queued",
}


def record(
    kind: str,
    *,
    origin: Origin | None,
    actor: User | None = None,
    subject: User | None = None,
    detail: str = "",
) -> AuditEvent:
    """Adds the event to the current transaction; the caller's commit makes it durable."""
    # An event someone does to themselves has them as its subject too.
    affected = subject or actor
    event = AuditEvent(
        kind=kind,
        occurred_at=clock.now(),
        actor_id=actor.id if actor else None,
        subject_id=affected.id if affected else None,
        ip=origin.ip if origin else "",
        user_agent=origin.user_agent if origin else "",
        detail=detail[:500],
    )
    db.session.add(event)
    return event


def describe(kind: str) -> str:
    return DESCRIPTIONS.get(kind, kind.replace("_", " ").capitalize())
