"""Who may call which operation, what errors look like, and that GET changes nothing.

The operations are taken from the registry, so a new operation is covered without editing this file.
"""

import io

import pytest
from sqlalchemy import func, select

import voting.api.views  # noqa: F401  (registers the operations listed below)
from voting.accounts.models import Role, User
from voting.api.registry import OPERATIONS
from voting.audit.models import AuditEntry, AuditHead
from voting.deputies.models import Deputy, DeputyDevice
from voting.extensions import db
from voting.meetings.models import Meeting, MeetingMember

ORGANIZER_OPS = [op for op in OPERATIONS if op.auth == "organizer"]
DEPUTY_OPS = [op for op in OPERATIONS if op.auth == "deputy"]
_ids = [op.operation_id for op in ORGANIZER_OPS]


@pytest.fixture
def world(make_deputies, make_meeting):
    """A roster and an open meeting, and the ids to put into paths and bodies."""
    deputies = make_deputies(3)
    meeting = make_meeting()
    return {"meeting_id": meeting.id, "deputy_id": deputies[0].id}


def call(client, op, headers, world, body=None):
    """Send a well-formed request for ``op`` so that only the caller decides the outcome."""
    path = "/api/v1" + op.rule
    for _, name in op.path_params:
        path = path.replace(f"<int:{name}>", str(world[name]))
    kwargs = {"headers": headers}
    if op.request_model is not None:
        example = dict(op.request_model.model_config["json_schema_extra"]["examples"][0])
        if "deputy_id" in example:
            example["deputy_id"] = world["deputy_id"]
        kwargs["json"] = example if body is None else body
    if op.upload_field:
        kwargs["data"] = {op.upload_field: (io.BytesIO("姓名,代表证号,代表团\n新人,N001,新代表团\n".encode()), "r.csv")}
        kwargs["content_type"] = "multipart/form-data"
    return client.open(path, method=op.method, **kwargs)


def snapshot():
    """Everything an operation could change, in a comparable form."""
    db.session.expire_all()
    tables = (AuditEntry, Deputy, DeputyDevice, Meeting)
    counts = tuple(db.session.scalar(select(func.count()).select_from(t)) for t in tables)
    head = db.session.get(AuditHead, 1)
    meetings = tuple(db.session.execute(select(Meeting.state, Meeting.signin_epoch)).all())
    members = tuple(db.session.execute(select(MeetingMember.checked_in_at, MeetingMember.on_leave)
                                       .order_by(MeetingMember.deputy_id)).all())
    codes = tuple(db.session.scalars(select(Deputy.activation_code_hash).order_by(Deputy.id)))
    return counts, head.seq, meetings, members, codes


def test_registry_has_the_issue_operations():
    names = {op.operation_id for op in OPERATIONS}
    assert {"importDeputies", "listDeputies", "issueActivationCode", "activateDeputy", "createMeeting", "getMeeting",
            "setLeave", "openSignIn", "closeSignIn", "getCheckinCode", "checkIn", "manualCheckIn", "undoCheckIn",
            "listAttendance", "getAuditLog"} <= names


def _prepare(op, world):
    """Put the meeting in a state where ``op`` can succeed."""
    from voting.meetings.operations import close_sign_in, manual_check_in

    meeting = db.session.get(Meeting, world["meeting_id"])
    if op.operation_id == "openSignIn":
        close_sign_in(None, meeting)
    elif op.operation_id == "undoCheckIn":
        manual_check_in(db.session.scalars(select(User)).first(), meeting, world["deputy_id"], "准备")
    db.session.commit()


@pytest.mark.parametrize("op", ORGANIZER_OPS, ids=_ids)
def test_organizer_operation_succeeds_with_organizer_token(client, org, world, op):
    _prepare(op, world)
    before = db.session.get(AuditHead, 1).seq
    response = call(client, op, org, world)
    assert response.status_code == op.status, response.json
    db.session.expire_all()
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.seq > before)).all()
    if op.method == "GET":
        assert entries == []
    else:
        # Every organizer action that changes something is in the audit log, under the organizer's name.
        assert [e.actor for e in entries] == ["user:organizer"], [e.action for e in entries]


