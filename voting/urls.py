"""Absolute addresses for printed and projected QR codes."""

from flask import current_app, url_for


def public_url(endpoint, **values):
    """Return an absolute URL, on PUBLIC_BASE_URL when set (what phones in the hall can reach)."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)
