"""argon2id parameters, rehash on sign-in, and failures that all look (and cost) the same."""

from __future__ import annotations

import itsdangerous
import pytest
from argon2 import PasswordHasher, Type, extract_parameters
from sqlalchemy import func, select

from portal.config import Defaults
from portal.database import db
from portal.models import User, UserSession
from portal.services import passwords
from tests.support import DEFAULT_PASSWORD, page_text, sign_in

SIGN_IN_FAILED = "That email and password do not match an active account."


def stored_hash(app, email: str) -> str:
    with app.app_context():
        return db.session.scalars(select(User.password_hash).where(User.email == email)).one()


def test_the_defaults_are_argon2id_with_at_least_19_mib_and_two_passes():
    assert Defaults.PASSWORD_MEMORY_COST >= 19456
    assert Defaults.PASSWORD_TIME_COST >= 2
    assert Defaults.PASSWORD_PARALLELISM >= 1


def test_an_app_with_default_settings_hashes_with_those_parameters(make_app):
    app = make_app(fast_hashing=False)
    parameters = extract_parameters(app.extensions["password_hasher"].hash("a sturdy passphrase"))
    assert parameters.type is Type.ID
    assert parameters.memory_cost >= 19456
    assert parameters.time_cost >= 2


def test_the_cost_comes_from_the_environment(make_app, monkeypatch):
    monkeypatch.setenv("PORTAL_PASSWORD_MEMORY_COST", "65536")
    monkeypatch.setenv("PORTAL_PASSWORD_TIME_COST", "3")
    app = make_app(fast_hashing=False)
    parameters = extract_parameters(app.extensions["password_hasher"].hash("a sturdy passphrase"))
    assert (parameters.memory_cost, parameters.time_cost) == (65536, 3)


def test_a_hash_with_older_parameters_is_renewed_at_the_next_sign_in(app, make_user, make_app):
    make_user("emma@example.com")  # hashed with the suite's cheap parameters
    old = stored_hash(app, "emma@example.com")
    assert extract_parameters(old).time_cost == 1

    stronger = make_app(
        fast_hashing=False, PASSWORD_TIME_COST=2, PASSWORD_MEMORY_COST=1024, PASSWORD_PARALLELISM=1
    )
    client = stronger.test_client()
    # A wrong password changes nothing.
    assert sign_in(client, "emma@example.com", "not the password").status_code == 422
    assert stored_hash(app, "emma@example.com") == old

    assert sign_in(client, "emma@example.com").status_code == 303
    new = stored_hash(app, "emma@example.com")
    assert new != old
    parameters = extract_parameters(new)
    assert (parameters.type, parameters.time_cost, parameters.memory_cost) == (Type.ID, 2, 1024)
    assert PasswordHasher().verify(new, DEFAULT_PASSWORD)

    # Once renewed it stays: the next sign-in does not hash again.
    assert sign_in(stronger.test_client(), "emma@example.com").status_code == 303
    assert stored_hash(app, "emma@example.com") == new


def test_an_argon2i_or_bcrypt_era_hash_is_renewed_too(app, make_user, make_app):
    make_user("emma@example.com")
    with app.app_context():
        user = db.session.scalars(select(User)).one()
        user.password_hash = PasswordHasher(time_cost=1, memory_cost=256, type=Type.I).hash(
            DEFAULT_PASSWORD
        )
        db.session.commit()
    assert sign_in(app.test_client(), "emma@example.com").status_code == 303
    assert extract_parameters(stored_hash(app, "emma@example.com")).type is Type.ID


class VerifyCounter:
    """Stands in for the policy's hasher, to see how much work each answer costs."""

    def __init__(self, policy: passwords.PasswordHasher, monkeypatch) -> None:
        self.hashes: list[str] = []
        self._hasher = policy.hasher
        monkeypatch.setattr(policy, "hasher", self)

    def verify(self, stored: str, password: str) -> bool:
        self.hashes.append(stored)
        return self._hasher.verify(stored, password)

    def __getattr__(self, name: str):
        return getattr(self._hasher, name)


@pytest.mark.parametrize(
    "email, password",
    [
        ("nobody@example.com", DEFAULT_PASSWORD),  # unknown email
        ("emma@example.com", "not the password"),  # wrong password
        ("gone@example.com", DEFAULT_PASSWORD),  # deactivated, right password
        ("gone@example.com", "not the password"),  # deactivated, wrong password
        ("nopassword@example.com", "anything at all"),  # invited, no password set yet
    ],
)
def test_every_failure_gets_the_same_answer_and_the_same_work(
    app, client, make_user, monkeypatch, email, password
):
    make_user("emma@example.com")
    make_user("gone@example.com", name="Gone Away", active=False)
    with app.app_context():
        db.session.add(User(name="Not Yet", email="nopassword@example.com", password_hash=None))
        db.session.commit()
    policy = app.extensions["password_hasher"]
    counter = VerifyCounter(policy, monkeypatch)

    response = sign_in(client, email, password)

    assert response.status_code == 422
    assert SIGN_IN_FAILED in page_text(response)
    # Exactly one argon2 verification, always against a hash of the current cost.
    assert len(counter.hashes) == 1
    expected = extract_parameters(policy.hash("x"))
    assert extract_parameters(counter.hashes[0]) == expected
    with app.app_context():
        assert db.session.scalar(select(func.count(UserSession.id))) == 0


def test_a_successful_sign_in_also_verifies_once(app, client, employee, monkeypatch):
    counter = VerifyCounter(app.extensions["password_hasher"], monkeypatch)
    assert sign_in(client, "emma@example.com").status_code == 303
    assert len(counter.hashes) == 1


def test_a_deactivated_account_gets_the_same_page_as_a_wrong_password(
    client, make_user, monkeypatch
):
    # The CSRF token on each page is signed with the current second; both pages sign in
    # the same second, so that a second boundary between them cannot tell them apart.
    monkeypatch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: 1_772_441_000)
    make_user("emma@example.com")
    make_user("gone@example.com", name="Gone Away", active=False)
    wrong = page_text(sign_in(client, "emma@example.com", "not the password"))
    deactivated = page_text(sign_in(client, "gone@example.com"))
    # The pages differ only by the email typed in.
    assert wrong.replace("emma@example.com", "X") == deactivated.replace("gone@example.com", "X")


def test_common_passwords_are_refused_with_every_other_problem_at_once(client, make_user):
    from tests.support import post

    make_user("emma@example.com")
    from tests.support import sign_in as sign_in_first

    sign_in_first(client, "emma@example.com")
    common = post(
        client,
        "/profile/password",
        {
            "current_password": DEFAULT_PASSWORD,
            "new_password": "Password123!",
            "confirm": "Password123!",
        },
    )
    assert common.status_code == 422
    assert "among the first that attackers try" in page_text(common)
    several = post(
        client,
        "/profile/password",
        {"current_password": DEFAULT_PASSWORD, "new_password": "short", "confirm": "different"},
    )
    text = page_text(several)
    assert "Use at least 10 characters." in text and "The two passwords differ." in text
