"""The employee's own pages: the profile (routes.py) and the Security page (security.py)."""

from portal.profile import routes, security
from portal.profile.blueprint import profile

__all__ = ["profile", "routes", "security"]
