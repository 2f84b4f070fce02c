"""The notifications page's buttons: POST forms that carry the CSRF token."""

from flask_wtf import FlaskForm


class NoticeActionForm(FlaskForm):
    """Mark as read, mark all as read, "This wasn't me": a button and its token."""
