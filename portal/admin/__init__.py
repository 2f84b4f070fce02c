"""Administration: employees and the company's security settings."""

# The audit log's views register themselves on the blueprint defined in routes.
from portal.admin import audit_log  # noqa: F401
