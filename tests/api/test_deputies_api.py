"""The roster through the API: importDeputies, listDeputies, issueActivationCode, activateDeputy."""

import io

import pytest
from sqlalchemy import select

from voting.audit.models import AuditEntry
from voting.deputies.models import Deputy, DeputyDevice
from voting.extensions import db
from voting.tokens import token_hash

GOOD_ROWS = [
    ["张三", "A001", "城关街道代表团", "138 0013 8000"],
    ["李四", "A002", "城关街道代表团", ""],
    ["王五", "B001", "东城街道代表团", "+86 139-0013-9000"],
]


def _deputies():
    db.session.expire_all()
    return {d.number: d for d in db.session.scalars(select(Deputy))}


# -- importDeputies ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_import_good_roster(upload, fmt):
    response = upload(GOOD_ROWS, fmt)
    assert response.status_code == 200, response.json
    assert response.json == {"rows": len(GOOD_ROWS), "created": len(GOOD_ROWS), "updated": 0, "unchanged": 0}
    stored = _deputies()
    assert sorted(stored) == sorted(row[1] for row in GOOD_ROWS)
    for name, number, delegation, phone_number in GOOD_ROWS:
        deputy = stored[number]
        assert (deputy.name, deputy.delegation, deputy.active) == (name, delegation, True)
        assert deputy.phone == (phone_number.replace(" ", "").replace("-", "") or None)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_reimport_updates_and_adds(upload, fmt):
    assert upload(GOOD_ROWS, fmt).status_code == 200
    changed = [["张三丰", "A001", "城关街道代表团", "138 0013 8000"], GOOD_ROWS[1],
               ["赵六", "C001", "西城街道代表团", ""]]
    response = upload(changed, fmt)
    assert response.status_code == 200, response.json
    assert response.json == {"rows": 3, "created": 1, "updated": 1, "unchanged": 1}
    stored = _deputies()
    assert stored["A001"].name == "张三丰"
    assert stored["C001"].delegation == "西城街道代表团"
    # A deputy missing from the new file is kept, not deleted.
    assert "B001" in stored and len(stored) == 4


def test_import_reactivates_an_inactive_deputy(upload):
    upload(GOOD_ROWS)
    deputy = _deputies()["A002"]
    deputy.active = False
    db.session.commit()
    assert upload(GOOD_ROWS).json["updated"] == 1
    assert _deputies()["A002"].active is True


def test_import_is_audited(upload):
    upload(GOOD_ROWS)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "roster.import"))
    assert entry.actor == "user:organizer"
    assert '"created": 3' in entry.details


def _with(row_index, column, value, rows=GOOD_ROWS):
    rows = [list(r) for r in rows]
    rows[row_index][column] = value
    return rows


# (rows, [(spreadsheet row, column, code), ...]); the header is row 1, so data row i is row i + 2.
BAD_ROSTERS = {
    "duplicate number": (_with(2, 1, "A001"), [(4, "number", "duplicate_in_file")]),
    "empty name": (_with(1, 0, ""), [(3, "name", "required")]),
    "blank-looking name": (_with(1, 0, "\u3000 "), [(3, "name", "required")]),
    "formula in name": (_with(0, 0, "=HYPERLINK(\"http://evil\",\"张三\")"), [(2, "name", "formula")]),
    "formula in delegation": (_with(2, 2, "@SUM(A1)"), [(4, "delegation", "formula")]),
    "street in the phone column": (_with(0, 3, "城关街道"), [(2, "phone", "bad_phone")]),
    "several problems": (
        _with(2, 1, "A002", _with(0, 2, "")),
        [(2, "delegation", "required"), (4, "number", "duplicate_in_file")],
    ),
}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("case", list(BAD_ROSTERS))
def test_bad_roster_imports_nothing(upload, count, fmt, case):
    rows, problems = BAD_ROSTERS[case]
    upload([["旧代表", "Z001", "旧代表团", ""]], fmt)
    before = (count(Deputy), count(AuditEntry), _deputies()["Z001"].name)
    response = upload(rows + [["新名字", "Z001", "旧代表团", ""]], fmt)
    assert response.status_code == 400, response.json
    error = response.json["error"]
    assert error["code"] == "roster_invalid_rows"
    assert [(d["row"], d["column"], d["code"]) for d in error["details"]] == problems
    assert all(d["message"] for d in error["details"])
    assert (count(Deputy), count(AuditEntry), _deputies()["Z001"].name) == before


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_wrong_column_names_the_missing_column(upload, count, fmt):
    response = upload(GOOD_ROWS, fmt, header=["姓名", "工号", "代表团", "手机号码"])
    assert response.status_code == 400, response.json
    error = response.json["error"]
    assert error["code"] == "roster_missing_columns"
    assert [d["column"] for d in error["details"]] == ["number"]
    assert count(Deputy) == 0


