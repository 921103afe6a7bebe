"""Meetings through the API: create, counts, leave, opening and closing sign-in, manual sign-in, attendance."""

import math

import pytest
from sqlalchemy import select

from voting.audit.models import AuditEntry
from voting.extensions import db
from voting.meetings.models import Meeting, MeetingMember


def _post(client, headers, path, body=None):
    return client.post(f"/api/v1{path}", headers=headers, json=body)


def _get(client, headers, path):
    return client.get(f"/api/v1{path}", headers=headers)


# -- createMeeting ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "会" * 201}, "title"),
        ({"title": "会议", "location": "地" * 201}, "location"),
        ({"title": "会议", "starts_at": "next tuesday"}, "starts_at"),
        ({"title": "会议", "quorum_numerator": 0}, "quorum_numerator"),
        ({"title": "会议", "quorum_denominator": 101}, "quorum_denominator"),
        ({"title": "会议", "delegations": "第1代表团"}, "delegations"),
        ({"title": "会议", "delegations": []}, "delegations"),
        ({"title": "会议", "colour": "red"}, "colour"),
        ({"title": 5}, "title"),
    ],
)
def test_create_meeting_validation(client, org, make_deputies, count, body, field):
    make_deputies(3)
    response = _post(client, org, "/meetings", body)
    assert response.status_code == 400, response.json
    error = response.json["error"]
    assert error["code"] == "validation_failed"
    assert field in [d["field"] for d in error["details"]]
    assert count(Meeting) == 0


@pytest.mark.parametrize(
    "body, code",
    [
        ({"title": "   "}, "invalid_title"),
        ({"title": "会议", "quorum_numerator": 3, "quorum_denominator": 2}, "invalid_quorum"),
        ({"title": "会议", "delegations": ["没有这个代表团"]}, "no_deputies"),
    ],
)
def test_create_meeting_refused_by_the_domain(client, org, make_deputies, count, body, code):
    make_deputies(3)
    response = _post(client, org, "/meetings", body)
    assert response.status_code == 400
    assert response.json["error"]["code"] == code
    assert (count(Meeting), count(MeetingMember), count(AuditEntry, AuditEntry.action == "meeting.create")) == (0, 0, 0)


def test_create_meeting_without_roster(client, org, count):
    response = _post(client, org, "/meetings", {"title": "会议"})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "no_deputies"
    assert count(Meeting) == 0


def test_expected_is_the_active_roster(client, org, make_deputies, count):
    deputies = make_deputies(7)
    deputies[2].active = False
    db.session.commit()
    response = _post(client, org, "/meetings", {"title": "第三次会议", "location": "区会议中心",
                                                "starts_at": "2027-01-10T09:00:00+08:00"})
    assert response.status_code == 201, response.json
    meeting = response.json
    assert meeting["state"] == "planned"
    assert meeting["starts_at"] == "2027-01-10T01:00:00Z"
    assert meeting["expected"] == 6
    members = db.session.scalars(select(MeetingMember.deputy_id).where(MeetingMember.meeting_id == meeting["id"]))
    assert set(members) == {d.id for d in deputies if d.active}
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "meeting.create"))
    assert entry.object_id == str(meeting["id"]) and '"expected": 6' in entry.details


@pytest.mark.parametrize(
    "starts_at, stored",
    [
        ("2027-01-10T09:00:00+08:00", "2027-01-10T01:00:00Z"),
        ("2027-01-10T01:00:00Z", "2027-01-10T01:00:00Z"),
        ("2027-01-10T09:00:00", "2027-01-10T01:00:00Z"),  # no offset: local time, as in the web form
        ("2027-01-10T00:30:00-05:00", "2027-01-10T05:30:00Z"),
        (None, None),
    ],
)
def test_meeting_start_time(client, org, make_deputies, starts_at, stored):
    make_deputies(2)
    response = _post(client, org, "/meetings", {"title": "会议", "starts_at": starts_at})
    assert response.status_code == 201, response.json
    assert response.json["starts_at"] == stored
    assert _get(client, org, f"/meetings/{response.json['id']}").json["starts_at"] == stored


