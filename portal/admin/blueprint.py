"""The admin blueprint and the guard its pages share."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort
from flask_login import current_user, login_required

admin = Blueprint("admin", __name__, url_prefix="/admin")
# Ids beyond a 32-bit integer cannot exist; the bound turns them into a 404 before the query.
EMPLOYEE = "/employees/<int(max=2147483647):user_id>"


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped
