"""The bell's poll, answered before Flask's request machinery.

Every open tab asks for the bell every 30 seconds, which makes it the most frequent
request of all. When the answer is only the unread count, this WSGI layer gives it from
one indexed query (notifications.bell_state) on the read engine, with the headers every
response carries, and without the request context, the page gates or the template
context. A session that is not a valid full one gets htmx's "stop polling" status. Any
other request, a bell with a live sign-in code to show, and the bell of an account the
company's policy may refuse (mandatory two-step, not set up) go on to the Flask view: it
shows the code where this session may see it, and the pages' policy gate ends an overdue
session there as it would on any page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy.exc import DBAPIError
from werkzeug.http import parse_cookie

from portal.auth.current import COOKIE_NAME
from portal.crypto import hash_token
from portal.headers import security_headers
from portal.services import notifications

PATH = "/notifications/bell"
STOP_POLLING = "286 Stop Polling"
# One rendering per (mount point, unread count); a count beyond this renders each time.
CACHED_COUNTS = 100


class BellPoll:
    def __init__(self, app: Flask, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.idle = timedelta(days=app.config["SESSION_IDLE_DAYS"])
        self.headers = [
            *security_headers(app.config["HTTPS"]),
            ("Cache-Control", "no-store"),
            ("Vary", "HX-Request, Cookie"),
        ]
        self.reader = app.extensions["database_reader"]  # db.read_engine, without a context
        self.rendered: dict[tuple[str, int], bytes] = {}

    def __call__(self, environ: dict[str, Any], start_response) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "GET":
            return self.wsgi_app(environ, start_response)
        token = parse_cookie(environ.get("HTTP_COOKIE", "")).get(COOKIE_NAME)
        state = None
        if token and len(token) <= 128:
            try:
                state = notifications.bell_state(
                    hash_token(token), idle=self.idle, engine=self.reader
                )
            except DBAPIError:
                # The database is down or restarting: Flask's view answers, and its error
                # handlers say so (503) as for any other page.
                return self.wsgi_app(environ, start_response)
        if state is None:
            start_response(STOP_POLLING, [*self.headers, ("Content-Length", "0")])
            return [b""]
        if state.live_codes or state.policy_may_refuse:
            return self.wsgi_app(environ, start_response)
        body = self._quiet_bell(environ, state.unread)
        start_response(
            "200 OK",
            [
                *self.headers,
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(body))),
            ],
        )
        return [body]

    def _quiet_bell(self, environ: dict[str, Any], unread: int) -> bytes:
        key = (environ.get("SCRIPT_NAME", ""), unread)
        body = self.rendered.get(key)
        if body is None:
            # The template alone, without the pages' context processors (and their queries).
            with self.app.request_context(environ):
                template = self.app.jinja_env.get_template("notifications/_bell.html")
                interval = self.app.config["BELL_POLL_SECONDS"]
                body = template.render(
                    bell={"unread": unread, "live": [], "interval": interval}
                ).encode()
            if unread <= CACHED_COUNTS:
                self.rendered[key] = body
        return body
