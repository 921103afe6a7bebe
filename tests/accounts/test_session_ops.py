"""Organizer accounts: sessions that time out and can be revoked, API tokens, creating users and passwords."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from voting.accounts import operations as ops
from voting.accounts.models import UserSession
from voting.audit.models import AuditEntry
from voting.errors import Conflict, Invalid, Unauthorized
from voting.extensions import db
from voting.timeutil import utcnow


class Clock:
    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    """Freeze the clock the account operations see."""
    clock = Clock()
    monkeypatch.setattr(ops, "utcnow", clock)
    return clock


@pytest.fixture
def session_token(app, organizer, clock):
    token = ops.start_session(organizer, "pytest browser")
    db.session.commit()
    return token


def test_session_loads_its_user(organizer, session_token):
    assert ops.load_session(session_token) == organizer
    row = db.session.scalar(select(UserSession))
    assert row.token_hash != session_token and row.user_agent == "pytest browser"


@pytest.mark.parametrize("token", [None, "", "vts_unknown", "garbage"])
def test_unknown_session(app, token):
    assert ops.load_session(token) is None


@pytest.mark.parametrize(
    "idle_minutes, expired",
    [(1, False), (119, False), (120, True), (121, True), (60 * 24, True)],
)
def test_session_idle_timeout(app, organizer, session_token, clock, idle_minutes, expired):
    assert app.config["ORGANIZER_IDLE_MINUTES"] == 120
    clock.advance(minutes=idle_minutes)
    assert (ops.load_session(session_token) is None) is expired


def test_activity_keeps_the_session_alive(app, organizer, session_token, clock):
    for _ in range(5):
        clock.advance(minutes=100)
        assert ops.load_session(session_token) == organizer
    assert db.session.scalar(select(UserSession.last_seen_at)) == clock.now


def test_session_ends_at_the_maximum_age_despite_activity(app, organizer, session_token, clock):
    max_minutes = app.config["ORGANIZER_MAX_HOURS"] * 60
    elapsed = 0
    while elapsed + 100 < max_minutes:
        clock.advance(minutes=100)
        elapsed += 100
        assert ops.load_session(session_token) == organizer
    clock.advance(minutes=max_minutes - elapsed)
    assert ops.load_session(session_token) is None


@pytest.fixture
def short_sessions(app_config):
    app_config.update(ORGANIZER_IDLE_MINUTES=5, ORGANIZER_MAX_HOURS=1)


def test_configured_limits_apply(short_sessions, app, organizer, session_token, clock):
    clock.advance(minutes=4)
    assert ops.load_session(session_token) == organizer
    clock.advance(minutes=5)
    assert ops.load_session(session_token) is None


def test_revoke_sessions_ends_every_session_of_that_user(app, organizer, make_user, clock):
    admin = make_user("admin")
    tokens = [ops.start_session(organizer) for _ in range(3)]
    other = ops.start_session(admin)
    db.session.commit()
    assert ops.revoke_sessions(admin, organizer) == 3
    db.session.commit()
    assert [ops.load_session(t) for t in tokens] == [None, None, None]
    assert ops.load_session(other) == admin
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.revoke_sessions"))
    assert (entry.actor, entry.object_id, '"sessions": 3' in entry.details) == (f"user:{admin.username}",
                                                                              str(organizer.id), True)


def test_end_session_signs_out_only_that_browser(app, organizer, clock):
    first, second = ops.start_session(organizer), ops.start_session(organizer)
    ops.end_session(first)
    db.session.commit()
    assert (ops.load_session(first), ops.load_session(second)) == (None, organizer)


def test_deactivated_user_loses_sessions_and_tokens(app, organizer, session_token):
    token = ops.create_api_token(None, organizer, "大屏")
    organizer.active = False
    db.session.commit()
    assert ops.load_session(session_token) is None
    assert ops.user_for_api_token(token) is None


def test_revoked_api_token(app, organizer, make_user):
    other = make_user()
    tokens = [ops.create_api_token(None, organizer) for _ in range(2)]
    kept = ops.create_api_token(None, other)
    assert ops.revoke_api_tokens(None, organizer) == 2
    db.session.commit()
    assert [ops.user_for_api_token(t) for t in tokens] == [None, None]
    assert ops.user_for_api_token(kept) == other


def _get(app, client, path):
    # A request of its own app context: the `app` fixture's context would carry Flask-Login's
    # cached user (kept in g) over from the previous request.
    with app.app_context():
        return client.get(path)


def test_revoked_session_in_the_browser(app, client, login, organizer, make_user):
    login(organizer)
    assert _get(app, client, "/meetings").status_code == 200
    ops.revoke_sessions(make_user("admin"), organizer)
    db.session.commit()
    response = _get(app, client, "/meetings")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_idle_session_in_the_browser(app, client, login, organizer, clock):
    login(organizer)
    assert _get(app, client, "/meetings").status_code == 200
    clock.advance(minutes=app.config["ORGANIZER_IDLE_MINUTES"] + 1)
    assert _get(app, client, "/meetings").status_code == 302


# -- accounts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "username, role, error, code",
    [
        ("", "organizer", Invalid, "invalid_username"),
        ("   ", "organizer", Invalid, "invalid_username"),
        ("x" * 65, "organizer", Invalid, "invalid_username"),
        ("new", "deputy", Invalid, "invalid_role"),
        ("new", "superuser", Invalid, "invalid_role"),
        ("organizer", "organizer", Conflict, "username_taken"),
        (" organizer ", "admin", Conflict, "username_taken"),
    ],
)
def test_create_user_refused(app, organizer, username, role, error, code):
    with pytest.raises(error) as info:
        ops.create_user(None, username, "", role)
    assert info.value.code == code


def test_create_user_with_random_password(app):
    user, password = ops.create_user(None, " 李organizer ", "", "organizer")
    assert user.username == "李organizer" and user.display_name == "李organizer"
    assert len(password) >= 12 and user.check_password(password) and user.must_change_password
    assert ops.authenticate("李organizer", password) == user


@pytest.mark.parametrize("username, password", [("organizer", "wrong"), ("nobody", "correct horse battery"),
                                                 ("organizer", ""), (None, None)])
def test_authenticate_refused(app, organizer, username, password):
    with pytest.raises(Unauthorized):
        ops.authenticate(username, password)


def test_inactive_user_cannot_sign_in(app, organizer):
    organizer.active = False
    db.session.commit()
    with pytest.raises(Unauthorized):
        ops.authenticate("organizer", "correct horse battery")


@pytest.mark.parametrize("new_password, ok", [("short", False), ("123456789", False), ("1234567890", True)])
def test_password_length(app, organizer, new_password, ok):
    if ok:
        ops.change_password(organizer, "correct horse battery", new_password)
        assert organizer.check_password(new_password)
    else:
        with pytest.raises(Invalid) as info:
            ops.change_password(organizer, "correct horse battery", new_password)
        assert info.value.code == "weak_password"


def test_change_password_checks_the_current_one(app, organizer):
    with pytest.raises(Invalid) as info:
        ops.change_password(organizer, "not it", "a long new password")
    assert info.value.code == "bad_password"
    assert organizer.check_password("correct horse battery")
