"""The notifications page's buttons: POST forms that carry the CSRF token."""

from portal.forms import PortalForm


class NoticeActionForm(PortalForm):
    """Mark as read, mark all as read, "This wasn't me": a button and its token."""