@pytest.mark.parametrize("chosen", [["第1代表团"], ["第1代表团", "第3代表团"], ["第2代表团", "不存在"]])
def test_expected_is_the_chosen_delegations(client, org, make_deputies, chosen):
    deputies = make_deputies(10, delegations=3)
    response = _post(client, org, "/meetings", {"title": "代表团会议", "delegations": chosen})
    assert response.status_code == 201, response.json
    expected = {d.id for d in deputies if d.delegation in chosen}
    members = db.session.scalars(select(MeetingMember.deputy_id).where(MeetingMember.meeting_id == response.json["id"]))
    assert set(members) == expected
    assert response.json["expected"] == len(expected)


@pytest.mark.parametrize("numerator, denominator", [(2, 3), (1, 2), (3, 4), (1, 1)])
def test_quorum_setting(client, org, make_deputies, numerator, denominator):
    make_deputies(10)
    response = _post(client, org, "/meetings", {"title": "会议", "quorum_numerator": numerator,
                                                "quorum_denominator": denominator})
    assert response.status_code == 201
    assert response.json["quorum_required"] == math.ceil(10 * numerator / denominator)
    assert (response.json["quorum_numerator"], response.json["quorum_denominator"]) == (numerator, denominator)


def test_get_unknown_meeting(client, org):
    response = _get(client, org, "/meetings/4242")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "meeting_not_found"


# -- counts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size, leave, scanned, by_hand",
    [
        (3, set(), set(), set()),
        (3, set(), {0}, {1}),
        (9, {0, 1}, {1, 2, 3, 4}, {5}),
        (9, {0, 1}, {1, 2, 3, 4}, {5, 6}),
        (10, {9}, {0, 1, 2, 3, 4, 5}, set()),
        (10, {9}, {0, 1, 2, 3, 4, 5}, {9}),
        (4, {0, 1, 2, 3}, set(), set()),
    ],
)
def test_get_meeting_counts(client, org, make_deputies, make_meeting, phone, screen_code, size, leave, scanned,
                            by_hand):
    deputies = make_deputies(size)
    meeting = make_meeting()
    for i in leave:
        assert _post(client, org, f"/meetings/{meeting.id}/leave",
                     {"deputy_id": deputies[i].id, "on_leave": True, "reason": "因病"}).status_code == 200
    for i in scanned:
        response = _post(client, phone(deputies[i]), f"/meetings/{meeting.id}/checkin", {"code": screen_code(meeting)})
        assert response.json["status"] == "checked_in", response.json
    for i in by_hand:
        assert _post(client, org, f"/meetings/{meeting.id}/manual-checkin",
                     {"deputy_id": deputies[i].id, "reason": "核对代表证"}).status_code == 200
    present = scanned | by_hand
    response = _get(client, org, f"/meetings/{meeting.id}")
    assert response.status_code == 200
    counts = {k: response.json[k] for k in ("expected", "present", "on_leave", "absent", "not_arrived",
                                            "quorum_required", "quorum_met")}
    required = math.ceil(2 * size / 3)
    assert counts == {
        "expected": size,
        "present": len(present),
        "on_leave": len(leave - present),
        "absent": size - len(present),
        "not_arrived": size - len(present) - len(leave - present),
        "quorum_required": required,
        "quorum_met": len(present) >= required,
    }


# -- setLeave ---------------------------------------------------------------------------------


def test_set_and_withdraw_leave(client, org, make_deputies, make_meeting):
    deputy = make_deputies(2)[0]
    meeting = make_meeting(open_signin=False)
    response = _post(client, org, f"/meetings/{meeting.id}/leave", {"deputy_id": deputy.id, "on_leave": True,
                                                                     "reason": " 出差 "})
    assert response.status_code == 200, response.json
    assert (response.json["on_leave"], response.json["leave_reason"]) == (True, "出差")
    assert _get(client, org, f"/meetings/{meeting.id}").json["on_leave"] == 1
    response = _post(client, org, f"/meetings/{meeting.id}/leave", {"deputy_id": deputy.id, "on_leave": False,
                                                                     "reason": "出差"})
    assert (response.json["on_leave"], response.json["leave_reason"]) == (False, "")
    assert _get(client, org, f"/meetings/{meeting.id}").json["on_leave"] == 0
    entries = db.session.scalars(select(AuditEntry.details).where(AuditEntry.action == "meeting.set_leave")).all()
    assert len(entries) == 2 and '"on_leave": true' in entries[0] and '"on_leave": false' in entries[1]


