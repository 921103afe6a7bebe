"""checkIn: a deputy's bound phone signs in with the big screen's code, and every way that can go wrong."""

import pytest
from sqlalchemy import select

from voting.deputies.models import DeputyDevice
from voting.extensions import db
from voting.meetings.models import MeetingMember


def _check_in(client, headers, meeting_id, code):
    return client.post(f"/api/v1/meetings/{meeting_id}/checkin", json={"code": code}, headers=headers)


def _signed_in(meeting):
    db.session.expire_all()
    return set(db.session.scalars(select(MeetingMember.deputy_id).where(
        MeetingMember.meeting_id == meeting.id, MeetingMember.checked_in_at.is_not(None))))


def test_check_in_then_again(client, make_deputies, make_meeting, phone, screen_code):
    deputy = make_deputies(3)[0]
    meeting = make_meeting()
    headers = phone(deputy)
    first = _check_in(client, headers, meeting.id, screen_code(meeting))
    assert first.status_code == 200, first.json
    assert first.json["status"] == "checked_in"
    assert (first.json["meeting_id"], first.json["deputy_id"]) == (meeting.id, deputy.id)
    again = _check_in(client, headers, meeting.id, screen_code(meeting))
    assert again.status_code == 200
    assert again.json["status"] == "already_checked_in"
    assert again.json["checked_in_at"] == first.json["checked_in_at"]
    assert _signed_in(meeting) == {deputy.id}
    member = db.session.get(MeetingMember, (meeting.id, deputy.id))
    assert member.checkin_method == "scan"


def test_code_stays_valid_for_its_windows(app, client, make_deputies, make_meeting, phone, screen_code, clock):
    """A code shown at the end of its window still works for the next period, then not."""
    deputies = make_deputies(3)
    meeting = make_meeting()
    code = screen_code(meeting)
    period, windows = app.config["CHECKIN_CODE_PERIOD"], app.config["CHECKIN_CODE_WINDOWS"]
    clock.advance(period * (windows - 1))
    assert _check_in(client, phone(deputies[0]), meeting.id, code).json["status"] == "checked_in"
    clock.advance(period)
    response = _check_in(client, phone(deputies[1]), meeting.id, code)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "code_expired"
    assert _signed_in(meeting) == {deputies[0].id}


def test_every_screen_code_is_accepted(app, client, org, make_deputies, make_meeting, phone, clock):
    """Each code getCheckinCode hands out over 40 windows signs a deputy in."""
    deputies = make_deputies(40)
    meeting = make_meeting()
    refused = []
    for deputy in deputies:
        code = client.get(f"/api/v1/meetings/{meeting.id}/checkin-code", headers=org).json["code"]
        response = _check_in(client, phone(deputy), meeting.id, code)
        if response.status_code != 200:
            refused.append((code, response.json["error"]["code"]))
        clock.advance(app.config["CHECKIN_CODE_PERIOD"])
    assert refused == []


def _tamper_signature(code):
    head, _, signature = code.rpartition("-")
    return f"{head}-{('A' if signature[0] != 'A' else 'B') + signature[1:]}"


def _tamper_window(code):
    meeting_id, epoch, window, signature = code.split("-")
    return f"{meeting_id}-{epoch}-{int(window) + 1}-{signature}"


def _tamper_epoch(code):
    meeting_id, epoch, window, signature = code.split("-")
    return f"{meeting_id}-{int(epoch) + 1}-{window}-{signature}"


# Each case: how to get the code (from the clock-frozen screen), status, error code.
BAD_CODES = {
    "tampered signature": (_tamper_signature, 400, "code_tampered"),
    "window moved forward": (_tamper_window, 400, "code_tampered"),
    "epoch changed": (_tamper_epoch, 400, "code_tampered"),
    "not a code": (lambda code: "hello", 400, "code_malformed"),
    "url pasted": (lambda code: "http://x/c/" + code, 400, "code_malformed"),
    "empty": (lambda code: "", 400, "validation_failed"),
    "too long": (lambda code: code + "9" * 80, 400, "validation_failed"),
}


