"""Home page."""

from flask import Blueprint, redirect, url_for
from flask_login import current_user

from voting.auth import current_deputy_device

bp = Blueprint("web", __name__)


@bp.get("/")
def home():
    """Organizers go to their meetings; a bound phone goes to the deputy's page."""
    if current_user.is_authenticated:
        return redirect(url_for("meetings.index"))
    if current_deputy_device() is not None:
        return redirect(url_for("deputies.me"))
    return redirect(url_for("accounts.login"))
