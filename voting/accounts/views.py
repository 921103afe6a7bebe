"""Sign in and out, change password, and (administrators) manage accounts."""

import secrets
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from voting.accounts import operations
from voting.accounts.forms import ChangePasswordForm, LoginForm, UserForm
from voting.accounts.models import Role, User
from voting.auth import SESSION_KEY, roles_required
from voting.errors import DomainError, NotFound
from voting.extensions import db, limiter

bp = Blueprint("accounts", __name__)


def _safe_next(target):
    """Only follow ``next=`` to a path on this site."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    # Browsers read a backslash as a slash and drop tabs and newlines, so "/\\evil.com" and
    # "/\t/evil.com" would leave the site.
    if "\\" in target or any(ch.isspace() or ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["RATELIMIT_LOGIN"],
    methods=["POST"],
    key_func=lambda: "login:" + (request.form.get("username") or "").strip().lower(),
)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = operations.authenticate(form.username.data, form.password.data)
        except DomainError as error:
            form.password.errors.append(str(error.message))
            return render_template("accounts/login.html", form=form), 401
        session.clear()
        session[SESSION_KEY] = operations.start_session(user, request.user_agent.string)
        db.session.commit()
        if user.must_change_password:
            return redirect(url_for("accounts.change_password"))
        return redirect(_safe_next(request.args.get("next")) or url_for("web.home"))
    status = 400 if form.errors else 200
    return render_template("accounts/login.html", form=form), status


@bp.post("/logout")
def logout():
    operations.end_session(session.get(SESSION_KEY))
    db.session.commit()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@roles_required(*Role)
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            operations.change_password(current_user, form.current_password.data, form.new_password.data)
        except DomainError as error:
            form.current_password.errors.append(str(error.message))
        else:
            db.session.commit()
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("web.home"))
    return render_template("accounts/change_password.html", form=form), 400 if form.errors else 200


@bp.route("/admin/users", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def users():
    form = UserForm()
    new_password = None
    if form.validate_on_submit():
        user, new_password = operations.create_user(
            current_user, form.username.data, form.display_name.data, form.role.data
        )
        db.session.commit()
        flash(_("Account %(name)s created. Give them the one-time password below.", name=user.username), "success")
        form = UserForm(formdata=None)
    rows = db.session.scalars(select(User).order_by(User.username)).all()
    return render_template("accounts/users.html", users=rows, form=form, new_password=new_password)


def _user(user_id):
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("No such account."))
    return user


@bp.post("/admin/users/<int:user_id>/revoke-sessions")
@roles_required(Role.ADMIN)
def revoke_sessions(user_id):
    count = operations.revoke_sessions(current_user, _user(user_id))
    db.session.commit()
    flash(ngettext("%(num)s session ended.", "%(num)s sessions ended.", count), "success")
    return redirect(url_for("accounts.users"))


@bp.post("/admin/users/<int:user_id>/reset-password")
@roles_required(Role.ADMIN)
def reset_password(user_id):
    user = _user(user_id)
    password = secrets.token_urlsafe(12)
    operations.set_password(current_user, user, password, must_change=True)
    operations.revoke_sessions(current_user, user)
    db.session.commit()
    flash(_("New one-time password for %(name)s: %(password)s", name=user.username, password=password), "success")
    return redirect(url_for("accounts.users"))
