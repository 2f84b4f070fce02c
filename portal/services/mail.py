"""Mail through an outbox: a request only adds a row in its own transaction; the mail
worker (``flask --app wsgi mail-worker``) delivers it.

A mail server that is slow or down delays mail and loses none: a failed attempt leaves
the row for a later one, after a delay that doubles each time up to an hour. Several
workers may run at once: each claims a row with a conditional UPDATE (after SELECT ...
FOR UPDATE SKIP LOCKED on PostgreSQL) before sending it, so no mail goes out twice
while its sender lives. A worker that dies while sending leaves its claim to expire,
and the mail is sent again then: once too often rather than never.
"""

from __future__ import annotations

import smtplib
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app
from sqlalchemy import func, or_, select, update

from portal import clock
from portal.database import db
from portal.models import OutboxMail, User
from portal.origin import Origin
from portal.services import audit

FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
# Longer than any one delivery may take (SMTP_TIMEOUT per step), so a claim never runs
# out while its worker is still sending.
CLAIM_LENGTH = timedelta(minutes=10)
BATCH = 20


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str
    password: str
    starttls: bool
    sender: str
    timeout: int


def settings() -> SmtpSettings:
    config = current_app.config
    return SmtpSettings(
        host=config["SMTP_HOST"],
        port=config["SMTP_PORT"],
        user=config["SMTP_USER"],
        password=config["SMTP_PASSWORD"],
        starttls=config["SMTP_STARTTLS"],
        sender=config["SMTP_FROM"] or f"portal@{config['SMTP_HOST']}",
        timeout=config["SMTP_TIMEOUT"],
    )


def configured() -> bool:
    return bool(current_app.config.get("SMTP_HOST"))


def enqueue(recipient: str, *, subject: str, body: str) -> OutboxMail:
    """Adds a mail to the caller's transaction; the worker sends it after the commit."""
    row = OutboxMail(
        recipient=recipient,
        subject=subject[:200],
        body=body,
        attempts=0,
        next_attempt_at=clock.now(),
        last_error="",
    )
    db.session.add(row)
    return row


class MailError(Exception):
    """Mail cannot be sent as asked; the message is for the person who asked."""


def send_test(user: User, *, origin: Origin) -> OutboxMail:
    """Queues a test mail to ``user`` (an administrator on the settings page). Commits."""
    if not configured():
        raise MailError(
            "No mail server is set. Set PORTAL_SMTP_HOST and the other PORTAL_SMTP_* "
            "settings (see the README), restart the portal, then try again."
        )
    row = enqueue(
        user.email,
        subject="Test mail from the employee portal",
        body=(
            f"Hello {user.name},\n\nThis is the test mail you asked for on the security "
            "settings page. Security notices reach this address the same way.\n"
        ),
    )
    audit.record(audit.TEST_MAIL_QUEUED, origin=origin, actor=user, detail=f"to {user.email}")
    db.session.commit()
    return row


def retry_delay(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: 30 s, 1 min, 2 min ... 1 hour."""
    # The exponent is capped before the product: a mail that failed for days would
    # otherwise overflow timedelta.
    doublings = min(max(0, attempts - 1), 16)
    return min(FIRST_RETRY * 2**doublings, LONGEST_RETRY)


def waiting() -> int:
    """Mail not sent yet (the settings page shows it)."""
    return (
        db.session.scalar(
            select(func.count()).select_from(OutboxMail).where(OutboxMail.sent_at.is_(None))
        )
        or 0
    )


# --- delivery (the worker) -------------------------------------------------------------

Send = Callable[[SmtpSettings, EmailMessage], None]


def message_of(row: OutboxMail, smtp: SmtpSettings) -> EmailMessage:
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Date"] = formatdate(row.created_at.timestamp(), usegmt=True)
    # One id per outbox row: a mail server that sees it twice can tell.
    message["Message-ID"] = make_msgid(idstring=f"outbox-{row.id}")
    message.set_content(row.body)
    return message


def smtp_send(smtp: SmtpSettings, message: EmailMessage) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as server:
        if smtp.starttls:
            server.starttls(context=ssl.create_default_context())
        if smtp.user:
            server.login(smtp.user, smtp.password)
        server.send_message(message)


def new_worker_id() -> str:
    return uuid.uuid4().hex


def claim(worker: str, *, limit: int = BATCH) -> list[OutboxMail]:
    """Takes up to ``limit`` due mails for ``worker``; a mail another worker holds is
    skipped. Commits the claims before anything is sent."""
    now = clock.now()
    due = (
        OutboxMail.sent_at.is_(None),
        OutboxMail.next_attempt_at <= now,
        or_(OutboxMail.claimed_until.is_(None), OutboxMail.claimed_until < now),
    )
    candidates = list(
        db.session.scalars(
            select(OutboxMail.id)
            .where(*due)
            .order_by(OutboxMail.next_attempt_at, OutboxMail.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    taken = []
    for mail_id in candidates:
        won = db.rows_changed_by(
            update(OutboxMail)
            .where(OutboxMail.id == mail_id, *due)
            .values(claimed_by=worker, claimed_until=now + CLAIM_LENGTH)
            .execution_options(synchronize_session=False)
        )
        if won == 1:
            taken.append(mail_id)
    db.session.commit()
    if not taken:
        return []
    return list(
        db.session.scalars(
            select(OutboxMail)
            .where(OutboxMail.id.in_(taken))
            .order_by(OutboxMail.id)
            .execution_options(populate_existing=True)
        )
    )


def _finish(row: OutboxMail, worker: str, **values) -> None:
    db.session.execute(
        update(OutboxMail)
        .where(OutboxMail.id == row.id, OutboxMail.claimed_by == worker)
        .values(claimed_by=None, claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def deliver_due(worker: str, *, send: Send | None = None) -> tuple[int, int]:
    """One round of the worker: sends what is due; returns (sent, failed)."""
    smtp = settings()
    send = send or smtp_send
    sent = failed = 0
    for row in claim(worker):
        try:
            send(smtp, message_of(row, smtp))
        except (OSError, smtplib.SMTPException) as error:
            attempts = row.attempts + 1
            _finish(
                row,
                worker,
                attempts=attempts,
                next_attempt_at=clock.now() + retry_delay(attempts),
                last_error=f"{type(error).__name__}: {error}"[:500],
            )
            current_app.logger.warning(
                "Mail %s to the outbox's recipient not sent (attempt %s): %s",
                row.id,
                attempts,
                type(error).__name__,
            )
            failed += 1
        else:
            _finish(row, worker, attempts=row.attempts + 1, sent_at=clock.now(), last_error="")
            sent += 1
    return sent, failed
