"""The audit log: getAuditLog, the append-only triggers, and `flask audit-verify` catching tampering.

Tampering is done as an attacker with database access would: raw SQL, after dropping (SQLite) or
disabling (PostgreSQL) the trigger that makes the table append-only.
"""

import json

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from voting.audit.models import AuditEntry, AuditHead
from voting.audit.operations import record, verify
from voting.extensions import db


@pytest.fixture
def org(organizer, api_token):
    return api_token(organizer)


@pytest.fixture
def entries(app):
    """Write five entries; return their sequence numbers."""
    written = [record("user:tester", f"test.action{i % 2}", "meeting", i, n=i, note="会议") for i in range(1, 6)]
    db.session.commit()
    return [e.seq for e in written]


def _sql(statement, **params):
    db.session.execute(text(statement), params)
    db.session.commit()
    db.session.expire_all()


def _disable_append_only():
    if db.engine.dialect.name == "sqlite":
        _sql("DROP TRIGGER audit_entry_no_update")
        _sql("DROP TRIGGER audit_entry_no_delete")
    else:
        _sql("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only")


def _verify(runner):
    result = runner.invoke(args=["audit-verify"])
    return result.exit_code, result.output


# -- getAuditLog ------------------------------------------------------------------------------


def test_audit_log_newest_first(client, org, entries):
    response = client.get("/api/v1/audit", headers=org)
    assert response.status_code == 200
    items = response.json["items"]
    seqs = [item["seq"] for item in items]
    assert seqs == sorted(seqs, reverse=True)
    assert response.json["total"] == len(items) == db.session.get(AuditHead, 1).seq
    newest = items[0]
    assert (newest["actor"], newest["action"], newest["object_type"], newest["object_id"]) == (
        "user:tester", "test.action1", "meeting", "5")
    assert newest["details"] == {"n": 5, "note": "会议"}
    assert newest["created_at"].endswith("Z")


@pytest.mark.parametrize("query, actions", [
    ("?action=test.action0", {"test.action0"}),
    ("?action=test.action1", {"test.action1"}),
    ("?action=nothing", set()),
])
def test_audit_log_filter(client, org, entries, query, actions):
    response = client.get("/api/v1/audit" + query, headers=org)
    assert {item["action"] for item in response.json["items"]} == actions
    expected = db.session.scalars(select(AuditEntry.seq).where(AuditEntry.action.in_(actions))).all()
    assert response.json["total"] == len(expected)


@pytest.mark.parametrize("offset, limit", [(0, 2), (2, 2), (4, 10), (100, 5)])
def test_audit_log_pages(client, org, entries, offset, limit):
    everything = [item["seq"] for item in client.get("/api/v1/audit", headers=org).json["items"]]
    page = client.get(f"/api/v1/audit?offset={offset}&limit={limit}", headers=org).json
    assert [item["seq"] for item in page["items"]] == everything[offset : offset + limit]
    assert page["total"] == len(everything)


@pytest.mark.parametrize("query", ["?limit=0", "?limit=5000", "?offset=-3", "?actor=x"])
def test_audit_log_bad_query(client, org, query):
    response = client.get("/api/v1/audit" + query, headers=org)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "validation_failed"


def test_reading_the_log_is_not_logged(client, org, entries):
    before = db.session.get(AuditHead, 1).seq
    client.get("/api/v1/audit", headers=org)
    db.session.expire_all()
    assert db.session.get(AuditHead, 1).seq == before


# -- the append-only triggers -----------------------------------------------------------------


@pytest.mark.parametrize("statement", [
    "UPDATE audit_entry SET details = '{}' WHERE seq = 2",
    "UPDATE audit_entry SET actor = 'user:someone-else'",
    "DELETE FROM audit_entry WHERE seq = 3",
    "DELETE FROM audit_entry",
])
def test_triggers_refuse_changes(app, entries, statement):
    before = [(e.seq, e.details, e.actor) for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text(statement))
    db.session.rollback()
    db.session.expire_all()
    after = [(e.seq, e.details, e.actor) for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
    assert after == before
    assert verify() == []


def test_trigger_refuses_truncate_on_postgresql(app, entries):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE exists only on PostgreSQL")
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text("TRUNCATE audit_entry"))
    db.session.rollback()
    assert verify() == []


def test_orm_cannot_change_an_entry(app, entries):
    entry = db.session.get(AuditEntry, entries[1])
    entry.details = json.dumps({"n": 99})
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.commit()
    db.session.rollback()


# -- audit-verify -----------------------------------------------------------------------------


def test_verify_intact_log(runner, entries):
    code, output = _verify(runner)
    assert code == 0, output
    assert f"{len(entries)} entries" in output


def test_verify_empty_log(runner):
    code, output = _verify(runner)
    assert code == 0, output
    assert "0 entries" in output


