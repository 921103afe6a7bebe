"""Who is asking: organizers by session cookie, deputies by their bound phone."""

from functools import wraps

from flask import current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from voting.accounts.models import MEETING_ROLES
from voting.errors import Forbidden
from voting.extensions import login_manager

SESSION_KEY = "sid"


API_PREFIX = "/api/"


class BrowserSessionInterface(SecureCookieSessionInterface):
    """Signed-cookie sessions for the browser pages; none for the API, which takes bearer tokens only.

    An API request neither reads nor writes the session cookie, so a cookie riding along on a
    forged cross-site request authenticates nothing there, and the phones' sign-in burst does
    not pay for opening and saving a session (docs/BENCHMARKS.md).
    """

    def open_session(self, app, request):
        if request.path.startswith(API_PREFIX):
            return self.make_null_session(app)
        return super().open_session(app, request)


def init_login(app):
    app.session_interface = BrowserSessionInterface()
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please sign in first.")
    login_manager.login_message_category = "info"

    @login_manager.request_loader
    def load_user_from_session(_request):
        from voting.accounts.operations import load_session

        user = load_session(session.get(SESSION_KEY))
        if user is not None:
            g.rate_limit_key = f"user:{user.id}"
        return user


def roles_required(*roles):
    """Require a signed-in organizer with one of ``roles`` (default: meeting roles)."""
    roles = roles or MEETING_ROLES

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if current_user.must_change_password and request.endpoint != "accounts.change_password":
                return redirect(url_for("accounts.change_password"))
            if not current_user.has_role(*roles):
                raise Forbidden(_l("Your role does not allow this."))
            return view(*args, **kwargs)

        return wrapper

    return decorator


def current_deputy_device():
    """Return the DeputyDevice bound to this phone (cookie) or None; cached per request."""
    if "deputy_device" not in g:
        from voting.deputies.operations import device_for_token

        token = request.cookies.get(current_app.config["DEVICE_COOKIE_NAME"])
        g.deputy_device = device_for_token(token) if token else None
        if g.deputy_device is not None:
            g.rate_limit_key = f"device:{g.deputy_device.id}"
    return g.deputy_device


def device_rate_limit_key():
    """Key a rate limit on the bound phone: a whole hall reaches us from one NAT address."""
    device = current_deputy_device()
    return f"device:{device.id}" if device is not None else f"addr:{request.remote_addr}"
