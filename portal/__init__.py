"""The employee portal: application factory."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import config as portal_config
from portal.config import PROJECT_ROOT
from portal.cookie_session import PortalSessionInterface
from portal.crypto import Keyring
from portal.extensions import csrf, db, htmx, limiter, login_manager
from portal.services.passwords import PasswordHasher
from portal.templating import PortalEnvironment


class Portal(Flask):
    jinja_environment = PortalEnvironment

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        # Flask asks whether a view or hook is a coroutine function each time it calls it,
        # about twenty times a request; the answer for a function does not change.
        known = self.__dict__.setdefault("_sync_functions", {})
        try:
            return known[func]
        except KeyError:
            sync = known[func] = super().ensure_sync(func)
            return sync
        except TypeError:  # an unhashable callable
            return super().ensure_sync(func)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    config = dict(config or {})
    instance_path = config.pop("INSTANCE_PATH", None) or os.environ.get(
        "PORTAL_INSTANCE_PATH", str(PROJECT_ROOT / "instance")
    )
    app = Portal(
        __name__,
        instance_path=str(Path(instance_path).resolve()),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    portal_config.load(app, config)
    app.session_interface = PortalSessionInterface()
    logging.basicConfig(
        level=app.config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    if app.config["TRUSTED_PROXIES"] > 0:
        hops = app.config["TRUSTED_PROXIES"]
        # Flask's documented way to wrap the WSGI app; mypy sees a method being replaced.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )

    app.config["RATELIMIT_STORAGE_URI"] = app.config["RATELIMIT_STORAGE_URL"]
    app.extensions["keyring"] = Keyring(app.config["ENCRYPTION_KEY"])
    app.extensions["password_hasher"] = PasswordHasher(
        time_cost=app.config["PASSWORD_TIME_COST"],
        memory_cost=app.config["PASSWORD_MEMORY_COST"],
        parallelism=app.config["PASSWORD_PARALLELISM"],
    )

    db.init_app(app)
    from portal.auth import current

    # First, so that a pending sign-in is sent to its second step before anything else.
    current.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)

    from portal import cli, errors, headers, templating
    from portal.admin import admin
    from portal.auth.routes import auth
    from portal.notifications import notifications
    from portal.profile import profile
    from portal.setup.routes import setup

    headers.init_app(app)
    errors.init_app(app)
    templating.init_app(app)
    cli.init_app(app)

    app.register_blueprint(auth)
    app.register_blueprint(setup)
    app.register_blueprint(profile)
    app.register_blueprint(admin)
    app.register_blueprint(notifications)

    from portal.notifications.poll import BellPoll

    # Outermost: the bell's poll is answered before anything else runs. (Flask's
    # documented way to wrap the WSGI app; mypy sees a method being replaced.)
    app.wsgi_app = BellPoll(app, app.wsgi_app)  # type: ignore[method-assign]
    return app
