"""The OpenAPI document: valid, complete, and describing what the server really answers."""

import re

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

ISSUE_OPERATIONS = [
    "importDeputies", "listDeputies", "issueActivationCode", "activateDeputy", "createMeeting", "getMeeting",
    "setLeave", "openSignIn", "closeSignIn", "getCheckinCode", "checkIn", "manualCheckIn", "undoCheckIn",
    "listAttendance", "getAuditLog",
]
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def document(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json


def operations(document):
    return {item["operationId"]: (path, method, item)
            for path, methods in document["paths"].items() for method, item in methods.items() if method in METHODS}


def schema_errors(document, schema, instance):
    """Validate ``instance`` against a schema of the document (its $refs resolved in the document)."""
    root = {**schema, "components": document["components"]}
    return [error.message for error in OAS31Validator(root).iter_errors(instance)]


def test_document_is_valid_openapi(document):
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": "http://localhost"}]


def test_operation_ids_are_unique(document):
    ids = [item["operationId"] for methods in document["paths"].values() for item in methods.values()]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("operation_id", ISSUE_OPERATIONS)
def test_issue_operation_is_documented(document, operation_id):
    ops = operations(document)
    assert operation_id in ops
    path, method, item = ops[operation_id]
    assert item["summary"] and item["description"]
    if method == "post" and operation_id not in ("openSignIn", "closeSignIn", "issueActivationCode"):
        body = item["requestBody"]
        assert body["required"] is True
        for content in body["content"].values():
            assert content["schema"] and content["example"]
    success = [code for code in item["responses"] if code.startswith("2")]
    assert len(success) == 1
    content = item["responses"][success[0]]["content"]["application/json"]
    assert content["schema"]["$ref"].startswith("#/components/schemas/")
    assert content["example"]


def test_every_response_and_body_has_schema_and_example(document):
    missing = []
    for operation_id, (_, _, item) in operations(document).items():
        for status, response in item["responses"].items():
            for media, content in response.get("content", {}).items():
                if "schema" not in content or "example" not in content:
                    missing.append((operation_id, status, media))
        for media, content in item.get("requestBody", {}).get("content", {}).items():
            if "schema" not in content or "example" not in content:
                missing.append((operation_id, "request", media))
    assert missing == []


def test_examples_match_their_schemas(document):
    wrong = {}
    for operation_id, (_, _, item) in operations(document).items():
        contents = [(f"response {s}", c) for s, r in item["responses"].items() for c in r.get("content", {}).values()]
        contents += [("request", c) for c in item.get("requestBody", {}).get("content", {}).values()]
        for where, content in contents:
            errors = schema_errors(document, content["schema"], content["example"])
            if errors:
                wrong[(operation_id, where)] = errors
    assert wrong == {}


def test_every_api_route_is_documented(app, document):
    documented = {(path, method) for path, methods in document["paths"].items() for method in methods}
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        routes |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes - documented == set()
    assert documented - routes == set()


def test_path_parameters_are_declared(document):
    for path, methods in document["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for item in methods.values():
            declared = {p["name"] for p in item["parameters"] if p["in"] == "path"}
            assert declared == names, (path, item["operationId"])


def test_security_follows_who_may_call(document):
    ops = operations(document)
    assert ops["checkIn"][2]["security"] == [{"deviceToken": []}]
    assert ops["activateDeputy"][2]["security"] == []
    for operation_id in set(ISSUE_OPERATIONS) - {"checkIn", "activateDeputy"}:
        assert ops[operation_id][2]["security"] == [{"organizerToken": []}], operation_id
        assert {"401", "403"} <= set(ops[operation_id][2]["responses"]), operation_id
    assert "413" in ops["importDeputies"][2]["responses"]
    assert "409" in ops["openSignIn"][2]["responses"]


def test_error_schema_is_shared(document):
    for operation_id, (_, _, item) in operations(document).items():
        for status, response in item["responses"].items():
            if status.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (operation_id, status)


def _response_schema(document, operation_id, status):
    _, _, item = operations(document)[operation_id]
    return item["responses"][str(status)]["content"]["application/json"]["schema"]


def test_real_responses_match_the_document(client, org, document, make_deputies, make_meeting, phone, screen_code):
    """Walk through the operations and check each answer against the schema its status documents."""
    deputies = make_deputies(4)
    meeting = make_meeting()
    calls = [
        ("listDeputies", client.get("/api/v1/deputies", headers=org)),
        ("issueActivationCode", client.post(f"/api/v1/deputies/{deputies[0].id}/activation-code", headers=org)),
        ("createMeeting", client.post("/api/v1/meetings", headers=org, json={"title": "会议"})),
        ("createMeeting", client.post("/api/v1/meetings", headers=org, json={})),
        ("getMeeting", client.get(f"/api/v1/meetings/{meeting.id}", headers=org)),
        ("getMeeting", client.get("/api/v1/meetings/999", headers=org)),
        ("setLeave", client.post(f"/api/v1/meetings/{meeting.id}/leave", headers=org,
                                 json={"deputy_id": deputies[1].id, "on_leave": True, "reason": "病假"})),
        ("getCheckinCode", client.get(f"/api/v1/meetings/{meeting.id}/checkin-code", headers=org)),
        ("checkIn", client.post(f"/api/v1/meetings/{meeting.id}/checkin", headers=phone(deputies[2]),
                                json={"code": screen_code(meeting)})),
        ("checkIn", client.post(f"/api/v1/meetings/{meeting.id}/checkin", headers=org, json={"code": "x"})),
        ("manualCheckIn", client.post(f"/api/v1/meetings/{meeting.id}/manual-checkin", headers=org,
                                      json={"deputy_id": deputies[3].id, "reason": "补签"})),
        ("undoCheckIn", client.post(f"/api/v1/meetings/{meeting.id}/undo-checkin", headers=org,
                                    json={"deputy_id": deputies[3].id, "reason": "撤销"})),
        ("listAttendance", client.get(f"/api/v1/meetings/{meeting.id}/attendance", headers=org)),
        ("closeSignIn", client.post(f"/api/v1/meetings/{meeting.id}/signin/close", headers=org)),
        ("closeSignIn", client.post(f"/api/v1/meetings/{meeting.id}/signin/close", headers=org)),
        ("openSignIn", client.post(f"/api/v1/meetings/{meeting.id}/signin/open", headers=org)),
        ("getAuditLog", client.get("/api/v1/audit", headers=org)),
        ("getAuditLog", client.get("/api/v1/audit")),
    ]
    seen_statuses = set()
    for operation_id, response in calls:
        _, _, item = operations(document)[operation_id]
        status = str(response.status_code)
        assert status in item["responses"], (operation_id, status, response.json)
        errors = schema_errors(document, _response_schema(document, operation_id, status), response.json)
        assert errors == [], (operation_id, status, errors)
        seen_statuses.add(status)
    assert {"200", "201", "400", "401", "403", "404", "409"} <= seen_statuses
