"""Single-use links to set a password: invitations for new employees and admin resets."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from portal import clock
from portal.crypto import hash_token, new_token
from portal.database import db
from portal.models import Invitation, User
from portal.origin import Origin
from portal.services import audit, sessions
from portal.services.accounts import AccountError, set_password

LIFETIME = timedelta(days=7)
PURPOSE_INVITE = "invite"
PURPOSE_RESET = "reset"


def issue(user: User, purpose: str, *, by: User | None) -> str:
    """A new link token; earlier unused links of the user stop working. Caller commits."""
    now = clock.now()
    db.session.execute(
        update(Invitation)
        .where(Invitation.user_id == user.id, Invitation.used_at.is_(None))
        .values(used_at=now)
    )
    token = new_token()
    db.session.add(
        Invitation(
            token_hash=hash_token(token),
            user_id=user.id,
            purpose=purpose,
            created_by_id=by.id if by else None,
            created_at=now,
            expires_at=now + LIFETIME,
        )
    )
    return token


def find_valid(token: str) -> Invitation | None:
    if not token or len(token) > 128:
        return None
    invitation = db.session.scalars(
        select(Invitation).where(Invitation.token_hash == hash_token(token))
    ).first()
    if invitation is None or invitation.used_at is not None:
        return None
    if invitation.expires_at <= clock.now() or not invitation.user.active:
        return None
    return invitation


def accept(token: str, new_password: str, origin: Origin) -> User:
    """Sets the password; a link used twice at the same instant works once."""
    invitation = find_valid(token)
    if invitation is None:
        raise AccountError("This link is no longer valid. Ask your administrator for a new one.")
    claimed = db.rows_changed_by(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.used_at.is_(None))
        .values(used_at=clock.now())
    )
    if claimed != 1:
        db.session.rollback()
        raise AccountError("This link is no longer valid. Ask your administrator for a new one.")
    user = invitation.user
    set_password(user, new_password)
    sessions.end_all_except(user, None)
    audit.record(audit.INVITATION_ACCEPTED, origin=origin, actor=user, detail=invitation.purpose)
    db.session.commit()
    return user
