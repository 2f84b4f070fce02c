"""Steps the administration tests share (not collected: no test_ prefix)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sqlalchemy import select

from portal.database import db
from portal.models import Invitation
from tests.support import page_text, post

_LINK = re.compile(r'id="invite-link-url">(http://localhost/invitation/[A-Za-z0-9_-]+)</code>')


def link_in(response) -> str:
    """The path of the one password link a page shows."""
    links = _LINK.findall(page_text(response))
    assert len(links) == 1, "expected exactly one password link on the page"
    return urlsplit(links[0]).path


def add_employee(client, name="Noah Brook", email="noah@example.com", role="employee") -> str:
    response = post(client, "/admin/employees/new", {"name": name, "email": email, "role": role})
    assert response.status_code == 200, page_text(response)
    return link_in(response)


def invitations_of(app, user_id: int) -> list[Invitation]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(Invitation).where(Invitation.user_id == user_id).order_by(Invitation.id)
            )
        )
        db.session.expunge_all()
        return rows


def lock_out(client, secret: str, clock, email: str = "emma@example.com") -> None:
    """Ten wrong codes at sign-in, as someone guessing would type them: the code step of
    the account is locked for fifteen minutes."""
    from tests.support import sign_in, wrong_code

    for attempt in range(10):
        if attempt:
            clock.advance(seconds=320)  # longer than any delay before the lock
        sign_in(client, email)
        answer = post(client, "/login/code", {"code": wrong_code(secret, clock)})
        assert answer.status_code == 422, page_text(answer)
