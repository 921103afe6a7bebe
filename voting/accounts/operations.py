"""Accounts: creating users, signing in and out, sessions and API tokens."""

import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from voting.accounts.models import ApiToken, Role, User, UserSession
from voting.audit.operations import actor_label, record
from voting.errors import Conflict, Invalid, Unauthorized
from voting.extensions import db
from voting.timeutil import utcnow
from voting.tokens import new_token, token_hash

MIN_PASSWORD_LENGTH = 10
# How often a session's last-seen time is written (every request would be a write per click).
_TOUCH_INTERVAL = timedelta(minutes=1)


def create_user(actor, username, display_name, role, password=None, must_change_password=True):
    """Create an account; return it and its initial password (random unless given)."""
    username = (username or "").strip()
    if not username or len(username) > 64:
        raise Invalid(_l("A username of 1 to 64 characters is required."), code="invalid_username")
    if role not in set(Role):
        raise Invalid(_l("Unknown role."), code="invalid_role")
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(_l("The username %(name)s is already taken.", name=username), code="username_taken")
    password = password or secrets.token_urlsafe(12)
    user = User(username=username, display_name=display_name or username, role=role,
                must_change_password=must_change_password)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    record(actor_label(actor), "user.create", "user", user.id, username=username, role=role)
    return user, password


def authenticate(username, password):
    """Return the active user with these credentials, or raise Unauthorized."""
    user = db.session.scalar(select(User).where(User.username == (username or "").strip()))
    if user is None or not user.active or not user.check_password(password or ""):
        raise Unauthorized(_l("Wrong username or password."), code="bad_credentials")
    return user


def start_session(user, user_agent=""):
    """Open a browser session for ``user``; return the secret to keep in the signed cookie."""
    token = new_token("vts_")
    now = utcnow()
    max_hours = current_app.config["ORGANIZER_MAX_HOURS"]
    db.session.add(UserSession(user_id=user.id, token_hash=token_hash(token), created_at=now, last_seen_at=now,
                               expires_at=now + timedelta(hours=max_hours), user_agent=(user_agent or "")[:255]))
    record(actor_label(user), "session.start", "user", user.id)
    return token


def load_session(token):
    """Return the user of a live session, touching its last-seen time; None if ended."""
    if not token:
        return None
    session_row = db.session.scalar(select(UserSession).where(UserSession.token_hash == token_hash(token)))
    if session_row is None or session_row.revoked_at is not None:
        return None
    now = utcnow()
    idle = timedelta(minutes=current_app.config["ORGANIZER_IDLE_MINUTES"])
    if now >= session_row.expires_at or now - session_row.last_seen_at >= idle or not session_row.user.active:
        return None
    if now - session_row.last_seen_at >= _TOUCH_INTERVAL:
        db.session.execute(update(UserSession).where(UserSession.id == session_row.id).values(last_seen_at=now))
        db.session.commit()
    return session_row.user


def end_session(token):
    """Revoke the session behind ``token`` (sign out)."""
    if token:
        db.session.execute(
            update(UserSession).where(UserSession.token_hash == token_hash(token), UserSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )


def revoke_sessions(actor, user):
    """Sign ``user`` out everywhere."""
    count = db.session.execute(
        update(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    ).rowcount
    record(actor_label(actor), "user.revoke_sessions", "user", user.id, sessions=count)
    return count


def change_password(user, current_password, new_password):
    """Change a user's own password, checking the current one."""
    if not user.check_password(current_password or ""):
        raise Invalid(_l("The current password is wrong."), code="bad_password")
    set_password(user, user, new_password)


def set_password(actor, user, new_password, must_change=False):
    """Set a password (an administrator resetting, or the user choosing one)."""
    if len(new_password or "") < MIN_PASSWORD_LENGTH:
        raise Invalid(_l("The password must have at least %(n)s characters.", n=MIN_PASSWORD_LENGTH),
                      code="weak_password")
    user.set_password(new_password)
    user.must_change_password = must_change
    record(actor_label(actor), "user.set_password", "user", user.id)


def create_api_token(actor, user, name=""):
    """Make a bearer token for the API; return it (shown once, stored hashed)."""
    token = new_token("vto_")
    db.session.add(ApiToken(user_id=user.id, token_hash=token_hash(token), name=name[:100]))
    db.session.flush()
    record(actor_label(actor), "api_token.create", "user", user.id, name=name)
    return token


def revoke_api_tokens(actor, user):
    """Revoke every API token of ``user`` (an integration's token leaked or is no longer needed)."""
    count = db.session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow())
    ).rowcount
    record(actor_label(actor), "api_token.revoke", "user", user.id, tokens=count)
    return count


def user_for_api_token(token):
    """Return the active user owning a live API token, or None."""
    row = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None))
    )
    if row is None or not row.user.active:
        return None
    return row.user