@pytest.mark.parametrize("case", list(BAD_CODES))
def test_bad_code_is_refused(client, make_deputies, make_meeting, phone, screen_code, case):
    forge, status, error = BAD_CODES[case]
    deputy = make_deputies(2)[0]
    meeting = make_meeting()
    response = _check_in(client, phone(deputy), meeting.id, forge(screen_code(meeting)))
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == error
    assert _signed_in(meeting) == set()


@pytest.mark.parametrize("age_windows", [2, 3, 1000])
def test_expired_code(app, client, make_deputies, make_meeting, phone, screen_code, clock, age_windows):
    deputy = make_deputies(2)[0]
    meeting = make_meeting()
    code = screen_code(meeting)
    clock.advance(app.config["CHECKIN_CODE_PERIOD"] * age_windows)
    response = _check_in(client, phone(deputy), meeting.id, code)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "code_expired"
    assert _signed_in(meeting) == set()


def test_code_from_the_future_is_refused(app, client, make_deputies, make_meeting, phone, screen_code, clock):
    deputy = make_deputies(2)[0]
    meeting = make_meeting()
    clock.advance(app.config["CHECKIN_CODE_PERIOD"] * 2)
    code = screen_code(meeting)
    clock.advance(-app.config["CHECKIN_CODE_PERIOD"] * 2)
    response = _check_in(client, phone(deputy), meeting.id, code)
    assert response.json["error"]["code"] == "code_expired"


def test_replayed_code_after_the_window(app, client, make_deputies, make_meeting, phone, screen_code, clock):
    """A photo of the screen forwarded to an absent deputy is useless half a minute later."""
    present, absent = make_deputies(2)
    meeting = make_meeting()
    code = screen_code(meeting)
    assert _check_in(client, phone(present), meeting.id, code).json["status"] == "checked_in"
    clock.advance(app.config["CHECKIN_CODE_PERIOD"] * app.config["CHECKIN_CODE_WINDOWS"])
    response = _check_in(client, phone(absent), meeting.id, code)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "code_expired"
    assert _signed_in(meeting) == {present.id}


def test_code_of_another_meeting(client, make_deputies, make_meeting, phone, screen_code):
    deputy = make_deputies(2)[0]
    meeting, other = make_meeting("上午会议"), make_meeting("下午会议")
    response = _check_in(client, phone(deputy), meeting.id, screen_code(other))
    assert response.status_code == 400
    assert response.json["error"]["code"] == "code_other_meeting"
    assert _signed_in(meeting) == _signed_in(other) == set()


def test_code_of_an_earlier_opening(client, org, make_deputies, make_meeting, phone, screen_code):
    deputy = make_deputies(2)[0]
    meeting = make_meeting()
    code = screen_code(meeting)
    assert client.post(f"/api/v1/meetings/{meeting.id}/signin/close", headers=org).status_code == 200
    assert client.post(f"/api/v1/meetings/{meeting.id}/signin/open", headers=org).status_code == 200
    response = _check_in(client, phone(deputy), meeting.id, code)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "code_old_opening"
    assert _check_in(client, phone(deputy), meeting.id, screen_code(meeting)).json["status"] == "checked_in"


def test_sign_in_closed(client, org, make_deputies, make_meeting, phone, screen_code):
    deputy = make_deputies(2)[0]
    meeting = make_meeting()
    code = screen_code(meeting)
    client.post(f"/api/v1/meetings/{meeting.id}/signin/close", headers=org)
    response = _check_in(client, phone(deputy), meeting.id, code)
    assert response.status_code == 409
    assert response.json["error"]["code"] == "signin_not_open"
    assert _signed_in(meeting) == set()


def test_already_signed_in_answers_even_after_closing(client, org, make_deputies, make_meeting, phone, screen_code):
    deputy = make_deputies(2)[0]
    meeting = make_meeting()
    headers = phone(deputy)
    code = screen_code(meeting)
    _check_in(client, headers, meeting.id, code)
    client.post(f"/api/v1/meetings/{meeting.id}/signin/close", headers=org)
    response = _check_in(client, headers, meeting.id, code)
    assert (response.status_code, response.json.get("status")) == (200, "already_checked_in")