@pytest.mark.parametrize(
    "path_meeting, body, status, code",
    [
        ("other", {"deputy_id": "member", "on_leave": True}, 404, "not_a_member"),
        ("unknown", {"deputy_id": "member", "on_leave": True}, 404, "meeting_not_found"),
        ("this", {"deputy_id": 999999, "on_leave": True}, 404, "not_a_member"),
        ("this", {"deputy_id": "member"}, 400, "validation_failed"),
        ("this", {"deputy_id": 0, "on_leave": True}, 400, "validation_failed"),
        ("this", {"deputy_id": "member", "on_leave": True, "reason": "因" * 201}, 400, "validation_failed"),
    ],
)
def test_set_leave_refused(client, org, make_deputies, make_meeting, count, path_meeting, body, status, code):
    deputies = make_deputies(6, delegations=2)
    meeting = make_meeting(delegations=[deputies[0].delegation])
    other = make_meeting(delegations=[deputies[1].delegation])
    meeting_id = {"this": meeting.id, "other": other.id, "unknown": 999}[path_meeting]
    if body.get("deputy_id") == "member":
        body = {**body, "deputy_id": deputies[0].id}
    before = count(AuditEntry)
    response = _post(client, org, f"/meetings/{meeting_id}/leave", body)
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert count(AuditEntry) == before
    assert count(MeetingMember, MeetingMember.on_leave.is_(True)) == 0


# -- opening and closing sign-in --------------------------------------------------------------


@pytest.mark.parametrize(
    "steps, refused",
    [
        ([], "close"),
        (["open"], "open"),
        (["open", "close"], "close"),
        (["open", "close", "open"], "open"),
    ],
)
def test_invalid_transitions_conflict(client, org, make_deputies, make_meeting, count, steps, refused):
    make_deputies(3)
    meeting = make_meeting(open_signin=False)
    for step in steps:
        assert _post(client, org, f"/meetings/{meeting.id}/signin/{step}").status_code == 200
    state = _get(client, org, f"/meetings/{meeting.id}").json["state"]
    before = count(AuditEntry)
    response = _post(client, org, f"/meetings/{meeting.id}/signin/{refused}")
    assert response.status_code == 409
    assert response.json["error"]["code"] == "invalid_state"
    assert _get(client, org, f"/meetings/{meeting.id}").json["state"] == state
    assert count(AuditEntry) == before


def test_open_close_reopen(client, org, make_deputies, make_meeting):
    make_deputies(3)
    meeting = make_meeting(open_signin=False)
    states = []
    for step in ("open", "close", "open", "close"):
        response = _post(client, org, f"/meetings/{meeting.id}/signin/{step}")
        assert response.status_code == 200, response.json
        states.append(response.json["state"])
    assert states == ["signin_open", "signin_closed", "signin_open", "signin_closed"]
    db.session.expire_all()
    assert db.session.get(Meeting, meeting.id).signin_epoch == 2
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "meeting",
                                                                 AuditEntry.object_id == str(meeting.id))
                                 .order_by(AuditEntry.seq)).all()
    assert actions[-4:] == ["meeting.open_signin", "meeting.close_signin"] * 2
    body = _get(client, org, f"/meetings/{meeting.id}").json
    assert body["signin_opened_at"] is not None and body["signin_closed_at"] is not None


@pytest.mark.parametrize("action", ["open", "close"])
def test_transition_of_unknown_meeting(client, org, action):
    response = _post(client, org, f"/meetings/31337/signin/{action}")
    assert response.status_code == 404


