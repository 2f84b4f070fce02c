"""The browser's signed cookie (Flask's ``session``): the CSRF secret, flashed messages
and small choices such as a dismissed banner. Who is signed in lives server-side, in
``portal.auth.current``, never here."""

from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class PortalSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, with its serializer made once for the app's keys rather
    than twice a request (reading the cookie, writing it back)."""

    def __init__(self) -> None:
        self._serializers: dict[tuple, URLSafeTimedSerializer | None] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        try:
            return self._serializers[keys]
        except KeyError:
            serializer = self._serializers[keys] = super().get_signing_serializer(app)
            return serializer
