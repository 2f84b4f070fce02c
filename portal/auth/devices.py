"""Device cookies: a browser that has signed in to an account before keeps a signed cookie
naming that account, and its password attempts count on a budget of its own.

The per-account limit on the password step stops guessing, but anyone can spend it by
typing wrong passwords for someone else's email, which would keep the real person out.
A browser with a valid device cookie for the account is not held by that shared budget:
it has its own, of the same size. A cookie that does not verify, is too old, or names
another account counts as no cookie at all. The cookie grants nothing else: it is not a
sign-in, only a separate rate-limit key.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import Flask, current_app, g, request
from itsdangerous import BadData, URLSafeSerializer

from portal import clock
from portal.models import User
from portal.services import accounts

COOKIE_NAME = "portal_device"
COOKIE_PATH = "/login"
LIFETIME = timedelta(days=180)
_SALT = "portal device cookie v1"
_MAX_COOKIE_LENGTH = 512


def init_app(app: Flask) -> None:
    app.after_request(_write_cookie)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _read_cookie() -> dict | None:
    """The cookie's content when its signature and age are right, else None."""
    raw = request.cookies.get(COOKIE_NAME)
    if not raw or len(raw) > _MAX_COOKIE_LENGTH:
        return None
    try:
        content = _serializer().loads(raw)
    except BadData:
        return None
    if not isinstance(content, dict):
        return None
    user_id, nonce, issued = content.get("u"), content.get("n"), content.get("t")
    if not (isinstance(user_id, int) and isinstance(nonce, str) and isinstance(issued, int)):
        return None
    age = clock.now().timestamp() - issued
    if age < 0 or age > LIFETIME.total_seconds():
        return None
    return content


def known_device(email: str) -> str | None:
    """This browser's device id when it holds a valid cookie for the account with this
    email; None for an unknown browser. Looked up once per request."""
    cache = g.setdefault("known_devices", {})
    if email not in cache:
        cache[email] = _known_device(email)
    return cache[email]


def _known_device(email: str) -> str | None:
    content = _read_cookie()
    if content is None:
        return None
    user = accounts.by_email(email) if len(email) <= 254 else None
    if user is None or user.id != content["u"]:
        return None
    return f"{content['u']}:{content['n']}"


def remember(user: User) -> None:
    """A sign-in went through in this browser: a new device cookie for the account (a new
    id each time, so an old copy of the cookie does not share the new budget)."""
    content = {"u": user.id, "n": secrets.token_urlsafe(16), "t": int(clock.now().timestamp())}
    g.new_device_cookie = _serializer().dumps(content)


def _write_cookie(response):
    value = g.get("new_device_cookie")
    if value:
        response.set_cookie(
            COOKIE_NAME,
            value,
            max_age=int(LIFETIME.total_seconds()),
            httponly=True,
            secure=current_app.config["HTTPS"],
            samesite="Lax",
            path=COOKIE_PATH,
        )
    return response
