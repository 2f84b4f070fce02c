"""The portal's tables. One module, because Alembic compares the whole schema at once."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from sqlalchemy.sql import expression

from portal import clock
from portal.database import Base, UTCDateTime, hold_for_the_transaction

ROLE_ADMIN = "admin"
ROLE_EMPLOYEE = "employee"

STAGE_PASSWORD = "password"  # password passed, second step pending
STAGE_FULL = "full"  # fully signed in
# A sign-in waiting for its code ends this long after the password step; it stays open
# while the account must wait between code attempts (and PENDING_LIFETIME after), so
# obeying the wait does not end it, but never beyond PENDING_HARD_LIMIT.
PENDING_LIFETIME = timedelta(minutes=5)
PENDING_HARD_LIMIT = timedelta(minutes=40)


def idle_too_long(last_seen_at: datetime, idle_limit: timedelta, now: datetime) -> bool:
    """A full session unused for longer than the idle limit has ended: one rule for the
    pages (services.sessions) and the bell's poll (services.notifications)."""
    return now - last_seen_at > idle_limit


# What happens to an employee who has not set two-step up by their deadline.
AFTER_DEADLINE_REFUSE = "refuse"  # sign-in refused: the administrator must help
AFTER_DEADLINE_SETUP = "setup"  # set-up required right after the password step
DEFAULT_GRACE_DAYS = 5
MAX_GRACE_DAYS = 90
# How long a browser may skip the second step once its owner ticked "remember"; 0 = never.
MAX_REMEMBER_DAYS = 90


# Letters that Unicode does not decompose into a base letter and a mark.
_UNDECOMPOSED = str.maketrans(
    {"ø": "o", "đ": "d", "ð": "d", "ł": "l", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe", "þ": "th"}
)
SEARCH_KEY_LENGTH = 800


def fold_for_search(text: str) -> str:
    """``text`` without case and accents ("Müller" -> "muller"), so that a search matches
    however a name is typed, the same way on every database."""
    folded = unicodedata.normalize("NFKD", text.casefold().translate(_UNDECOMPOSED))
    return "".join(ch for ch in folded if not unicodedata.combining(ch))


class Company(Base):
    """The single company this portal serves; its row exists once setup is done."""

    __tablename__ = "company"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint(
            f"two_step_grace_days BETWEEN 0 AND {MAX_GRACE_DAYS}", name="grace_days_range"
        ),
        CheckConstraint(
            f"two_step_after_deadline IN ('{AFTER_DEADLINE_REFUSE}', '{AFTER_DEADLINE_SETUP}')",
            name="after_deadline_known",
        ),
        CheckConstraint(
            f"remember_browser_days BETWEEN 0 AND {MAX_REMEMBER_DAYS}",
            name="remember_days_range",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    # The two-step policy (portal.services.policy reads and changes it).
    two_step_mandatory: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=expression.false()
    )
    # When it was last made mandatory; None while it is not.
    two_step_mandatory_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    two_step_grace_days: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_GRACE_DAYS, server_default=str(DEFAULT_GRACE_DAYS)
    )
    two_step_after_deadline: Mapped[str] = mapped_column(
        String(16), default=AFTER_DEADLINE_REFUSE, server_default=AFTER_DEADLINE_REFUSE
    )
    # How many days a browser may skip the second step after a correct app code with
    # "remember this browser" ticked; 0 turns the option off.
    remember_browser_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # "Send authentication code to Notifications" (portal.services.notifications).
    sign_in_code_notices: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=expression.false()
    )


@event.listens_for(Company, "load")
def _hold_company(company: Company, context) -> None:
    # Every page reads the company (its name, the two-step policy, the options), often
    # from several services: once per transaction is enough.
    hold_for_the_transaction(context.session, company)


