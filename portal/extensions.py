"""Extensions, created unbound here and bound to the app in the factory."""

from flask import request
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

from portal.database import db

__all__ = ["db", "csrf", "htmx", "limiter", "login_manager"]

csrf = CSRFProtect()
htmx = Htmx()
login_manager = LoginManager()


def client_ip() -> str:
    # ProxyFix (when TRUSTED_PROXIES > 0) has already put the real client in remote_addr.
    return request.remote_addr or "unknown"


limiter = Limiter(key_func=client_ip, headers_enabled=False)
