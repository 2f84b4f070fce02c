"""What the Security page's two-step area shows, worked out once per request.

The area is one panel re-rendered whole for each state. ``TwoStepArea.state`` names the
state, and the template includes one partial per state; the fresh-password gate is
decided here too, so a template never shows a secret the gate would hide.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from portal.models import User, UserSession
from portal.services import first_run, policy, recovery_codes, sessions, totp, two_step

# The forms that open inside the area from a link (?open=...).
OPEN_FORMS = frozenset({"device", "turn-off", "regenerate"})


@dataclass(frozen=True)
class Enrolment:
    """A secret waiting to be confirmed: what the person needs to add it to an app."""

    qr_svg: str
    key: str
    account: str
    issuer: str
    device_change: bool


@dataclass(frozen=True)
class TwoStepArea:
    enabled: bool
    password_fresh: bool
    may_turn_off: bool
    open_form: str | None = None
    asking_password: bool = False
    enrolment: Enrolment | None = None
    unsaved_codes: list[str] | None = None
    # New codes exist but this session may not show them now: the password and an app
    # code first (recovery_codes.unsaved_shown_to).
    codes_unsaved_hidden: bool = False
    codes_left: int = 0
    codes_used: list[recovery_codes.UsedCode] = field(default_factory=list)

    @property
    def state(self) -> str:
        """enrolling, confirm_password, reveal_codes, unsaved_codes, on or off."""
        if self.enrolment is not None:
            return "enrolling"
        if self.asking_password:
            return "confirm_password"
        if self.codes_unsaved_hidden:
            return "reveal_codes"
        if self.unsaved_codes:
            return "unsaved_codes"
        return "on" if self.enabled else "off"

    @property
    def shows_recovery_codes_card(self) -> bool:
        return self.enabled and not self.unsaved_codes and not self.codes_unsaved_hidden

    @property
    def codes_low(self) -> bool:
        return self.codes_left <= recovery_codes.LOW_WARNING


def build(
    user: User,
    session: UserSession | None,
    *,
    open_form: str | None = None,
    asking_password: bool = False,
) -> TwoStepArea:
    fresh = sessions.password_is_fresh(session)
    enrolment = None
    secret = two_step.pending_secret(user)
    if secret is not None and fresh:
        enrolment = _enrolment(user, secret)
    elif secret is not None:
        asking_password = True
    unsaved = shown = codes_left = None
    codes_used: list[recovery_codes.UsedCode] = []
    if user.two_step_enabled:
        unsaved = recovery_codes.unsaved(user)
        shown = recovery_codes.unsaved_shown_to(user, session)
        codes_left, codes_used = recovery_codes.standing(user)
    return TwoStepArea(
        enabled=user.two_step_enabled,
        password_fresh=fresh,
        may_turn_off=policy.may_turn_off_two_step(user),
        open_form=open_form if open_form in OPEN_FORMS else None,
        asking_password=asking_password,
        enrolment=enrolment,
        unsaved_codes=shown,
        codes_unsaved_hidden=unsaved is not None and shown is None,
        codes_left=codes_left or 0,
        codes_used=codes_used,
    )


def _enrolment(user: User, secret: str) -> Enrolment:
    company = first_run.company()
    issuer = company.name if company else "Employee portal"
    uri = totp.provisioning_uri(secret, account=user.email, issuer=issuer)
    return Enrolment(
        qr_svg=totp.qr_svg(uri),
        key=totp.grouped(secret),
        account=user.email,
        issuer=issuer,
        device_change=user.two_step_enabled,
    )
