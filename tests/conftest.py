"""Fixtures: a migrated database per test (SQLite, or PostgreSQL with TEST_DATABASE_URL), the app,
clients, and factories for users, deputies, phones and meetings."""

import contextvars
import os
import re
import shutil
import threading

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from voting import create_app
from voting.extensions import db

SECRET = "test-secret-key-not-for-production"
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")


def _psycopg_url(url):
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)


def _base_config(uri):
    return {
        "TESTING": True,
        "SECRET_KEY": SECRET,
        "SQLALCHEMY_DATABASE_URI": uri,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SERVER_NAME": "localhost",
        "PREFERRED_URL_SCHEME": "http",
    }


def _migrate(uri):
    from flask_migrate import upgrade

    app = create_app(_base_config(uri))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """Migrate once per session: a SQLite file to copy, or the PostgreSQL schema to truncate."""
    if TEST_DATABASE_URL:
        uri = _psycopg_url(TEST_DATABASE_URL)
        engine = create_engine(uri)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        _migrate(uri)
        return uri
    path = tmp_path_factory.mktemp("template") / "template.db"
    _migrate(f"sqlite:///{path}")
    return path


_RESETS = {}  # uri -> (engine, tables, sequences): looked up once per session


def _reset_postgres(uri):
    """Empty every table and restart every sequence, in about 3 ms.

    DELETE with the triggers off (``session_replication_role``: foreign keys and the audit log's
    append-only trigger) instead of TRUNCATE, which made each table a new file: 190 ms a test, half
    of the PostgreSQL suite's time. Without the superuser that setting needs, TRUNCATE it is.
    """
    if uri not in _RESETS:
        engine = create_engine(uri)
        with engine.connect() as conn:
            tables = [r[0] for r in conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"))]
            sequences = [r[0] for r in conn.execute(text(
                "SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = 'public'"))]
            superuser = conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar()
        _RESETS[uri] = engine, tables, sequences, superuser
    engine, tables, sequences, superuser = _RESETS[uri]
    with engine.begin() as conn:
        if superuser:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text("; ".join(f"DELETE FROM {table}" for table in tables)))  # noqa: S608 - catalog names
            if sequences:
                conn.execute(text("SELECT " + ", ".join(f"setval('{seq}', 1, false)" for seq in sequences)))
        else:
            conn.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only"))
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            conn.execute(text("ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_append_only"))
        conn.execute(text("INSERT INTO audit_head (id, seq, last_hash) VALUES (1, 0, :h)"), {"h": "0" * 64})


@pytest.fixture
def database_uri(database_template, tmp_path):
    """A freshly migrated, empty database for one test."""
    if TEST_DATABASE_URL:
        _reset_postgres(database_template)
        return database_template
    path = tmp_path / "test.db"
    shutil.copy(database_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def app_config(database_uri):
    """The configuration mapping for ``app``; tests may change it before ``app`` is made."""
    return _base_config(database_uri)


class IsolatedClient(FlaskClient):
    """A test client whose every request gets an application context of its own, as in production.

    The ``app`` fixture keeps a context pushed for the test's own database work; Flask would
    reuse it for requests, and ``g`` (signed-in user, locale, bound phone) and the database
    session would carry over from one request, or one phone, to the next.
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_user(app):
    """Create an account: make_user(role="organizer", username=None, password=...)."""
    from voting.accounts.operations import create_user

    counter = {"n": 0}

    def make(role="organizer", username=None, password="correct horse battery", must_change_password=False):
        counter["n"] += 1
        user, _ = create_user(None, username or f"{role}{counter['n']}", f"Test {role}", role, password=password,
                              must_change_password=must_change_password)
        db.session.commit()
        return user

    return make


@pytest.fixture
def organizer(make_user):
    return make_user("organizer", "organizer")


@pytest.fixture
def login(client):
    """Sign a user in through the real login form."""

    def do_login(user, password="correct horse battery", target=client):
        response = target.post("/login", data={"username": user.username, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return response

    return do_login


@pytest.fixture
def api_token(app):
    """Make an API bearer token for a user: api_token(user) -> headers dict."""
    from voting.accounts.operations import create_api_token

    def make(user):
        token = create_api_token(None, user, "test")
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
def make_deputies(app):
    """Add n deputies across delegations: make_deputies(n, delegations=3) -> list of Deputy."""
    from voting.deputies.models import Deputy

    def make(n, delegations=3, prefix="D"):
        deputies = [Deputy(number=f"{prefix}{i:04d}", name=f"代表{i}", delegation=f"第{i % delegations + 1}代表团")
                    for i in range(1, n + 1)]
        db.session.add_all(deputies)
        db.session.commit()
        return deputies

    return make


@pytest.fixture
def bind_phone(app):
    """Bind a phone to a deputy through the real activation; return the device token."""
    from voting.deputies.operations import activate, issue_activation_code

    def bind(deputy):
        code = issue_activation_code(None, deputy)
        _, token = activate(code, "pytest")
        db.session.commit()
        return token

    return bind


@pytest.fixture
def make_meeting(app):
    """Create a meeting expecting every active deputy; open sign-in unless told not to."""
    from voting.meetings.operations import create_meeting, open_sign_in

    def make(title="测试会议", open_signin=True, **kwargs):
        meeting = create_meeting(None, title, **kwargs)
        if open_signin:
            open_sign_in(None, meeting)
        db.session.commit()
        return meeting

    return make


@pytest.fixture
def race():
    """Send requests from threads released at the same instant: race(app, [send(client), ...]) -> responses.

    Each thread has its own test client, so each request has its own application context
    and database connection, as concurrent requests to the server have.
    """

    def run(app, requests):
        barrier = threading.Barrier(len(requests))
        results = [None] * len(requests)

        def worker(index, send):
            client = app.test_client()
            try:
                barrier.wait(timeout=10)
                results[index] = send(client)
            except BaseException as error:  # noqa: BLE001 - reported below
                results[index] = error

        threads = [threading.Thread(target=worker, args=(i, send)) for i, send in enumerate(requests)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert not errors, errors
        return results

    return run


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def chromium_options():
    """How to launch Debian's headless Chromium (never a downloaded one); skip if it is missing."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium and fonts-wqy-microhei (.ci/run does)")
    # Without the background-networking flags Chromium keeps calling hosts this closed network refuses.
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"]
    return {"executable_path": CHROMIUM, "args": args}
