"""The least that the portal's stack does for a signed-in page and for a password step.

Written with nothing but what the portal is built on, and the choices it has to keep:
- a server-side session: the browser holds a random token, and each request finds the
  row by the token's hash through the SQLAlchemy ORM, with its person, for Flask-Login;
- a Jinja page that carries Flask-WTF's CSRF token;
- argon2id with the portal's parameters, and a CSRF-checked sign-in form;
- SQLite in WAL mode with synchronous=FULL, so that a committed sign-in survives a
  power cut; the session row and one audit row are written in one transaction.

Nothing else: no two-step policy, no notices, no bell, no rate limits, no security
headers, no idle check. What a portal row costs beyond its floor row is the portal's
features and their checks; what the floor row costs is the stack's.

bench/pages.py serves ``create_app()`` under gunicorn beside the portal, and
bench/sign_in.py times its password step beside the portal's.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import UTC, datetime

from argon2 import PasswordHasher
from flask import Flask, g, redirect, render_template
from flask_login import LoginManager, UserMixin, login_required
from flask_wtf import CSRFProtect, FlaskForm
from jinja2 import DictLoader
from sqlalchemy import ForeignKey, String, create_engine, event, select
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    contains_eager,
    mapped_column,
    relationship,
)
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired

from portal.config import Defaults

COOKIE = "floor_session"
EMAIL = "floor@bench.example"
PASSWORD = "floor password 1"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Security</title>
<meta name="csrf-token" content="{{ csrf_token() }}"></head>
<body><header><strong>{{ current_user.name }}</strong>
<form method="post" action="/logout"><input type="hidden" name="csrf_token"
value="{{ csrf_token() }}"><button>Sign out</button></form></header>
<main><h1>Security</h1><p>Signed in as {{ current_user.email }}.</p></main></body></html>
"""
SIGN_IN = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title>
<meta name="csrf-token" content="{{ csrf_token() }}"></head>
<body><form method="post">{{ form.csrf_token }}{{ form.email() }}{{ form.password() }}
<button>Sign in</button></form></body></html>
"""


class Base(DeclarativeBase):
    pass


class Person(UserMixin, Base):
    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))


class SessionRow(Base):
    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    created_at: Mapped[datetime]
    person: Mapped[Person] = relationship()


class AuditRow(Base):
    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    occurred_at: Mapped[datetime]


class SignInForm(FlaskForm):
    email = EmailField(validators=[DataRequired()])
    password = PasswordField(validators=[DataRequired()])


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hasher() -> PasswordHasher:
    return PasswordHasher(
        time_cost=Defaults.PASSWORD_TIME_COST,
        memory_cost=Defaults.PASSWORD_MEMORY_COST,
        parallelism=Defaults.PASSWORD_PARALLELISM,
    )


def _engine(database_url: str):
    engine = create_engine(database_url)

    @event.listens_for(engine, "connect")
    def _durable(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    return engine


def prepare(database_url: str) -> str:
    """The tables and one person with a session; returns that session's cookie."""
    engine = _engine(database_url)
    Base.metadata.create_all(engine)
    token = secrets.token_urlsafe(32)
    with Session(engine) as session:
        person = Person(name="Floor Bench", email=EMAIL, password_hash=hasher().hash(PASSWORD))
        session.add(person)
        session.flush()
        session.add(SessionRow(token_hash=_hash(token), person_id=person.id, created_at=_now()))
        session.commit()
    engine.dispose()
    return f"{COOKIE}={token}"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def create_app(database_url: str | None = None) -> Flask:
    engine = _engine(database_url or os.environ["PORTAL_BENCH_FLOOR_DATABASE"])
    password_hasher = hasher()
    app = Flask(__name__)
    app.secret_key = "floor"
    app.jinja_loader = DictLoader({"page.html": PAGE, "sign_in.html": SIGN_IN})
    CSRFProtect(app)
    login_manager = LoginManager(app)

    def database() -> Session:
        if "database" not in g:
            g.database = Session(engine)
        return g.database

    @app.teardown_appcontext
    def _close(_error: BaseException | None) -> None:
        session = g.pop("database", None)
        if session is not None:
            session.close()

    @login_manager.request_loader
    def _person(request) -> Person | None:
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        row = (
            database()
            .scalars(
                select(SessionRow)
                .join(SessionRow.person)
                .options(contains_eager(SessionRow.person))
                .where(SessionRow.token_hash == _hash(token))
            )
            .first()
        )
        return row.person if row is not None else None

    @app.get("/page")
    @login_required
    def page():
        return render_template("page.html")

    @app.get("/login")
    def sign_in_form():
        return render_template("sign_in.html", form=SignInForm())

    @app.post("/login")
    def sign_in():
        form = SignInForm()
        if not form.validate_on_submit():
            return render_template("sign_in.html", form=form), 422
        session = database()
        person = session.scalars(select(Person).where(Person.email == form.email.data)).first()
        session.commit()  # no transaction open during the hash
        try:
            password_hasher.verify(person.password_hash if person else "", form.password.data)
        except Exception:
            return render_template("sign_in.html", form=form), 422
        assert person is not None
        token = secrets.token_urlsafe(32)
        session.add(SessionRow(token_hash=_hash(token), person_id=person.id, created_at=_now()))
        session.add(AuditRow(kind="sign_in", person_id=person.id, occurred_at=_now()))
        session.commit()
        response = redirect("/page", code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="Lax")
        return response

    return app