def test_deputy_not_expected_at_this_meeting(client, make_deputies, make_meeting, phone, screen_code):
    deputies = make_deputies(4, delegations=2)
    meeting = make_meeting(delegations=[deputies[0].delegation])
    outsider = next(d for d in deputies if d.delegation != deputies[0].delegation)
    response = _check_in(client, phone(outsider), meeting.id, screen_code(meeting))
    assert response.status_code == 403
    assert response.json["error"]["code"] == "not_a_member"
    assert _signed_in(meeting) == set()


@pytest.mark.parametrize("how", ["reissued card", "revoked phones", "deputy deactivated", "expired binding"])
def test_device_no_longer_bound(client, org, make_deputies, make_meeting, phone, screen_code, how):
    from datetime import timedelta

    from voting.deputies.operations import revoke_devices, save_deputy
    from voting.timeutil import utcnow

    deputy = make_deputies(2)[0]
    meeting = make_meeting()
    headers = phone(deputy)
    if how == "reissued card":
        assert client.post(f"/api/v1/deputies/{deputy.id}/activation-code", headers=org).status_code == 200
    elif how == "revoked phones":
        revoke_devices(None, deputy)
    elif how == "deputy deactivated":
        save_deputy(None, deputy, deputy.number, deputy.name, deputy.delegation, active=False)
    else:
        for device in db.session.scalars(select(DeputyDevice)):
            device.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = _check_in(client, headers, meeting.id, screen_code(meeting))
    assert response.status_code == 401
    assert response.json["error"]["code"] == "token_invalid"
    assert _signed_in(meeting) == set()


def test_check_in_to_unknown_meeting(client, make_deputies, make_meeting, phone, screen_code):
    deputy = make_deputies(2)[0]
    meeting = make_meeting()
    response = _check_in(client, phone(deputy), 424242, screen_code(meeting))
    assert response.status_code == 400
    assert response.json["error"]["code"] == "code_other_meeting"


@pytest.mark.parametrize(
    "data, content_type",
    [
        ("{not json", "application/json"),
        ('{"code": "1-1-1-x"', "application/json"),
        ("code=1-1-1-x", "application/x-www-form-urlencoded"),
        ("", "application/json"),
    ],
)
def test_malformed_body(client, make_deputies, make_meeting, phone, data, content_type):
    deputy = make_deputies(2)[0]
    meeting = make_meeting()
    response = client.post(f"/api/v1/meetings/{meeting.id}/checkin", data=data, content_type=content_type,
                           headers=phone(deputy))
    assert response.status_code == 400
    assert response.json["error"]["code"] == "json_required"


@pytest.mark.parametrize("body", [[], ["1-1-1-x"], "1-1-1-x", {"code": 5}, {"code": "x", "deputy_id": 3}])
def test_body_of_the_wrong_shape(client, make_deputies, make_meeting, phone, body):
    deputy = make_deputies(2)[0]
    meeting = make_meeting()
    response = _check_in(client, phone(deputy), meeting.id, None) if body is None else client.post(
        f"/api/v1/meetings/{meeting.id}/checkin", json=body, headers=phone(deputy))
    assert response.status_code == 400
    assert response.json["error"]["code"] == "validation_failed"


@pytest.fixture
def rate_limited(app_config):
    app_config.update(RATELIMIT_ENABLED=True, RATELIMIT_CHECKIN="2 per minute")


def test_check_in_rate_limit_is_per_phone(rate_limited, app, client, make_deputies, make_meeting, phone,
                                         screen_code):
    """Deputies share the hall's network address, so one phone's retries must not lock out the others."""
    first, second = make_deputies(2)
    meeting = make_meeting()
    code = screen_code(meeting)
    first_phone, second_phone = phone(first), phone(second)
    meeting_id = meeting.id

    def send(headers):
        # Each request in an app context of its own, so that nothing in g carries over between them.
        with app.app_context():
            return _check_in(client, headers, meeting_id, code)

    assert [send(first_phone).status_code for _ in range(3)] == [200, 200, 429]
    assert send(first_phone).json["error"]["code"] == "rate_limited"
    response = send(second_phone)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "checked_in"


