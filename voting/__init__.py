"""District People's Congress voting and consultation service."""

import os
import secrets
from pathlib import Path

from flask import Flask

from voting import config as default_config


def create_app(test_config=None):
    """Create and configure the application."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="../static",
    )
    load_config(app, test_config)
    register_proxy(app)
    register_extensions(app)
    register_database_events(app)
    register_i18n(app)
    register_errors(app)
    register_blueprints(app)
    register_cli(app)
    register_template_helpers(app)
    register_security_headers(app)
    return app


def load_config(app, test_config):
    """Read defaults, instance/config.py, VOTING_* variables, then DATABASE_URL (or the test mapping)."""
    app.config.from_object(default_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("VOTING")
        if os.environ.get("DATABASE_URL"):
            app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    else:
        app.config.update(test_config)
    uri = app.config.get("SQLALCHEMY_DATABASE_URI")
    if not uri:
        uri = "sqlite:///" + os.path.join(app.instance_path, "voting.db")
    if uri.startswith("postgresql://") or uri.startswith("postgres://"):
        # psycopg 3 is the driver we ship.
        uri = "postgresql+psycopg://" + uri.split("://", 1)[1]
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app)


def _instance_secret(app):
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


def register_proxy(app):
    """Trust the X-Forwarded-* headers of PROXY_COUNT reverse proxies (client address, scheme, host)."""
    count = int(app.config.get("PROXY_COUNT") or 0)
    if count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)


def register_extensions(app):
    from voting.extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)


def register_database_events(app):
    from voting.database import configure_engine_events
    from voting.extensions import db

    with app.app_context():
        configure_engine_events(db.engine)


def register_i18n(app):
    from voting.i18n import init_i18n

    init_i18n(app)


def register_errors(app):
    from voting.errors import init_error_handlers

    init_error_handlers(app)


def register_blueprints(app):
    import voting.api.ballot_exports  # noqa: F401  (registers exportBallotResults on api_bp)
    import voting.api.ballots  # noqa: F401  (registers the ballot operations on api_bp)
    import voting.api.consultations  # noqa: F401  (registers the draft and contact-point operations on api_bp)
    import voting.api.opinion_reports  # noqa: F401  (registers getDraftStats and exportOpinions on api_bp)
    import voting.api.opinion_review  # noqa: F401  (registers listOpinions, mergeOpinions, importOpinions ... on api_bp)
    import voting.api.opinions  # noqa: F401  (registers submitOpinion and getOpinionByTrackingCode on api_bp)
    import voting.api.paper_ballots  # noqa: F401  (registers the paper-ballot operations on api_bp)
    from voting.accounts.views import bp as accounts_bp
    from voting.api.views import bp as api_bp
    from voting.audit.views import bp as audit_bp
    from voting.ballots.booth_views import bp as ballot_booth_bp
    from voting.ballots.export_views import bp as ballot_exports_bp
    from voting.ballots.paper_views import bp as paper_ballots_bp
    from voting.ballots.views import bp as ballots_bp
    from voting.consultations.public_views import bp as public_consult_bp
    from voting.consultations.report_views import bp as consult_reports_bp
    from voting.consultations.review_views import bp as opinion_review_bp
    from voting.consultations.views import bp as consultations_bp
    from voting.deputies.views import bp as deputies_bp
    from voting.meetings.views import bp as meetings_bp
    from voting.web.views import bp as web_bp

    for bp in (
        web_bp,
        accounts_bp,
        deputies_bp,
        meetings_bp,
        ballots_bp,
        paper_ballots_bp,
        ballot_booth_bp,
        audit_bp,
        consultations_bp,
        public_consult_bp,
        consult_reports_bp,
        opinion_review_bp,
        ballot_exports_bp,
        api_bp,
    ):
        app.register_blueprint(bp)


def register_cli(app):
    from voting.cli import init_cli

    init_cli(app)


def register_template_helpers(app):
    from voting.templating import init_templating

    init_templating(app)


# Set on every answer that does not set them itself.
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy",
     "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
     "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"),
)


def register_security_headers(app):
    @app.after_request
    def security_headers(response):
        # What Headers.setdefault does for each, with one pass over the answer's headers instead
        # of two per header (a twentieth of the trivial endpoint's time).
        headers = response.headers
        present = {key.lower() for key, _ in headers.items()}
        for key, value in SECURITY_HEADERS:
            if key.lower() not in present:
                headers.add(key, value)
        return response