# -- getCheckinCode ---------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [[], ["open", "close"]])
def test_checkin_code_only_while_open(client, org, make_deputies, make_meeting, steps):
    make_deputies(3)
    meeting = make_meeting(open_signin=False)
    for step in steps:
        _post(client, org, f"/meetings/{meeting.id}/signin/{step}")
    response = _get(client, org, f"/meetings/{meeting.id}/checkin-code")
    assert response.status_code == 409
    assert response.json["error"]["code"] == "signin_not_open"


def test_checkin_code_rotates(client, app, org, make_deputies, make_meeting, clock):
    from datetime import datetime

    make_deputies(3)
    meeting = make_meeting()
    period = app.config["CHECKIN_CODE_PERIOD"]
    first = _get(client, org, f"/meetings/{meeting.id}/checkin-code").json
    assert first["period_seconds"] == period
    assert first["url"].endswith("/c/" + first["code"])

    def stamp(text):
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

    assert clock.now < stamp(first["shown_until"]) <= clock.now + period
    assert stamp(first["valid_until"]) - stamp(first["shown_until"]) == period * (app.config["CHECKIN_CODE_WINDOWS"]
                                                                                  - 1)
    clock.advance(period - 2)
    assert _get(client, org, f"/meetings/{meeting.id}/checkin-code").json["code"] == first["code"]
    clock.advance(2)
    second = _get(client, org, f"/meetings/{meeting.id}/checkin-code").json
    assert second["code"] != first["code"]
    assert stamp(second["shown_until"]) == stamp(first["shown_until"]) + period


def test_reopening_changes_the_code(client, org, make_deputies, make_meeting, clock):
    make_deputies(3)
    meeting = make_meeting()
    first = _get(client, org, f"/meetings/{meeting.id}/checkin-code").json["code"]
    _post(client, org, f"/meetings/{meeting.id}/signin/close")
    _post(client, org, f"/meetings/{meeting.id}/signin/open")
    assert _get(client, org, f"/meetings/{meeting.id}/checkin-code").json["code"] != first


# -- manualCheckIn and undoCheckIn ------------------------------------------------------------


def test_manual_check_in_and_undo(client, org, make_deputies, make_meeting, phone, screen_code):
    deputy = make_deputies(3)[0]
    meeting = make_meeting()
    response = _post(client, org, f"/meetings/{meeting.id}/manual-checkin",
                     {"deputy_id": deputy.id, "reason": "手机没电，核对代表证"})
    assert response.status_code == 200, response.json
    assert (response.json["checkin_method"], response.json["checkin_reason"]) == ("manual", "手机没电，核对代表证")
    assert response.json["checked_in_at"].endswith("Z")
    member = db.session.get(MeetingMember, (meeting.id, deputy.id))
    assert member.checkin_by_user_id is not None
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "meeting.manual_checkin"))
    assert entry.actor == "user:organizer" and "手机没电" in entry.details
    assert f'"deputy_id": {deputy.id}' in entry.details

    response = _post(client, org, f"/meetings/{meeting.id}/undo-checkin", {"deputy_id": deputy.id, "reason": "签错人"})
    assert response.status_code == 200, response.json
    assert (response.json["checked_in_at"], response.json["checkin_method"]) == (None, None)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "meeting.undo_checkin"))
    assert "签错人" in entry.details and '"method": "manual"' in entry.details
    assert _get(client, org, f"/meetings/{meeting.id}").json["present"] == 0
    # After the undo the deputy can sign in with their phone.
    response = _post(client, phone(deputy), f"/meetings/{meeting.id}/checkin", {"code": screen_code(meeting)})
    assert response.json["status"] == "checked_in"


