"""The profile page: name, email and password."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask import session as browser_session
from flask_login import current_user, login_required

from portal.auth import current
from portal.extensions import limiter
from portal.profile.blueprint import password_checks, profile
from portal.profile.forms import ChangePasswordForm, ProfileForm
from portal.services import accounts
from portal.templating import BANNER_DISMISSED
from portal.web import done, render_page_or_fragment, request_origin, safe_next, wants_fragment


@profile.get("/")
@login_required
def account():
    return render_template(
        "profile/account.html",
        profile_form=ProfileForm(obj=current_user),
        password_form=ChangePasswordForm(),
    )


def _not_changing_email() -> bool:
    return accounts.normalize_email(request.form.get("email", "")) == current_user.email


@profile.post("/details")
@login_required
@password_checks
# Each try at a new address costs a password check and may probe for accounts.
@limiter.limit(
    "5 per hour",
    methods=["POST"],
    key_func=lambda: f"user:{current_user.get_id()}",
    scope="profile-email",
    exempt_when=_not_changing_email,
)
def update_details():
    form = ProfileForm()
    if form.validate_on_submit():
        try:
            accounts.update_profile(
                current_user,
                name=form.name.data,
                email=form.email.data,
                password=form.password.data or "",
                origin=request_origin(),
            )
        except (accounts.PasswordNeeded, accounts.WrongPassword) as error:
            form.password.errors.append(str(error))
        except accounts.AccountError as error:
            form.email.errors.append(str(error))
        else:
            return _saved("profile/_details.html", "Your profile is saved.")
    return render_page_or_fragment(
        "profile/account.html",
        "profile/_details.html",
        status=422,
        profile_form=form,
        password_form=ChangePasswordForm(),
    )


@profile.post("/password")
@login_required
@password_checks
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(
                current_user,
                form.current_password.data,
                form.new_password.data,
                keep=current.current_session(),
                origin=request_origin(),
            )
        except accounts.PasswordChangeRefused as refused:
            if refused.current:
                form.current_password.errors.append(refused.current)
            if refused.new:
                form.new_password.errors.append(refused.new)
        else:
            return _saved(
                "profile/_password.html",
                "Your password is changed. Your other sessions were signed out.",
            )
    elif form.current_password.data and not (
        form.current_password.errors or form.csrf_token.errors
    ):
        # The other fields were refused: a wrong current password is said in the same round.
        wrong = accounts.current_password_problem(current_user, form.current_password.data)
        if wrong:
            form.current_password.errors.append(wrong)
    return render_page_or_fragment(
        "profile/account.html",
        "profile/_password.html",
        status=422,
        profile_form=ProfileForm(obj=current_user),
        password_form=form,
    )


def _saved(fragment: str, message: str):
    return done(
        message,
        fragment=fragment,
        redirect_to=url_for("profile.account"),
        profile_form=ProfileForm(obj=current_user, formdata=None),
        password_form=ChangePasswordForm(formdata=None),
    )


@profile.post("/deadline-banner/dismiss")
@login_required
def dismiss_deadline_banner():
    """Hides the two-step deadline banner in this browser until its last days."""
    browser_session[BANNER_DISMISSED] = True
    if wants_fragment():
        return ""
    return redirect(safe_next(request.form.get("next")) or url_for("profile.security"), code=303)
