"""Domain errors and how the web and the API present them.

Operations raise these; the views never build error responses by hand. Every error carries
a stable machine code (for the API), a message in the user's language and an HTTP status.
"""

from flask import jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    """A request that cannot be carried out; nothing has been changed."""

    status = 400
    code = "invalid"

    def __init__(self, message, *, code=None, status=None, details=None):
        super().__init__(str(message))
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details

    def to_dict(self):
        body = {"code": self.code, "message": str(self.message)}
        if self.details is not None:
            body["details"] = self.details
        return {"error": body}


class Invalid(DomainError):
    status = 400
    code = "invalid"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


# Messages for errors raised by Flask/Werkzeug itself, keyed by status.
_HTTP_MESSAGES = {
    400: ("bad_request", _l("The request could not be understood.")),
    401: ("unauthorized", _l("Please sign in first.")),
    403: ("forbidden", _l("You do not have permission to do this.")),
    404: ("not_found", _l("The page or item was not found.")),
    405: ("method_not_allowed", _l("This action is not allowed here.")),
    413: ("too_large", _l("The upload is too large.")),
    429: ("rate_limited", _l("Too many requests. Please wait a moment and try again.")),
    500: ("server_error", _l("Something went wrong on the server. Nothing was changed.")),
}


def wants_json():
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(error):
    """Render a DomainError as JSON for the API or as a page for people."""
    if wants_json():
        return jsonify(error.to_dict()), error.status
    return (
        render_template("error.html", message=str(error.message), details=error.details, status=error.status),
        error.status,
    )


def init_error_handlers(app):
    from flask_wtf.csrf import CSRFError

    from voting.extensions import db

    @app.errorhandler(DomainError)
    def handle_domain_error(error):
        db.session.rollback()
        return error_response(error)

    @app.errorhandler(CSRFError)
    def handle_csrf_error(error):
        db.session.rollback()
        return error_response(
            Invalid(
                _l("This form has expired or was not sent from this site. Please reload the page and try again."),
                code="csrf_failed",
            )
        )

    @app.errorhandler(HTTPException)
    def handle_http_error(error):
        db.session.rollback()
        code, message = _HTTP_MESSAGES.get(error.code, ("http_error", error.description))
        if error.code == 413:
            limit_mb = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
            message = _l("The upload is too large (limit %(mb)s MB).", mb=limit_mb)
        body, status = error_response(DomainError(message, code=code, status=error.code))
        # Keep the headers the status promises, e.g. Allow on a 405.
        headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
        return body, status, headers

    @app.errorhandler(Exception)
    def handle_unexpected(error):
        if app.testing:
            raise error
        app.logger.exception("Unhandled error")
        db.session.rollback()
        code, message = _HTTP_MESSAGES[500]
        return error_response(DomainError(message, code=code, status=500))
