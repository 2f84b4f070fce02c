"""Administration: employees (routes.py), the company's security settings (settings.py)
and the audit log (audit_log.py), all on one blueprint (blueprint.py)."""

from portal.admin import audit_log, routes, settings
from portal.admin.blueprint import admin

__all__ = ["admin", "audit_log", "routes", "settings"]
