"""The bell in the header and the notifications page."""

from portal.notifications.routes import notifications

__all__ = ["notifications"]