def test_verify_after_real_operations(runner, client, org, make_deputies, make_meeting):
    deputies = make_deputies(3)
    meeting = make_meeting()
    client.post(f"/api/v1/meetings/{meeting.id}/manual-checkin", headers=org,
                json={"deputy_id": deputies[0].id, "reason": "补签"})
    client.post(f"/api/v1/meetings/{meeting.id}/signin/close", headers=org)
    code, output = _verify(runner)
    assert code == 0, output


# (raw SQL run with the trigger out of the way, the entry the report must name, what it must say)
TAMPERING = {
    "details changed": ("UPDATE audit_entry SET details = :v WHERE seq = 3", {"v": '{"n": 30, "note": "会议"}'},
                        "entry 3: content was changed"),
    "actor changed": ("UPDATE audit_entry SET actor = 'user:innocent' WHERE seq = 2", {},
                      "entry 2: content was changed"),
    "time changed": ("UPDATE audit_entry SET created_at = '2020-01-01 00:00:00' WHERE seq = 4", {},
                     "entry 4: content was changed"),
    "middle entry deleted": ("DELETE FROM audit_entry WHERE seq = 3", {}, "entry 3 is missing"),
    "first entry deleted": ("DELETE FROM audit_entry WHERE seq = 1", {}, "entry 1 is missing"),
    "last entry deleted": ("DELETE FROM audit_entry WHERE seq = 5", {}, "should have 5 entries but has 4"),
    "entries swapped": ("UPDATE audit_entry SET seq = 1000 WHERE seq = 2; "
                        "UPDATE audit_entry SET seq = 2 WHERE seq = 3; "
                        "UPDATE audit_entry SET seq = 3 WHERE seq = 1000", {}, "entry 2: content was changed"),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_verify_detects_tampering(runner, entries, case):
    statements, params, report = TAMPERING[case]
    assert _verify(runner)[0] == 0
    _disable_append_only()
    for statement in statements.split("; "):
        _sql(statement, **params)
    code, output = _verify(runner)
    assert code == 1, output
    assert report in output
    assert "TAMPERED" in output


def test_verify_detects_a_forged_entry(runner, entries):
    """An appended entry needs the server's key to get a valid hash."""
    head = db.session.get(AuditHead, 1)
    _sql("INSERT INTO audit_entry (seq, created_at, actor, action, object_type, object_id, details, prev_hash, "
         "entry_hash) VALUES (:seq, '2030-01-01 00:00:00', 'user:admin', 'meeting.create', 'meeting', '9', '{}', "
         ":prev, :forged)", seq=head.seq + 1, prev=head.last_hash, forged="f" * 64)
    _sql("UPDATE audit_head SET seq = seq + 1, last_hash = :h", h="f" * 64)
    code, output = _verify(runner)
    assert code == 1
    assert f"entry {len(entries) + 1}: content was changed" in output


def test_verify_with_another_key_fails(app, runner, entries):
    app.config["AUDIT_KEY"] = "a different key"
    code, output = _verify(runner)
    assert code == 1
    assert "entry 1: content was changed" in output


def test_audit_page_shows_the_problems(client, login, organizer, entries):
    login(organizer)
    _disable_append_only()
    _sql("DELETE FROM audit_entry WHERE seq = 2")
    response = client.get("/audit?verify=1")
    assert response.status_code == 200
    assert "entry 2 is missing" in response.get_data(as_text=True)


def _anchor(output):
    return output.split("--anchor: ", 1)[1].strip()


def test_cut_off_tail_is_caught_by_the_anchor(runner, entries):
    """Deleting the newest entries and rewinding the head leaves a consistent chain; the noted anchor shows it."""
    code, output = _verify(runner)
    anchor = _anchor(output)
    assert anchor.startswith(f"{entries[-1]}:")
    _disable_append_only()
    third = db.session.get(AuditEntry, 3)
    _sql("DELETE FROM audit_entry WHERE seq > 3")
    _sql("UPDATE audit_head SET seq = 3, last_hash = :h", h=third.entry_hash)
    assert _verify(runner)[0] == 0  # the chain alone cannot tell
    result = runner.invoke(args=["audit-verify", "--anchor", anchor])
    assert result.exit_code == 1
    assert f"entry {entries[-1]} (the noted entry) is missing" in result.output


def test_anchor_of_an_intact_log(runner, entries):
    anchor = _anchor(_verify(runner)[1])
    record("user:tester", "test.later", "meeting", 9)
    db.session.commit()
    result = runner.invoke(args=["audit-verify", "--anchor", anchor])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("anchor", ["3", "x:" + "0" * 64, "3:abc"])
def test_bad_anchor(runner, entries, anchor):
    result = runner.invoke(args=["audit-verify", "--anchor", anchor])
    assert result.exit_code == 2
    assert "SEQ:HASH" in result.output


def test_anchor_with_another_hash(runner, entries):
    result = runner.invoke(args=["audit-verify", "--anchor", "2:" + "0" * 64])
    assert result.exit_code == 1
    assert "entry 2: differs from the noted hash" in result.output