class User(Base):
    __tablename__ = "users"
    # The employees list pages through everyone by search key (the folded name first),
    # and counts each two-step state (policy.standing_counts) from the columns a standing
    # depends on, read from an index that holds them alone rather than from whole rows.
    __table_args__ = (
        Index("ix_users_search_key", "search_key", "id"),
        Index(
            "ix_users_two_step_standing",
            "active",
            "two_step_paused_since",
            "two_step_paused_until",
            "two_step_extended_until",
            "created_at",
            "two_step_reset_at",
            "totp_secret",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # Stored lower-cased, so the unique index is case-insensitive on every database.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=ROLE_EMPLOYEE)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The name and email folded by fold_for_search, kept up to date whenever either is set;
    # the employees list searches it.
    search_key: Mapped[str] = mapped_column(
        String(SEARCH_KEY_LENGTH), default="", server_default=""
    )

    # Two-step authentication. Secrets are AES-GCM ciphertexts (portal.crypto).
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary(128))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last accepted time step; a step at or before it is refused (replay guard).
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # A secret being enrolled (first time or new phone) until a code confirms it.
    pending_totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary(128))
    pending_totp_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # New recovery codes, encrypted, kept only until the employee says they are saved:
    # until then setup is not finished and the codes can be shown and downloaded again.
    unsaved_recovery_codes: Mapped[bytes | None] = mapped_column(LargeBinary(512))
    # Wrong second-step codes in a row; belongs to the account, not to a sign-in.
    second_step_failures: Mapped[int] = mapped_column(Integer, default=0)
    second_step_locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The company's two-step policy for this one person (see portal.services.policy):
    # the last reset by an administrator, which starts a fresh deadline; a deadline an
    # administrator chose instead of the computed one; and a pause of the second step,
    # from `since` until `until`, or until resumed when `until` is None.
    two_step_reset_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    two_step_extended_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    two_step_paused_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    two_step_paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sessions: Mapped[list[UserSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    @validates("name", "email")
    def _refold(self, key: str, value: str) -> str:
        name = value if key == "name" else self.name
        email = value if key == "email" else self.email
        self.search_key = fold_for_search(f"{name or ''}\n{email or ''}")[:SEARCH_KEY_LENGTH]
        return value

    # Flask-Login protocol.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    @property
    def two_step_enabled(self) -> bool:
        return self.totp_secret is not None


class UserSession(Base):
    """A browser's sign-in. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "user_sessions"
    # A person's signed-in sessions, by last use: the Security page reads the live ones
    # without the ended rows that wait for the purge.
    __table_args__ = (
        Index("ix_user_sessions_user_stage_seen", "user_id", "stage", "last_seen_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    # When the password was last typed in this session: sensitive changes need it recent.
    password_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    # When this browser passed the second step (or proved a code in it, as at enrolment):
    # only such a session is shown the sign-in codes of the account's notifications.
    second_step_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="sessions")


class RememberedBrowser(Base):
    """A browser whose owner passed the second step with "remember this browser" ticked.

    The browser's cookie holds a random token; only its SHA-256 is stored. The fingerprint
    is a keyed hash of the account's two-step secret and password hash at that moment
    (portal.crypto): a new phone, a reset, two-step turned off or a new password change
    it, and with it every remembered browser of the account stops counting.
    """

    __tablename__ = "remembered_browsers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")


class Invitation(Base):
    """A single-use link to set a password: for a new employee or after an admin reset."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # "invite" or "reset"
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class RecoveryCode(Base):
    __tablename__ = "recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_ip: Mapped[str | None] = mapped_column(String(45))
    used_user_agent: Mapped[str | None] = mapped_column(String(255))


class AuditEvent(Base):
    """Every security event: who did it, to whom, when, from where."""

    __tablename__ = "audit_events"
    # The audit log lists events newest first, by (occurred_at, id), filtered by kind,
    # actor or subject: each filter has an index in that order, which also covers the
    # ids the page and the count need (services.audit_log). A person's indexes carry the
    # kind, and the actor's the subject, so that no filter has to read the rows.
    __table_args__ = (
        Index("ix_audit_events_occurred", "occurred_at", "id"),
        Index("ix_audit_events_kind_occurred", "kind", "occurred_at", "id"),
        Index(
            "ix_audit_events_actor_occurred", "actor_id", "occurred_at", "id", "subject_id", "kind"
        ),
        Index("ix_audit_events_subject_occurred", "subject_id", "occurred_at", "id", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    kind: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    detail: Mapped[str] = mapped_column(String(500), default="")

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    subject: Mapped[User | None] = relationship(foreign_keys=[subject_id])


class Notification(Base):
    """A notice to one person, shown under the bell in the header.

    A sign-in code notice points at the pending sign-in it belongs to; the database
    clears the pointer when that sign-in ends, and with it the code (which is never
    stored: it is worked out from the secret each time the notice is shown)."""

    __tablename__ = "notifications"
    # The bell counts a person's unread notices and looks for live sign-in codes with
    # this one index; the list pages by (created_at, id).
    __table_args__ = (
        Index("ix_notifications_user_unread", "user_id", "read_at", "pending_session_id"),
        Index("ix_notifications_user_created", "user_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(48))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    detail: Mapped[str] = mapped_column(String(500), default="")
    pending_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_sessions.id", ondelete="SET NULL"), index=True
    )

    pending_session: Mapped[UserSession | None] = relationship()


class OutboxMail(Base):
    """A mail waiting for the mail worker (flask mail-worker), written in the same
    transaction as the event it tells of, so that none is lost and none is sent for an
    event that was rolled back."""

    __tablename__ = "mail_outbox"
    # The worker looks for unsent mail that is due.
    __table_args__ = (Index("ix_mail_outbox_due", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    # A worker's claim: until then no other worker takes the mail.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(String(500), default="")
