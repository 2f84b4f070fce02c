"""Extensions, created unbound here and bound to the app in the factory."""

import ipaddress

from flask import request
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

from portal.database import db

__all__ = ["csrf", "db", "htmx", "limiter", "login_manager"]

csrf = CSRFProtect()
htmx = Htmx()
login_manager = LoginManager()


def client_ip() -> str:
    """The rate-limit key of the client's address. ProxyFix (when TRUSTED_PROXIES > 0)
    has already put the real client in remote_addr. An IPv6 client usually holds a
    whole /64, so that is what one address means here."""
    address = request.remote_addr or "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 4:
        return str(parsed)
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False))


limiter = Limiter(key_func=client_ip, headers_enabled=False)