@pytest.mark.parametrize(
    "operation, setup, body, status, code",
    [
        ("manual-checkin", "open", {"deputy_id": "d"}, 400, "validation_failed"),
        ("manual-checkin", "open", {"deputy_id": "d", "reason": ""}, 400, "validation_failed"),
        ("manual-checkin", "open", {"deputy_id": "d", "reason": "   "}, 400, "reason_required"),
        ("manual-checkin", "open", {"deputy_id": "d", "reason": "补" * 201}, 400, "validation_failed"),
        ("manual-checkin", "planned", {"deputy_id": "d", "reason": "补签"}, 409, "signin_not_open"),
        ("manual-checkin", "signed_in", {"deputy_id": "d", "reason": "补签"}, 409, "already_checked_in"),
        ("manual-checkin", "open", {"deputy_id": "outsider", "reason": "补签"}, 404, "not_a_member"),
        ("undo-checkin", "open", {"deputy_id": "d", "reason": "撤销"}, 409, "not_checked_in"),
        ("undo-checkin", "signed_in", {"deputy_id": "d"}, 400, "validation_failed"),
        ("undo-checkin", "signed_in", {"deputy_id": "d", "reason": " "}, 400, "reason_required"),
        ("undo-checkin", "signed_in", {"deputy_id": "outsider", "reason": "撤销"}, 404, "not_a_member"),
    ],
)
def test_manual_check_in_refused(client, org, make_deputies, make_meeting, count, operation, setup, body, status,
                                 code):
    deputies = make_deputies(4, delegations=2)
    meeting = make_meeting(open_signin=setup != "planned", delegations=[deputies[0].delegation])
    if setup == "signed_in":
        _post(client, org, f"/meetings/{meeting.id}/manual-checkin", {"deputy_id": deputies[0].id, "reason": "补签"})
    ids = {"d": deputies[0].id, "outsider": deputies[1].id}
    body = {**body, "deputy_id": ids[body["deputy_id"]]}
    before = (count(AuditEntry), count(MeetingMember, MeetingMember.checked_in_at.is_not(None)))
    response = _post(client, org, f"/meetings/{meeting.id}/{operation}", body)
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert (count(AuditEntry), count(MeetingMember, MeetingMember.checked_in_at.is_not(None))) == before


def test_manual_check_in_after_sign_in_closed(client, org, make_deputies, make_meeting):
    deputy = make_deputies(2)[0]
    meeting = make_meeting()
    _post(client, org, f"/meetings/{meeting.id}/signin/close")
    response = _post(client, org, f"/meetings/{meeting.id}/manual-checkin", {"deputy_id": deputy.id, "reason": "迟到"})
    assert response.status_code == 200, response.json


# -- listAttendance ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["all", "present", "on_leave", "not_arrived", None])
def test_list_attendance_filters(client, org, make_deputies, make_meeting, status):
    deputies = make_deputies(8, delegations=3)
    meeting = make_meeting()
    leave = {deputies[0].id, deputies[1].id}
    present = {deputies[1].id, deputies[2].id, deputies[3].id}
    for deputy_id in leave:
        _post(client, org, f"/meetings/{meeting.id}/leave", {"deputy_id": deputy_id, "on_leave": True})
    for deputy_id in present:
        _post(client, org, f"/meetings/{meeting.id}/manual-checkin", {"deputy_id": deputy_id, "reason": "补签"})
    everyone = {d.id for d in deputies}
    expected = {
        "all": everyone, None: everyone, "present": present, "on_leave": leave - present,
        "not_arrived": everyone - present - leave,
    }[status]
    response = _get(client, org, f"/meetings/{meeting.id}/attendance" + (f"?status={status}" if status else ""))
    assert response.status_code == 200, response.json
    items = response.json["items"]
    assert {m["deputy_id"] for m in items} == expected
    assert response.json["total"] == len(expected)
    assert [(m["delegation"], m["number"]) for m in items] == sorted((m["delegation"], m["number"]) for m in items)
    for item in items:
        assert item["on_leave"] == (item["deputy_id"] in leave)
        assert (item["checked_in_at"] is not None) == (item["deputy_id"] in present)


@pytest.mark.parametrize("query, status", [("?status=absent", 400), ("?status=all&x=1", 400)])
def test_list_attendance_bad_filter(client, org, make_deputies, make_meeting, query, status):
    make_deputies(2)
    meeting = make_meeting()
    response = _get(client, org, f"/meetings/{meeting.id}/attendance{query}")
    assert response.status_code == status
    assert response.json["error"]["code"] == "validation_failed"


def test_list_attendance_of_unknown_meeting(client, org):
    assert _get(client, org, "/meetings/999/attendance").status_code == 404
