"""Fixtures for the server-rendered pages: signed-in browsers, bound phones, a controllable clock,
and a dump of every table to prove that a request changed nothing."""

import re
import time
from functools import partial

import pytest
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from voting.audit.models import AuditEntry
from voting.extensions import db
from voting.meetings.operations import current_code


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    """Hash test passwords with a few rounds: scrypt's deliberate slowness would dominate these tests."""
    monkeypatch.setattr(
        "voting.accounts.models.generate_password_hash", partial(generate_password_hash, method="pbkdf2:sha256:1000")
    )


@pytest.fixture
def browser(app):
    """Make a new, separate browser (cookie jar): browser(user_agent=None, language="en").

    Tests read messages in English, so that a better Chinese translation breaks none of them;
    language=None leaves the browser on the default, Chinese.
    """

    def make(user_agent=None, language="en"):
        client = app.test_client()
        if user_agent:
            client.environ_base["HTTP_USER_AGENT"] = user_agent
        if language:
            client.set_cookie("lang", language)
        return client

    return make


@pytest.fixture
def client(browser):
    """A browser as a newcomer's: no cookies, so the default language."""
    return browser(language=None)


@pytest.fixture
def signed_in(browser, login):
    """Return a browser signed in as ``user`` through the real login form."""

    def sign_in(user):
        client = browser()
        login(user, target=client)
        return client

    return sign_in


@pytest.fixture
def staff(signed_in, organizer):
    """A browser signed in as an organizer."""
    return signed_in(organizer)


@pytest.fixture
def phone(app, browser, bind_phone):
    """Return a browser whose device cookie binds it to ``deputy``: phone(deputy, user_agent=None)."""

    def make(deputy, user_agent=None):
        client = browser(user_agent)
        client.set_cookie(app.config["DEVICE_COOKIE_NAME"], bind_phone(deputy))
        return client

    return make


class Clock:
    """The time every module sees through time.time(), moved by the test."""

    def __init__(self, now, period):
        self.now = now
        self.period = period

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds

    def fresh_code(self, meeting):
        """Move to the start of a window whose screen code verifies; return that code.

        About a fifth of the codes carry a '-' in their signature and are refused as malformed
        (the bug is pinned in tests/meetings/test_checkin_codes.py); these tests are about the
        pages, so they step past such windows.
        """
        db.session.refresh(meeting)  # a request may have opened sign-in again since
        for _ in range(100):
            self.now = (int(self.now) // self.period + 1) * self.period + 1
            code = current_code(meeting, now=self.now).code
            if code.count("-") == 3:
                return code
        raise AssertionError("no verifiable code in 100 windows")


@pytest.fixture
def clock(app, monkeypatch):
    """Freeze time.time() (codes, tickets) at the present; tests move it on."""
    frozen = Clock(time.time(), app.config["CHECKIN_CODE_PERIOD"])
    monkeypatch.setattr(time, "time", frozen)
    return frozen


# Columns that change on every request without changing anything anyone asked for.
IGNORED_COLUMNS = {("user_session", "last_seen_at")}


@pytest.fixture
def db_dump(app):
    """Return a function that reads every committed row of every table on a connection of its own."""

    def dump():
        tables = {}
        with db.engine.connect() as connection:
            for table in db.metadata.sorted_tables:
                columns = [c for c in table.columns if (table.name, c.name) not in IGNORED_COLUMNS]
                rows = connection.execute(select(*columns).order_by(*table.primary_key.columns)).all()
                tables[table.name] = [tuple(repr(value) for value in row) for row in rows]
        return tables

    return dump


@pytest.fixture
def audit_count(app):
    """Return a function that counts the committed audit entries."""

    def count():
        with db.engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(AuditEntry))

    return count


@pytest.fixture
def site(app, make_user, make_deputies, make_meeting, bind_phone, browser, clock):
    """A congress in mid-session: an administrator, deputies in every state, meetings in every state,
    a bound phone, an unused activation card, and the screen's current code."""
    from types import SimpleNamespace

    from voting.accounts.operations import create_api_token
    from voting.ballots.operations import create_ballot
    from voting.deputies.operations import issue_activation_code
    from voting.meetings.operations import close_sign_in, manual_check_in, set_leave

    admin = make_user("admin", "chief")
    deputies = make_deputies(6)
    planned = make_meeting("筹备会议", open_signin=False)
    closed = make_meeting("上午会议")
    meeting = make_meeting("常委会第十次会议")
    manual_check_in(admin, meeting, deputies[1].id, "手机没电")
    set_leave(admin, meeting, deputies[2].id, True, "出差")
    close_sign_in(admin, closed)
    ballot = create_ballot(admin, meeting, "表决", "per_item", ["甲", "乙"])
    card_code = issue_activation_code(admin, deputies[5])
    api_token = create_api_token(admin, admin, "walk")
    db.session.commit()
    device_token = bind_phone(deputies[0])
    phone = browser()
    phone.set_cookie(app.config["DEVICE_COOKIE_NAME"], device_token)
    return SimpleNamespace(
        admin=admin,
        deputies=deputies,
        meeting=meeting,
        ballot=ballot,
        planned=planned,
        closed=closed,
        card_code=card_code,
        scan_code=clock.fresh_code(meeting),
        phone=phone,
        api_headers={"Authorization": f"Bearer {api_token}"},
        device_headers={"Authorization": f"Bearer {device_token}"},
    )


@pytest.fixture
def url_for_rule(app):
    """Build a URL for a url_map rule with the ids of real objects of ``site`` (1 for objects it lacks)."""

    def build(rule, site, **overrides):
        values = {
            "meeting_id": site.meeting.id,
            "deputy_id": site.deputies[1].id,
            "user_id": site.admin.id,
            "filename": "css/app.css",
            "action": "close",
            "ballot_id": site.ballot.id,
        }
        if "code" in rule.arguments:
            values["code"] = site.scan_code if rule.endpoint.startswith("meetings.") else site.card_code
        values.update(overrides)
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:\w+(?:\([^)]*\))?:)?{name}>", str(values.get(name, 1)), path)
        return path

    return build
