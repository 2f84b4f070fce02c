"""Administration: employees and the company's security settings."""

# The security settings register their routes on the admin blueprint (routes.py).
from portal.admin import settings  # noqa: F401
