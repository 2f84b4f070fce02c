"""The profile blueprint and the limits shared by its pages."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from portal.extensions import limiter

profile = Blueprint("profile", __name__, url_prefix="/profile")


def _account_key() -> str:
    return f"user:{current_user.get_id()}"


# Password and code checks on these pages must not become a guessing oracle for someone
# holding a stolen session: every change is limited per account as well as per address.
limiter.limit("30 per minute", methods=["POST"], key_func=_account_key, scope="profile-account")(
    profile
)
limiter.limit("60 per minute", methods=["POST"], scope="profile-address")(profile)


def _refused(response) -> bool:
    return response.status_code >= 400


# Wrong passwords on any of the forms that ask for it share one budget per account, as
# tight as the sign-in page's, so a stolen session is no faster password oracle.
password_checks = limiter.shared_limit(
    "10 per 15 minutes",
    scope="profile-password",
    key_func=_account_key,
    methods=["POST"],
    deduct_when=_refused,
)