@pytest.mark.parametrize(
    "caller, status, code",
    [
        ("none", 401, "token_required"),
        ("garbage", 401, "token_invalid"),
        ("basic auth", 401, "token_required"),
        ("unknown organizer token", 401, "token_invalid"),
        ("revoked organizer token", 401, "token_invalid"),
        ("deactivated organizer", 401, "token_invalid"),
        ("contact-point staff", 403, "role_forbidden"),
        ("department user", 403, "role_forbidden"),
        ("deputy phone", 403, "organizer_only"),
    ],
)
@pytest.mark.parametrize("op", ORGANIZER_OPS, ids=_ids)
def test_organizer_operation_refuses(client, make_user, api_token, phone, world, op, caller, status, code):
    from voting.accounts.operations import revoke_api_tokens

    headers = {
        "none": {},
        "garbage": {"Authorization": "Bearer nonsense"},
        "basic auth": {"Authorization": "Basic b3JnYW5pemVyOnB3"},
        "unknown organizer token": {"Authorization": "Bearer vto_unknownunknownunknownunknown"},
        "deputy phone": None,
    }.get(caller)
    if caller == "deputy phone":
        headers = phone(db.session.get(Deputy, world["deputy_id"]))
    elif headers is None:
        role = {"contact-point staff": Role.CONTACT_STAFF, "department user": Role.DEPARTMENT}.get(caller,
                                                                                                  Role.ORGANIZER)
        user = make_user(role)
        headers = api_token(user)
        if caller == "revoked organizer token":
            revoke_api_tokens(None, user)
        elif caller == "deactivated organizer":
            user.active = False
        db.session.commit()
    before = snapshot()
    response = call(client, op, headers, world)
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert snapshot() == before


@pytest.mark.parametrize(
    "caller, status, code",
    [
        ("none", 401, "token_required"),
        ("garbage", 401, "token_invalid"),
        ("organizer", 403, "deputy_only"),
    ],
)
@pytest.mark.parametrize("op", DEPUTY_OPS, ids=[op.operation_id for op in DEPUTY_OPS])
def test_deputy_operation_refuses(client, org, world, screen_code, op, caller, status, code):
    headers = {"none": {}, "garbage": {"Authorization": "Bearer vtd_forged"}, "organizer": org}[caller]
    meeting = db.session.get(Meeting, world["meeting_id"])
    before = snapshot()
    response = call(client, op, headers, world, body={"code": screen_code(meeting)})
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert snapshot() == before


def test_revoked_token_stops_working_at_once(client, organizer, api_token, runner):
    headers = api_token(organizer)
    assert client.get("/api/v1/deputies", headers=headers).status_code == 200
    result = runner.invoke(args=["revoke-tokens", organizer.username])
    assert result.exit_code == 0, result.output
    assert "1" in result.output
    response = client.get("/api/v1/deputies", headers=headers)
    assert response.status_code == 401
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "api_token.revoke"))
    assert entry is not None and '"tokens": 1' in entry.details


@pytest.mark.parametrize("op", [op for op in OPERATIONS if op.request_model is not None],
                         ids=lambda op: op.operation_id)
@pytest.mark.parametrize("data", ["{", "null", "", "\xff"])
def test_malformed_json_body(client, org, phone, world, op, data):
    headers = phone(db.session.get(Deputy, world["deputy_id"])) if op.auth == "deputy" else org
    path = "/api/v1" + op.rule
    for _, name in op.path_params:
        path = path.replace(f"<int:{name}>", str(world[name]))
    before = snapshot()
    response = client.open(path, method=op.method, headers=headers, data=data, content_type="application/json")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "json_required"
    assert snapshot() == before


@pytest.mark.parametrize("op", [op for op in OPERATIONS if op.method == "GET"], ids=lambda op: op.operation_id)
def test_get_changes_nothing(client, org, world, op):
    before = snapshot()
    for _ in range(2):
        assert call(client, op, org, world).status_code == 200
    assert snapshot() == before


def test_no_operation_changes_state_on_get():
    for op in OPERATIONS:
        if op.method == "GET":
            assert op.request_model is None and op.upload_field is None, op.operation_id


@pytest.mark.parametrize(
    "method, path, status, code",
    [
        ("GET", "/api/v1/no-such-thing", 404, "not_found"),
        ("DELETE", "/api/v1/meetings/1", 405, "method_not_allowed"),
        ("GET", "/api/v1/meetings/1/signin/open", 405, "method_not_allowed"),
        ("GET", "/api/v1/meetings/999", 404, "meeting_not_found"),
        ("POST", "/api/v1/deputies/999/activation-code", 404, "deputy_not_found"),
        ("GET", "/api/v1/meetings/abc", 404, "not_found"),
    ],
)
def test_errors_are_json(client, org, method, path, status, code):
    response = client.open(path, method=method, headers=org)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert set(response.json) == {"error"}
    assert response.json["error"]["code"] == code
    assert isinstance(response.json["error"]["message"], str) and response.json["error"]["message"]


