"""Mail through the outbox, against a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import email
import socket
import threading
from email.message import Message

import pytest
from aiosmtpd.controller import Controller

from portal.database import Base, db
from portal.models import Company
from portal.origin import Origin
from portal.services import accounts, audit, mail, notifications
from tests.notifications.flows import STRANGER, codes_to_notifications, outbox
from tests.support import audit_rows, post, sign_in, sign_in_with_code, totp_code, wrong_code

ORIGIN = Origin("198.51.100.7", STRANGER)


class Mailbox:
    """What the SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, _server, _session, envelope):
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.original_content))
        return "250 OK"

    def subjects(self) -> list[str]:
        return [str(message["Subject"]) for message in self.messages]

    def bodies(self) -> str:
        return "\n".join(
            str(message.get_payload(decode=True), "utf-8") for message in self.messages
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    def __init__(self) -> None:
        self.port = _free_port()
        self.mailbox = Mailbox()
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def mail_app(make_app, smtp, clock):
    app = make_app(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp.port,
        SMTP_STARTTLS=False,
        SMTP_FROM="portal@acme.example",
        SMTP_TIMEOUT=5,
    )
    with app.app_context():
        Base.metadata.create_all(db.engine)
        db.session.add(Company(id=1, name="Acme Tools"))
        for name, address, role in (
            ("Emma Stone", "emma@example.com", "employee"),
            ("Ada Admin", "ada@example.com", "admin"),
        ):
            accounts.create(name=name, email=address, password="correct horse battery", role=role)
        db.session.commit()
    return app


def _deliver(app, worker: str = "test") -> tuple[int, int]:
    with app.app_context():
        return mail.deliver_due(worker)


def _enrol(app, clock) -> str:
    from portal.services import two_step

    with app.app_context():
        user = accounts.by_email("emma@example.com")
        secret = two_step.start_enrolment(user)
        assert two_step.confirm_enrolment(user, totp_code(secret, clock), ORIGIN, None).ok
    clock.advance(seconds=30)
    return secret


def test_every_notice_kind_arrives_by_mail_without_a_code(mail_app, smtp, clock):
    app = mail_app
    codes_to_notifications(app)
    secret = _enrol(app, clock)  # two-step on
    client, stranger = app.test_client(), app.test_client()
    sign_in_with_code(client, secret, clock)
    seen_codes = set()
    sign_in(stranger, "emma@example.com", headers={"User-Agent": STRANGER})  # sign-in code
    seen_codes.add(totp_code(secret, clock))
    for _ in range(3):  # three wrong codes in a row
        post(stranger, "/login/code", {"code": wrong_code(secret, clock)})
        clock.advance(seconds=20)
        seen_codes.add(totp_code(secret, clock))
    with app.app_context():
        notice = notifications.listing(accounts.by_email("emma@example.com")).notices
        code_notice = next(n for n in notice if n.kind == notifications.SIGN_IN_CODE)
    post(client, f"/notifications/{code_notice.id}/not-me")  # administrators told
    with app.app_context():
        emma = accounts.by_email("emma@example.com")
        done = {kind for (kind,) in db.session.query(notifications.Notification.kind)}
        for kind in sorted(notifications.KINDS - done):
            notifications.notify(emma, kind, origin=ORIGIN, detail="As it happened.")
        db.session.commit()

    assert _deliver(app) == (len(outbox(app)), 0)
    subjects = smtp.mailbox.subjects()
    for kind in notifications.KINDS:
        assert notifications.title(kind) in subjects, kind
    assert len(subjects) == len(outbox(app))
    bodies = smtp.mailbox.bodies()
    for code in seen_codes:
        assert code not in bodies
        assert f"{code[:3]} {code[3:]}" not in bodies
    assert "Firefox on Windows" in bodies and "IP address: 198.51.100.7" in bodies
    to = {str(message["To"]) for message in smtp.mailbox.messages}
    assert to == {"emma@example.com", "ada@example.com"}
    assert _deliver(app) == (0, 0)


def test_a_dead_mail_server_delays_mail_and_loses_none(mail_app, smtp, clock):
    app = mail_app
    with app.app_context():
        emma = accounts.by_email("emma@example.com")
        for kind in (notifications.TWO_STEP_ON, notifications.RECOVERY_CODES_NEW):
            notifications.notify(emma, kind, origin=ORIGIN)
        db.session.commit()
    smtp.stop()
    assert _deliver(app) == (0, 2)
    rows = outbox(app)
    assert all(row.sent_at is None and row.attempts == 1 for row in rows)
    assert all(row.next_attempt_at > clock.now() for row in rows)
    assert all("ConnectionRefused" in row.last_error for row in rows)
    assert _deliver(app) == (0, 0)  # not due yet: the backoff holds

    clock.advance(seconds=31)
    assert _deliver(app) == (0, 2)
    assert [row.attempts for row in outbox(app)] == [2, 2]
    assert all(
        (row.next_attempt_at - clock.now()).total_seconds() == 60 for row in outbox(app)
    )  # the delay doubled

    smtp.start()
    assert smtp.mailbox.messages == []
    clock.advance(minutes=1)
    assert _deliver(app) == (2, 0)
    assert sorted(smtp.mailbox.subjects()) == sorted(
        [
            notifications.title(notifications.TWO_STEP_ON),
            notifications.title(notifications.RECOVERY_CODES_NEW),
        ]
    )
    assert all(row.sent_at is not None for row in outbox(app))
    clock.advance(hours=2)
    assert _deliver(app) == (0, 0)
    assert len(smtp.mailbox.messages) == 2


def test_the_retry_delay_doubles_up_to_an_hour():
    assert [mail.retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert mail.retry_delay(50).total_seconds() == 3600


def test_two_workers_at_once_send_each_mail_once(mail_app, smtp, clock):
    app = mail_app
    total = 60
    with app.app_context():
        emma = accounts.by_email("emma@example.com")
        for number in range(total):
            notifications.notify(
                emma, notifications.NEW_BROWSER, origin=ORIGIN, detail=f"Mail {number}."
            )
        db.session.commit()
    barrier = threading.Barrier(2)
    counts: dict[str, int] = {}

    def work(worker: str) -> None:
        barrier.wait()
        sent = 0
        while True:
            with app.app_context():
                done, failed = mail.deliver_due(worker)
            assert failed == 0
            sent += done
            if not done:
                break
        counts[worker] = sent

    threads = [threading.Thread(target=work, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sum(counts.values()) == total
    assert all(counts.values()), counts  # both took part
    ids = [str(message["Message-ID"]) for message in smtp.mailbox.messages]
    assert len(ids) == len(set(ids)) == total
    details = sorted(
        line for line in smtp.mailbox.bodies().splitlines() if line.startswith("Mail ")
    )
    assert details == sorted(f"Mail {number}." for number in range(total))


def test_the_worker_command_delivers_the_outbox(mail_app, smtp, clock):
    app = mail_app
    with app.app_context():
        emma = accounts.by_email("emma@example.com")
        notifications.notify(emma, notifications.TWO_STEP_OFF, origin=ORIGIN)
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["mail-worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "1 sent" in result.output
    assert smtp.mailbox.subjects() == [notifications.title(notifications.TWO_STEP_OFF)]


def test_the_worker_command_needs_a_mail_server(runner):
    result = runner.invoke(args=["mail-worker", "--once"])
    assert result.exit_code != 0
    assert "PORTAL_SMTP_HOST" in result.output


def test_send_a_test_mail_from_the_settings_page(mail_app, smtp, clock):
    app = mail_app
    client = app.test_client()
    sign_in(client, "ada@example.com")
    page = client.get("/admin/security")
    assert "Send a test mail" in page.get_data(as_text=True)
    response = post(client, "/admin/security/test-mail", htmx=True)
    assert response.status_code == 200
    assert "test mail to ada@example.com is queued" in response.get_data(as_text=True)
    assert smtp.mailbox.messages == []  # never inside the request
    assert _deliver(app) == (1, 0)
    assert smtp.mailbox.subjects() == ["Test mail from the employee portal"]
    assert len(audit_rows(app, audit.TEST_MAIL_QUEUED)) == 1


def test_the_worker_of_make_run_without_a_mail_server_stays_to_purge(runner):
    result = runner.invoke(args=["mail-worker", "--optional", "--once"])
    assert result.exit_code == 0
    assert "notices stay in the portal" in result.output
    assert "Purging every 3,600 seconds." in result.output


def test_the_worker_of_make_run_leaves_quietly_with_neither_mail_nor_purge(make_app):
    app = make_app(PURGE_INTERVAL=0)
    result = app.test_cli_runner().invoke(args=["mail-worker", "--optional"])
    assert result.exit_code == 0
    assert "notices stay in the portal" in result.output
    assert "Purge is off here" in result.output