@pytest.fixture
def three_rows_max(app_config):
    app_config["ROSTER_MAX_ROWS"] = 3


def test_too_many_rows(three_rows_max, upload, count):
    rows = GOOD_ROWS + [["赵六", "C001", "西城街道代表团", ""]]
    response = upload(rows)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "roster_too_many_rows"
    assert "3" in response.json["error"]["message"]
    assert count(Deputy) == 0
    assert upload(GOOD_ROWS).status_code == 200


@pytest.mark.parametrize(
    "filename, data, code",
    [
        ("名册.xls", b"\xd0\xcf\x11\xe0" + b"\0" * 100, "roster_old_excel"),
        ("名册.pdf", b"%PDF-1.4", "roster_unknown_type"),
        ("名册.xlsx", b"PK\x03\x04 not really a zip", "roster_bad_xlsx"),
        ("名册.csv", "姓名,代表证号,代表团\n".encode(), "roster_empty"),
    ],
)
def test_unreadable_file(client, org, count, filename, data, code):
    response = client.post("/api/v1/deputies/import", headers=org, data={"file": (io.BytesIO(data), filename)},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert response.json["error"]["code"] == code
    assert count(Deputy) == 0


@pytest.mark.parametrize("data", [{}, {"roster": (io.BytesIO(b"x"), "a.csv")}, {"file": (io.BytesIO(b""), "")}])
def test_import_without_file(client, org, data):
    response = client.post("/api/v1/deputies/import", headers=org, data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "file_required"


def _multipart(field, filename, payload, boundary="testboundary7MA4YWxkTrZu0gW"):
    """Encode a multipart body in memory (the test client would spool 50 MB to a temporary file)."""
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            "Content-Type: text/csv\r\n\r\n").encode()
    return head + payload + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_50_mb_upload_is_refused_with_413(client, org, count):
    body, content_type = _multipart("file", "名册.csv", b"x" * (50 * 1024 * 1024))
    response = client.post("/api/v1/deputies/import", headers=org, data=body, content_type=content_type)
    assert response.status_code == 413
    error = response.json["error"]
    assert error["code"] == "too_large"
    assert "10" in error["message"]
    assert count(Deputy) == 0


# -- listDeputies -----------------------------------------------------------------------------


def test_list_deputies_never_shows_phone_numbers(client, org, upload):
    upload(GOOD_ROWS)
    response = client.get("/api/v1/deputies", headers=org)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    for digits in ("13800138000", "8613900139000", "0013"):
        assert digits not in body
    by_number = {d["number"]: d for d in response.json["items"]}
    assert by_number["A001"]["has_phone_number"] is True
    assert by_number["A002"]["has_phone_number"] is False
    assert all("phone" not in d for d in response.json["items"])


@pytest.mark.parametrize(
    "query, numbers",
    [
        ("", {"A001", "A002", "B001"}),
        ("?search=李", {"A002"}),
        ("?search=B00", {"B001"}),
        ("?delegation=城关街道代表团", {"A001", "A002"}),
        ("?search=%25", set()),  # a literal %, not a wildcard
        ("?search=A_0", set()),  # a literal _, not a wildcard
        ("?search=100%25", set()),
    ],
)
def test_list_deputies_filters(client, org, upload, query, numbers):
    upload(GOOD_ROWS)
    response = client.get("/api/v1/deputies" + query, headers=org)
    assert response.status_code == 200, response.json
    assert {d["number"] for d in response.json["items"]} == numbers
    assert response.json["total"] == len(numbers)


@pytest.mark.parametrize("offset, limit", [(0, 100), (0, 2), (1, 1), (2, 5), (3, 1)])
def test_list_deputies_pages_in_delegation_and_number_order(client, org, upload, offset, limit):
    upload(GOOD_ROWS)
    ordered = [number for _, number in sorted((row[2], row[1]) for row in GOOD_ROWS)]
    response = client.get(f"/api/v1/deputies?offset={offset}&limit={limit}", headers=org)
    assert [d["number"] for d in response.json["items"]] == ordered[offset : offset + limit]
    assert response.json["total"] == len(GOOD_ROWS)


@pytest.mark.parametrize("query", ["?limit=0", "?limit=1001", "?offset=-1", "?limit=x", "?colour=red"])
def test_list_deputies_bad_query(client, org, query):
    response = client.get("/api/v1/deputies" + query, headers=org)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "validation_failed"
    assert response.json["error"]["details"]


# -- issueActivationCode and activateDeputy ---------------------------------------------------


def _issue(client, org, deputy_id):
    return client.post(f"/api/v1/deputies/{deputy_id}/activation-code", headers=org)


def _activate(client, code):
    return client.post("/api/v1/activate", json={"activation_code": code}, headers={"User-Agent": "pytest-phone"})


def test_issue_and_activate(client, org, make_deputies):
    deputy = make_deputies(1)[0]
    response = _issue(client, org, deputy.id)
    assert response.status_code == 200, response.json
    code = response.json["activation_code"]
    assert response.json["activation_url"].endswith(code)
    response = _activate(client, code)
    assert response.status_code == 200, response.json
    assert response.json["deputy"] == {"id": deputy.id, "number": deputy.number, "name": deputy.name}
    token = response.json["device_token"]
    device = db.session.scalar(select(DeputyDevice).where(DeputyDevice.deputy_id == deputy.id))
    assert device.revoked_at is None and device.user_agent == "pytest-phone"
    assert device.token_hash == token_hash(token)  # stored hashed, never in plain
    listed = client.get("/api/v1/deputies", headers=org).json["items"][0]
    assert (listed["bound_devices"], listed["card_issued"]) == (1, False)


def test_activation_code_is_single_use(client, org, make_deputies, count):
    deputy = make_deputies(1)[0]
    code = _issue(client, org, deputy.id).json["activation_code"]
    assert _activate(client, code).status_code == 200
    response = _activate(client, code)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "activation_code_invalid"
    assert count(DeputyDevice) == 1


@pytest.mark.parametrize(
    "typed",
    [
        lambda c: c.lower(),
        lambda c: c.replace("-", " "),
        lambda c: " " + c.replace("-", "").lower() + " ",
        lambda c: c.replace("-", "\u3000"),
    ],
    ids=["lower-case", "spaces", "no-dashes", "full-width-spaces"],
)
def test_activation_code_as_typed(client, org, make_deputies, typed):
    deputy = make_deputies(1)[0]
    code = _issue(client, org, deputy.id).json["activation_code"]
    response = _activate(client, typed(code))
    assert response.status_code == 200, response.json
    assert response.json["deputy"]["id"] == deputy.id


@pytest.mark.parametrize("code", ["ABCD-EFGH-JKMN-PQRS", "x", "K7QX-2MNP-8RTV-4WH"])
def test_unknown_activation_code(client, make_deputies, code):
    make_deputies(1)
    response = _activate(client, code)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "activation_code_invalid"


@pytest.mark.parametrize("body", [{}, {"activation_code": ""}, {"activation_code": "A" * 41}, {"code": "x"}, []])
def test_activate_bad_body(client, body):
    response = client.post("/api/v1/activate", json=body)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "validation_failed"


def test_reissue_revokes_old_card_and_bound_phones(client, org, make_deputies, make_meeting, screen_code):
    deputy = make_deputies(1)[0]
    old_code = _issue(client, org, deputy.id).json["activation_code"]
    token = _activate(client, old_code).json["device_token"]
    unused_code = _issue(client, org, deputy.id).json["activation_code"]
    new_code = _issue(client, org, deputy.id).json["activation_code"]
    assert len({old_code, unused_code, new_code}) == 3
    assert _activate(client, unused_code).status_code == 404
    meeting = make_meeting()
    response = client.post(f"/api/v1/meetings/{meeting.id}/checkin", json={"code": screen_code(meeting)},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "token_invalid"
    assert _activate(client, new_code).status_code == 200
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "deputy.issue_activation")).all()
    assert ['"revoked_devices": 1' in e.details for e in entries] == [False, True, False]


def test_issue_for_unknown_or_inactive_deputy(client, org, make_deputies):
    assert _issue(client, org, 999).status_code == 404
    deputy = make_deputies(1)[0]
    deputy.active = False
    db.session.commit()
    response = _issue(client, org, deputy.id)
    assert response.status_code == 409
    assert response.json["error"]["code"] == "deputy_inactive"


def test_inactive_deputy_cannot_activate(client, org, make_deputies):
    deputy = make_deputies(1)[0]
    code = _issue(client, org, deputy.id).json["activation_code"]
    deputy.active = False
    db.session.commit()
    assert _activate(client, code).status_code == 404