def test_check_in_limit_answers_say_when_to_retry(rate_limited, app, client, make_deputies, make_meeting, phone,
                                                  screen_code):
    deputy = make_deputies(2)[0]
    meeting = make_meeting()
    headers, code, meeting_id = phone(deputy), screen_code(meeting), meeting.id
    answers = [_check_in(client, headers, meeting_id, code) for _ in range(3)]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
    assert answers[2].status_code == 429
    assert 0 < int(answers[2].headers["Retry-After"]) <= 60


# The phone's token is checked inside the sign-in's own UPDATE (checks_device), not looked up first;
# an unknown or revoked phone must still hear 401 before anything about its request.
UNKNOWN_PHONE_REQUESTS = {
    "good code": lambda code: {"json": {"code": code}},
    "tampered code": lambda code: {"json": {"code": _tamper_signature(code)}},
    "not json": lambda code: {"data": "{", "content_type": "application/json"},
    "wrong shape": lambda code: {"json": {"code": 5}},
}


@pytest.mark.parametrize("case", list(UNKNOWN_PHONE_REQUESTS))
@pytest.mark.parametrize("token", ["vtd_forged", "revoked"])
def test_unknown_or_revoked_phone_hears_401_first(client, make_deputies, make_meeting, phone, screen_code, case,
                                                 token):
    from voting.deputies.operations import revoke_devices

    deputy = make_deputies(2)[0]
    meeting = make_meeting()
    headers = phone(deputy)
    if token == "revoked":
        revoke_devices(None, deputy)
        db.session.commit()
    else:
        headers = {"Authorization": "Bearer vtd_forged"}
    response = client.post(f"/api/v1/meetings/{meeting.id}/checkin", headers=headers,
                           **UNKNOWN_PHONE_REQUESTS[case](screen_code(meeting)))
    assert response.status_code == 401, response.json
    assert response.json["error"]["code"] == "token_invalid"
    assert _signed_in(meeting) == set()


def test_phone_of_an_inactive_deputy_is_refused_even_if_still_bound(client, make_deputies, make_meeting, phone,
                                                                    screen_code):
    """Deactivating a deputy revokes their phones; the sign-in itself checks the deputy is active too."""
    from voting.deputies.models import Deputy

    deputy = make_deputies(2)[0]
    meeting = make_meeting()
    headers = phone(deputy)
    db.session.get(Deputy, deputy.id).active = False  # no revocation: only the deputy's own flag
    db.session.commit()
    response = _check_in(client, headers, meeting.id, screen_code(meeting))
    assert response.status_code == 401
    assert response.json["error"]["code"] == "token_invalid"
    assert _signed_in(meeting) == set()


def test_check_in_answers_without_a_session_cookie(client, make_deputies, make_meeting, phone, screen_code):
    deputy = make_deputies(2)[0]
    meeting = make_meeting()
    response = _check_in(client, phone(deputy), meeting.id, screen_code(meeting))
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")


def test_a_sign_in_is_its_update_alone(app, client, make_deputies, make_meeting, phone, screen_code, monkeypatch):
    """The hot path neither commits the request's session (it has nothing to commit) nor, on SQLite,
    resets its connection with a PRAGMA, which would make SQLite prepare the UPDATE again every time."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    deputies = make_deputies(3)
    meeting = make_meeting()
    headers = [phone(deputy) for deputy in deputies]
    codes = [screen_code(meeting) for _ in deputies]
    commits = []
    real_commit = Session.commit
    monkeypatch.setattr(Session, "commit", lambda self: (commits.append(self), real_commit(self))[1])
    statements = []
    sqlite = db.engine.dialect.name == "sqlite"
    if sqlite:
        db.engine.dispose()  # new connections, so that each one reports what it runs

        def trace(dbapi_connection, _record):
            dbapi_connection.set_trace_callback(statements.append)

        event.listen(db.engine, "connect", trace)
    try:
        for header, code in zip(headers, codes, strict=True):
            response = _check_in(client, header, meeting.id, code)
            assert response.json["status"] == "checked_in"
    finally:
        if sqlite:
            event.remove(db.engine, "connect", trace)
            db.engine.dispose()
    assert commits == []
    if sqlite:
        ran = [s.split()[0].upper() for s in statements if not s.startswith("PRAGMA") or "read_uncommitted" in s]
        assert ran == ["UPDATE"] * len(deputies), statements
    assert _signed_in(meeting) == {deputy.id for deputy in deputies}
