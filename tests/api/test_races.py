"""Requests that really race: threads, each with its own test client and app context, against one database.

On SQLite they share the test's database file, on PostgreSQL the server named by TEST_DATABASE_URL.
A barrier releases the threads together so that they hit the database at the same instant.
"""

from datetime import timedelta

import pytest
from sqlalchemy import select

from voting.deputies.models import DeputyDevice
from voting.extensions import db
from voting.meetings.models import MeetingMember
from voting.timeutil import utcnow
from voting.tokens import new_token, token_hash

ROUNDS = 20


def _second_phone(deputy):
    """Bind a second live phone to the deputy (a tablet, say) directly, as activation allows only one at a time."""
    token = new_token("vtd_")
    db.session.add(DeputyDevice(deputy_id=deputy.id, token_hash=token_hash(token),
                                expires_at=utcnow() + timedelta(days=1), user_agent="second phone"))
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def _check_in(meeting_id, code, headers):
    def send(client):
        return client.post(f"/api/v1/meetings/{meeting_id}/checkin", json={"code": code}, headers=headers)

    return send


@pytest.mark.parametrize("phones", ["two phones", "double tap"])
def test_same_deputy_checking_in_twice_at_once(app, make_deputies, make_meeting, phone, screen_code, phones, race):
    deputy = make_deputies(3)[0]
    first = phone(deputy)
    second = _second_phone(deputy) if phones == "two phones" else first
    for round_number in range(ROUNDS):
        meeting = make_meeting(f"第{round_number}次会议")
        code = screen_code(meeting)
        responses = race(app, [_check_in(meeting.id, code, first), _check_in(meeting.id, code, second)])
        assert [r.status_code for r in responses] == [200, 200], [r.json for r in responses]
        assert sorted(r.json["status"] for r in responses) == ["already_checked_in", "checked_in"]
        assert responses[0].json["checked_in_at"] == responses[1].json["checked_in_at"]
        db.session.expire_all()
        rows = db.session.scalars(select(MeetingMember).where(MeetingMember.meeting_id == meeting.id,
                                                              MeetingMember.checked_in_at.is_not(None))).all()
        assert [row.deputy_id for row in rows] == [deputy.id]


def test_many_deputies_at_once(app, make_deputies, make_meeting, phone, screen_code, race):
    deputies = make_deputies(16)
    meeting = make_meeting()
    code = screen_code(meeting)
    responses = race(app, [_check_in(meeting.id, code, phone(d)) for d in deputies])
    assert [r.status_code for r in responses] == [200] * len(deputies), [r.json for r in responses]
    assert {r.json["deputy_id"] for r in responses} == {d.id for d in deputies}
    db.session.expire_all()
    present = db.session.scalars(select(MeetingMember.deputy_id).where(
        MeetingMember.meeting_id == meeting.id, MeetingMember.checked_in_at.is_not(None))).all()
    assert sorted(present) == sorted(d.id for d in deputies)


def test_two_phones_activating_one_card(app, make_deputies, race):
    from voting.deputies.operations import issue_activation_code

    deputy = make_deputies(1)[0]
    for _ in range(ROUNDS // 2):
        code = issue_activation_code(None, deputy)
        db.session.commit()

        def activate(client, code=code):
            return client.post("/api/v1/activate", json={"activation_code": code})

        responses = race(app, [activate, activate])
        statuses = sorted(r.status_code for r in responses)
        assert statuses[0] == 200 and statuses[1] in (404, 409), [r.json for r in responses]
        db.session.expire_all()
        live = db.session.scalars(select(DeputyDevice).where(DeputyDevice.deputy_id == deputy.id,
                                                             DeputyDevice.revoked_at.is_(None))).all()
        winner = next(r for r in responses if r.status_code == 200)
        assert [d.token_hash for d in live] == [token_hash(winner.json["device_token"])]


def test_organizers_writing_the_audit_log_at_once(app, make_user, api_token, make_deputies, make_meeting, race):
    """Concurrent organizer actions each get their own place in the hash chain."""
    from voting.audit.operations import verify

    deputies = make_deputies(8)
    meeting = make_meeting()
    headers = [api_token(make_user("organizer")) for _ in range(2)]

    def leave(path, deputy_id, index):
        def send(client):
            return client.post(path, headers=headers[index % 2], json={"deputy_id": deputy_id, "on_leave": True})

        return send

    path = f"/api/v1/meetings/{meeting.id}/leave"
    responses = race(app, [leave(path, d.id, i) for i, d in enumerate(deputies)])
    assert [r.status_code for r in responses] == [200] * len(deputies), [r.json for r in responses]
    db.session.expire_all()
    assert verify() == []
