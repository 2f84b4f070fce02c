"""Fixtures: an app per test on a fresh database, clients, users, and a movable clock.

Set PORTAL_TEST_DATABASE_URL (postgresql+psycopg://...) to run the same suite on
PostgreSQL; the schema is made once per run and emptied after each test there.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from portal import clock as portal_clock
from portal import create_app
from portal.database import Base, db, make_engine
from portal.models import ROLE_ADMIN, ROLE_EMPLOYEE, Company, User
from portal.services import accounts
from tests.support import DEFAULT_PASSWORD, MovableClock, totp_code

POSTGRES_URL = os.environ.get("PORTAL_TEST_DATABASE_URL", "")
# Cheap argon2 parameters keep the suite fast; tests/auth covers the production ones.
FAST_HASHING = {"PASSWORD_TIME_COST": 1, "PASSWORD_MEMORY_COST": 256, "PASSWORD_PARALLELISM": 1}


@pytest.fixture(scope="session")
def postgres_schema():
    if not POSTGRES_URL:
        yield None
        return
    engine = make_engine(POSTGRES_URL)
    Base.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def database_url(tmp_path, postgres_schema):
    if postgres_schema is None:
        yield f"sqlite:///{tmp_path / 'portal.db'}"
        return
    yield POSTGRES_URL
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with postgres_schema.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def app_config(tmp_path, database_url):
    return {
        "TESTING": True,
        "SECRET_KEY": "test secret key",
        "ENCRYPTION_KEY": "test encryption key",
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "LOG_LEVEL": "WARNING",
        **FAST_HASHING,
    }


@pytest.fixture
def app(app_config, postgres_schema):
    app = create_app(app_config)
    if postgres_schema is None:
        with app.app_context():
            Base.metadata.create_all(db.engine)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def make_app(app_config, postgres_schema):
    """Another app on the same database, with some settings changed;
    fast_hashing=False keeps the production argon2 parameters."""
    made = []

    def _make(*, fast_hashing: bool = True, **overrides):
        config = dict(app_config)
        if not fast_hashing:
            for key in FAST_HASHING:
                config.pop(key)
        app = create_app({**config, **overrides})
        if postgres_schema is None:
            with app.app_context():
                Base.metadata.create_all(db.engine)
        made.append(app)
        return app

    yield _make
    for app in made:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def other_client(app):
    """A second browser."""
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def clock(monkeypatch):
    movable = MovableClock()
    monkeypatch.setattr(portal_clock, "now", movable.now)
    return movable


@pytest.fixture
def limiter_clock(clock, monkeypatch):
    """Flask-Limiter's memory storage reads time.time(); let it follow the test clock, so
    windows end when the test moves time and a real minute boundary never empties one."""
    import limits.storage.memory

    class _Time:
        @staticmethod
        def time() -> float:
            return clock.timestamp()

    monkeypatch.setattr(limits.storage.memory, "time", _Time)
    return clock


@pytest.fixture
def company(app):
    with app.app_context():
        db.session.add(Company(id=1, name="Acme Tools"))
        db.session.commit()
    return "Acme Tools"


@pytest.fixture
def make_user(app, company):
    def _make(
        email: str = "emma@example.com",
        *,
        name: str = "Emma Stone",
        password: str = DEFAULT_PASSWORD,
        admin: bool = False,
        active: bool = True,
    ) -> int:
        with app.app_context():
            user = accounts.create(
                name=name,
                email=email,
                password=password,
                role=ROLE_ADMIN if admin else ROLE_EMPLOYEE,
            )
            user.active = active
            db.session.commit()
            return user.id

    return _make


@pytest.fixture
def employee(make_user) -> int:
    return make_user("emma@example.com", name="Emma Stone")


@pytest.fixture
def admin_user(make_user) -> int:
    return make_user("ada@example.com", name="Ada Admin", admin=True)


@pytest.fixture
def enrol(app, clock):
    """Turns two-step authentication on for a user through the service, as a confirmed
    enrolment would; returns the secret and the recovery codes."""
    from portal.origin import Origin
    from portal.services import two_step

    def _enrol(user_id: int, *, codes_saved: bool = True) -> tuple[str, list[str]]:
        with app.app_context():
            user = db.session.get(User, user_id)
            secret = two_step.start_enrolment(user)
            outcome = two_step.confirm_enrolment(
                user, totp_code(secret, clock), Origin("127.0.0.1", "pytest"), None
            )
            assert outcome.ok, outcome.message
            if codes_saved:
                two_step.confirm_codes_saved(user)
        # The confirmation used this time step; later codes come from the next ones.
        clock.advance(seconds=30)
        return secret, outcome.codes

    return _enrol
