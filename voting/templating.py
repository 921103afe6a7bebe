"""Template filters and globals."""

from datetime import UTC
from zoneinfo import ZoneInfo

from flask import current_app

from voting.qr import qr_svg


def init_templating(app):
    from voting.auth import init_login

    init_login(app)
    app.jinja_env.globals["qr_svg"] = qr_svg

    @app.template_filter("localtime")
    def localtime(value, fmt="%Y-%m-%d %H:%M:%S"):
        """Show a stored UTC time in the service's time zone."""
        if value is None:
            return ""
        zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
        return value.replace(tzinfo=UTC).astimezone(zone).strftime(fmt)
