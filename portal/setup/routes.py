"""First run: company name and the first administrator, behind the printed setup link."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from portal.auth import current
from portal.extensions import limiter
from portal.services import accounts, first_run
from portal.setup.forms import SetupForm
from portal.web import request_origin

setup = Blueprint("setup", __name__)


@setup.route("/setup", methods=["GET", "POST"])
@limiter.limit("20 per minute")
def start():
    if not first_run.is_needed():
        return render_template("setup/done.html"), 404
    token = request.values.get("token", "")
    if not first_run.token_matches(current_app.instance_path, token):
        return render_template("setup/token_needed.html"), 403

    form = SetupForm(token=token)
    if form.validate_on_submit():
        origin = request_origin()
        try:
            admin = first_run.complete(
                current_app.instance_path,
                company_name=form.company_name.data,
                admin_name=form.admin_name.data,
                email=form.email.data,
                password=form.password.data,
                origin=origin,
            )
        except accounts.WeakPassword as problem:
            form.password.errors.append(str(problem))
        except first_run.SetupClosed:
            abort(404)
        else:
            current.begin(admin, origin, method="setup")
            flash("Your portal is ready. Turn on two-step authentication first.", "success")
            return redirect(url_for("profile.security"), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("setup/setup.html", form=form), status
