"""A worker killed (SIGKILL) in the middle of a change leaves the change whole or not at
all: the process runs the portal's real route and services, stops inside the transaction
(tests/system/interrupted.py), and is killed there. Then the database holds the old state
whole, and the portal goes on from it."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

import pytest
from sqlalchemy import func, select

from portal.config import PROJECT_ROOT
from portal.database import db
from portal.models import STAGE_FULL, STAGE_PASSWORD, AuditEvent, RecoveryCode, User, UserSession
from portal.origin import Origin
from portal.services import audit, recovery_codes, sessions, totp, two_step
from tests.system.servers import PASSWORD, Server, make_accounts, portal_app

ORIGIN = Origin("127.0.0.1", "system tests")

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def database(tmp_path_factory, server_database):
    """The module's database, migrated as a deployment migrates it."""
    Server(tmp_path_factory.mktemp("migrate"), database_url=server_database).flask("db", "upgrade")
    return server_database


@pytest.fixture(scope="module")
def app(database):
    app = portal_app(database)
    yield app
    with app.app_context():
        db.engine.dispose()


def run_change(change: str, pause: str, database: str, token: str, code: str) -> str:
    """Runs the change in a child process; with a pause, kills it (SIGKILL) once it waits
    there. Returns what it printed."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.system.interrupted", change, pause, database, token, code],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert child.stdout is not None
    lines: list[str] = []
    paused = threading.Event()

    def read() -> None:
        for line in child.stdout:
            lines.append(line)
            if line.strip() == "PAUSED":
                paused.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if pause == "none":
        child.wait(60)
    else:
        assert paused.wait(60), "".join(lines)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert child.returncode == -signal.SIGKILL
    reader.join(10)
    child.stdout.close()
    return "".join(lines)


# --- a sign-in with a recovery code ------------------------------------------------------


def _recovery_sign_in_state(app, email: str, code: str, pending_token_hash: str):
    """(code spent, pending sign-in gone, signed-in session made, sign-in recorded)."""
    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == email)).one()
        code_hash = app.extensions["keyring"].hash_recovery_code(
            recovery_codes.normalize(code), user_id=user.id
        )
        spent = db.session.scalar(
            select(RecoveryCode.used_at).where(
                RecoveryCode.user_id == user.id, RecoveryCode.code_hash == code_hash
            )
        )
        pending = db.session.scalar(
            select(func.count()).where(
                UserSession.token_hash == pending_token_hash, UserSession.stage == STAGE_PASSWORD
            )
        )
        full = db.session.scalar(
            select(func.count()).where(
                UserSession.user_id == user.id, UserSession.stage == STAGE_FULL
            )
        )
        signed_in = db.session.scalar(
            select(func.count()).where(
                AuditEvent.actor_id == user.id, AuditEvent.kind == audit.SIGN_IN
            )
        )
        db.session.rollback()
    return (spent is not None, pending == 0, full == 1, signed_in == 1)


BEFORE = (False, False, False, False)
AFTER = (True, True, True, True)


def _pending_sign_in(app, email: str) -> tuple[str, str]:
    """The password step passed for this account: a pending sign-in's token and hash."""
    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == email)).one()
        token, row = sessions.begin_sign_in(user, ORIGIN, replacing=None)
        return token, row.token_hash


@pytest.mark.parametrize(
    ("pause", "expected"),
    [
        ("none", AFTER),
        ("recovery_codes.redeem", BEFORE),
        ("sessions.promote", BEFORE),
    ],
    ids=["finished", "killed-after-the-code-is-spent", "killed-after-the-session-is-made"],
)
def test_a_recovery_code_sign_in_is_whole_or_not_at_all(app, database, pause, expected):
    account = make_accounts(database, 1, prefix=f"recovery-{pause.replace('.', '-')}-")[0]
    code = account.recovery_codes[0]
    token, token_hash = _pending_sign_in(app, account.email)

    output = run_change("recovery-sign-in", pause, database, token, code)

    state = _recovery_sign_in_state(app, account.email, code, token_hash)
    assert state in (BEFORE, AFTER), f"half done: {state}\n{output}"
    assert state == expected, output
    if state == BEFORE:
        # Nothing was spent: the same code signs this browser in.
        assert "DONE" in run_change("recovery-sign-in", "none", database, token, code)
        assert _recovery_sign_in_state(app, account.email, code, token_hash) == AFTER


# --- a new phone ----------------------------------------------------------------------


def _device_state(app, email: str, old_secret: str, other_session_hash: str):
    """(new secret in use, pending one cleared, other session ended, change recorded)."""
    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == email)).one()
        secret = app.extensions["keyring"].decrypt_secret(user.totp_secret, user_id=user.id)
        other = db.session.scalar(
            select(func.count()).where(UserSession.token_hash == other_session_hash)
        )
        recorded = db.session.scalar(
            select(func.count()).where(
                AuditEvent.actor_id == user.id, AuditEvent.kind == audit.DEVICE_CHANGED
            )
        )
        state = (secret != old_secret, user.pending_totp_secret is None, other == 0, recorded == 1)
        db.session.rollback()
    return state


def _device_change_started(app, email: str, old_secret: str) -> tuple[str, str, str]:
    """Signed in twice (this browser and another), with the new phone's secret pending
    after the password and the old phone's code. Returns this browser's session token,
    the other session's token hash, and the new secret."""
    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == email)).one()
        token, _ = sessions.start(user, STAGE_FULL, ORIGIN)
        _, other = sessions.start(user, STAGE_FULL, ORIGIN)
        db.session.commit()
        outcome = two_step.authorize_device_change(
            user, PASSWORD, totp.code_at(old_secret, _now()), ORIGIN, None
        )
        assert outcome.ok, outcome.message
        new_secret = two_step.pending_secret(user)
        assert new_secret is not None
        return token, other.token_hash, new_secret


def _now():
    from portal import clock

    return clock.now()


@pytest.mark.parametrize(
    ("pause", "expected"),
    [
        ("none", AFTER),
        ("sessions.end_all_except", BEFORE),
        ("notifications.notify", BEFORE),
    ],
    ids=["finished", "killed-after-the-secret-is-swapped", "killed-before-the-commit"],
)
def test_a_new_phone_is_set_up_whole_or_not_at_all(app, database, pause, expected):
    account = make_accounts(database, 1, prefix=f"device-{pause.replace('.', '-')}-")[0]
    token, other_hash, new_secret = _device_change_started(app, account.email, account.secret)

    code = totp.code_at(new_secret, _now())
    output = run_change("new-device", pause, database, token, code)

    state = _device_state(app, account.email, account.secret, other_hash)
    assert state in (BEFORE, AFTER), f"half done: {state}\n{output}"
    assert state == expected, output
    if state == BEFORE:
        # The old phone still works and the new one can still be confirmed.
        assert "DONE" in run_change("new-device", "none", database, token, code)
        assert _device_state(app, account.email, account.secret, other_hash) == AFTER