def _too_large(client, org):
    boundary = "b7MA4YWxkTrZu0gW"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.csv\"\r\n\r\n".encode()
            + b"x" * (11 * 1024 * 1024) + f"\r\n--{boundary}--\r\n".encode())
    return client.post("/api/v1/deputies/import", headers=org, data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


# (request, expected error code) pairs whose messages must follow the caller's language.
LOCALISED = {
    "too large": (lambda c, org, w: _too_large(c, org), "too_large"),
    "token required": (lambda c, org, w: c.get("/api/v1/deputies"), "token_required"),
    "validation": (lambda c, org, w: c.post("/api/v1/meetings", headers=org, json={}), "validation_failed"),
    "not found": (lambda c, org, w: c.get("/api/v1/meetings/999", headers=org), "meeting_not_found"),
    "invalid state": (lambda c, org, w: c.post(f"/api/v1/meetings/{w['meeting_id']}/signin/open", headers=org),
                      "invalid_state"),
    "json required": (lambda c, org, w: c.post("/api/v1/meetings", headers=org, data="x"), "json_required"),
    "http 404": (lambda c, org, w: c.get("/api/v1/nothing-here", headers=org), "not_found"),
    "roster row": (lambda c, org, w: c.post("/api/v1/deputies/import", headers=org, content_type="multipart/form-data",
                                            data={"file": (io.BytesIO("姓名,代表证号,代表团\n,A1,一团\n".encode()),
                                                           "r.csv")}), "roster_invalid_rows"),
}


@pytest.mark.parametrize("case", list(LOCALISED))
def test_error_messages_are_chinese_by_default(client, org, world, is_chinese, case):
    send, code = LOCALISED[case]
    response = send(client, org, world)
    assert response.json["error"]["code"] == code
    assert is_chinese(response.json["error"]["message"]), response.json
    for detail in response.json["error"].get("details") or []:
        if code == "roster_invalid_rows":
            assert is_chinese(detail["message"]), detail


@pytest.mark.parametrize("case", list(LOCALISED))
@pytest.mark.parametrize("accept", ["en", "en-US,en;q=0.9", "en-GB;q=0.8, fr;q=0.5"])
def test_error_messages_in_english_on_request(client, org, world, is_chinese, case, accept):
    send, code = LOCALISED[case]
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = accept
    response = send(client, org, world)
    assert response.json["error"]["code"] == code
    assert not is_chinese(response.json["error"]["message"]), response.json


@pytest.mark.parametrize("accept", ["zh-CN,zh;q=0.9,en;q=0.8", "fr", "*"])
def test_other_languages_get_chinese(client, world, is_chinese, accept):
    response = client.get("/api/v1/deputies", headers={"Accept-Language": accept})
    assert is_chinese(response.json["error"]["message"]), response.json


@pytest.fixture
def csrf_enabled(app_config):
    app_config["WTF_CSRF_ENABLED"] = True


def test_browser_session_does_not_authenticate_the_api(csrf_enabled, app, client, organizer, world):
    """The API takes bearer tokens only, so a forged cross-site request riding on cookies gets nowhere."""
    from voting.accounts.operations import start_session
    from voting.auth import SESSION_KEY

    token = start_session(organizer)
    db.session.commit()
    with client.session_transaction() as browser_session:
        browser_session[SESSION_KEY] = token
    with app.app_context():
        assert client.get("/meetings").status_code == 200  # the cookie does sign the browser in
    before = snapshot()
    with app.app_context():
        response = client.post(f"/api/v1/meetings/{world['meeting_id']}/signin/close")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "token_required"
    assert snapshot() == before


def test_api_needs_no_csrf_token(csrf_enabled, client, org, world):
    response = client.post(f"/api/v1/meetings/{world['meeting_id']}/signin/close", headers=org)
    assert response.status_code == 200, response.json


def test_method_not_allowed_names_the_allowed_methods(client, org, world):
    response = client.delete(f"/api/v1/meetings/{world['meeting_id']}", headers=org)
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET"}
    assert response.json["error"]["code"] == "method_not_allowed"


@pytest.fixture
def rate_limited(app_config):
    app_config.update(RATELIMIT_ENABLED=True, RATELIMIT_ACTIVATION="1 per minute")


def test_rate_limited_answer_says_when_to_retry(rate_limited, client):
    assert client.post("/api/v1/activate", json={"activation_code": "x"}).status_code == 404
    response = client.post("/api/v1/activate", json={"activation_code": "x"})
    assert response.status_code == 429
    assert response.json["error"]["code"] == "rate_limited"
    assert 0 < int(response.headers["Retry-After"]) <= 60
