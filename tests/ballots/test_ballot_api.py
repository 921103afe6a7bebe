"""The ballot API: create, open (quorum), vote, refusals that store nothing, results, receipts, re-votes."""

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from voting.audit.models import AuditEntry
from voting.ballots.models import Ballot, CastBallot
from voting.deputies.models import Deputy
from voting.extensions import db
from voting.meetings.operations import create_meeting, open_sign_in
from voting.timeutil import utcnow


def test_create_with_pasted_items_and_defaults(hall, api):
    h = hall(3)
    ballot = api.create(
        h.meeting,
        title="民生实事项目票决",
        form="choose",
        places=2,
        items="1、老旧小区加装电梯\n\n（2）社区食堂\n- 口袋公园\n2024年道路整治",
    )
    assert [i["title"] for i in ballot["items"]] == ["老旧小区加装电梯", "社区食堂", "口袋公园", "2024年道路整治"]
    assert [i["position"] for i in ballot["items"]] == [1, 2, 3, 4]
    assert (ballot["state"], ballot["secret"], ballot["last_submission_counts"], ballot["results_live"]) == (
        "draft",
        True,
        False,
        False,
    )
    assert ballot["rule"] == {"numerator": 1, "denominator": 2, "strict": True, "base": "expected"}
    assert ballot["voters"] == 0


def test_update_only_in_draft(hall, api, client, org):
    h = hall(3)
    ballot = api.create(h.meeting)
    response = client.patch(
        f"/api/v1/ballots/{ballot['id']}",
        headers=org,
        json={
            "rule": {"numerator": 2, "denominator": 3, "strict": False, "base": "present"},
            "items": ["甲", "乙"],
            "results_live": True,
        },
    )
    assert response.status_code == 200, response.json
    assert response.json["rule"] == {"numerator": 2, "denominator": 3, "strict": False, "base": "present"}
    assert [i["title"] for i in response.json["items"]] == ["甲", "乙"] and response.json["results_live"]
    api.open(ballot)
    refused = client.patch(f"/api/v1/ballots/{ballot['id']}", headers=org, json={"results_live": False})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "invalid_state"
    assert api.get(ballot).json["results_live"] is True


@pytest.mark.parametrize(
    ("action", "state", "status"),
    [
        ("close", "draft", 409),
        ("open", "open", 409),
        ("open", "closed", 409),
        ("close", "closed", 409),
    ],
)
def test_transitions_refused_over_the_api(hall, api, action, state, status):
    h = hall(3)
    ballot = api.create(h.meeting)
    if state in ("open", "closed"):
        api.open(ballot)
    if state == "closed":
        api.close(ballot)
    response = api.post(ballot, action)
    assert response.status_code == status and response.json["error"]["code"] == "invalid_state"
    assert api.get(ballot).json["state"] == state


def test_open_refused_without_quorum_gives_the_numbers(hall, api):
    h = hall(6, present=3)  # quorum: ceil(2*6/3) = 4
    ballot = api.create(h.meeting)
    response = api.post(ballot, "open")
    assert response.status_code == 409
    error = response.json["error"]
    assert error["code"] == "quorum_not_met"
    assert error["details"] == {"expected": 6, "present": 3, "required": 4}
    assert all(number in error["message"] for number in ("3", "6", "4"))
    assert api.get(ballot).json["state"] == "draft"


def test_countdown_sets_the_closing_time(hall, api):
    h = hall(3)
    ballot = api.open(api.create(h.meeting, countdown_seconds=90))
    opened = ballot["opened_at"]
    assert ballot["closes_at"] > opened
    gap = datetime.fromisoformat(ballot["closes_at"][:-1]) - datetime.fromisoformat(opened[:-1])
    assert gap.total_seconds() in (89, 90, 91)


def _other_meeting_deputy(bind_phone, sign_in):
    deputy = Deputy(number="X0001", name="外会代表", delegation="其他代表团")
    db.session.add(deputy)
    db.session.commit()
    token = bind_phone(deputy)
    other = create_meeting(None, "另一会议", delegations=["其他代表团"])
    open_sign_in(None, other)
    db.session.commit()
    sign_in(other, [deputy])
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("not signed in", 403, "not_signed_in"),
        ("other meeting", 403, "not_a_member"),
        ("before open", 409, "ballot_not_open"),
        ("after close", 409, "ballot_closed"),
        ("time up", 409, "ballot_time_up"),
        ("item of another ballot", 400, "invalid_choices"),
        ("organizer token", 403, "deputy_only"),
    ],
)
def test_refused_votes_store_nothing(hall, api, bind_phone, sign_in, stored, case, status, code):
    h = hall(4, present=3)
    ballot = api.create(h.meeting)
    other = api.create(h.meeting, title="另一表决")
    if case != "before open":
        api.open(ballot)
    if case == "after close":
        api.close(ballot)
    if case == "time up":
        db.session.execute(
            update(Ballot).where(Ballot.id == ballot["id"]).values(closes_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    phone = h.phones[0]
    choices = {str(ballot["items"][0]["id"]): "yes"}
    if case == "not signed in":
        phone = h.phones[3]
    elif case == "other meeting":
        phone = _other_meeting_deputy(bind_phone, sign_in)
    elif case == "item of another ballot":
        choices = {str(other["items"][0]["id"]): "yes"}
    elif case == "organizer token":
        phone = h.org
    response = api.vote(ballot, phone, choices)
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert stored() == (0, 0)


@pytest.mark.parametrize(
    ("form", "body"),
    [
        ("per_item", {"choices": ["not", "a", "map"]}),
        ("per_item", {"choices": {"{first}": "maybe"}}),
        ("per_item", {"choices": {"{first}": 1}}),
        ("per_item", {"choices": {"abc": "yes"}}),
        ("per_item", {"choices": {"{first}": "yes", "999999": "no"}}),
        ("per_item", {"choices": {"{first}": "yes"}, "extra": 1}),
        ("per_item", {}),
        ("per_item", "not json object"),
        ("rating", {"choices": {"{first}": "yes"}}),
        ("choose", {"choices": {"{first}": "yes"}}),
        ("choose", {"choices": ["{first}", "{first}"]}),
        ("choose", {"choices": [True]}),
        ("choose", {"choices": [1.5]}),
        ("choose", {"choices": None}),
    ],
)
def test_malformed_bodies_are_refused_and_store_nothing(hall, api, client, stored, form, body):
    h = hall(3)
    ballot = api.open(api.create(h.meeting, form=form, **({"places": 2} if form == "choose" else {})))
    first = ballot["items"][0]["id"]
    raw = json.dumps(body).replace('"{first}"', str(first) if form == "choose" else f'"{first}"')
    raw = raw.replace("{first}", str(first))
    response = client.post(
        f"/api/v1/ballots/{ballot['id']}/votes", data=raw, headers=h.phones[0], content_type="application/json"
    )
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] in ("invalid_choices", "validation_failed", "json_required")
    assert stored() == (0, 0)


def test_over_ticked_paper_is_stored_void_and_counted_invalid(hall, api, stored):
    h = hall(4)
    ballot = api.open(api.create(h.meeting, form="choose", places=2, items=["甲", "乙", "丙", "丁"]))
    ids = [i["id"] for i in ballot["items"]]
    over = api.vote(ballot, h.phones[0], ids[:3])
    assert over.status_code == 200 and over.json["valid"] is False
    assert api.vote(ballot, h.phones[1], ids[:2]).json["valid"] is True
    assert api.vote(ballot, h.phones[2], []).json["valid"] is True  # ticking none is a valid blank paper
    assert stored(ballot["id"]) == (3, 3)
    api.close(ballot)
    results = api.get(ballot, "results").json
    assert (results["ballots"], results["valid"], results["void"]) == (3, 2, 1)
    assert [i["counts"]["votes"] for i in results["items"]] == [1, 1, 0, 0], "the void paper's ticks count for nothing"
    assert results["did_not_vote"] == 1


@pytest.mark.parametrize("live", [False, True])
def test_results_only_after_close_unless_live(hall, api, live):
    h = hall(3)
    ballot = api.open(api.create(h.meeting, results_live=live))
    api.vote(ballot, h.phones[0], {str(ballot["items"][0]["id"]): "yes"})
    response = api.get(ballot, "results")
    if live:
        assert response.status_code == 200 and response.json["final"] is False
        assert response.json["items"][0]["counts"]["yes"] == 1
    else:
        assert response.status_code == 409 and response.json["error"]["code"] == "results_hidden"
    assert api.get(ballot, "receipts").status_code == 409
    api.close(ballot)
    final = api.get(ballot, "results")
    assert final.status_code == 200 and final.json["final"] is True


def test_per_item_results_against_all_expected_deputies(hall, api):
    h = hall(9, present=7)  # 全体代表的过半数 of 9 = 5
    ballot = api.open(api.create(h.meeting, items=["甲", "乙"]))
    a, b = (str(i["id"]) for i in ballot["items"])
    papers = [{a: "yes", b: "yes"}] * 4 + [{a: "yes", b: "no"}, {a: "abstain", b: "yes"}]
    for phone, paper in zip(h.phones, papers, strict=False):
        assert api.vote(ballot, phone, paper).status_code == 200
    api.close(ballot)
    results = api.get(ballot, "results").json
    assert (results["expected"], results["present"], results["voters"], results["did_not_vote"]) == (9, 7, 6, 1)
    assert results["required"] == 5
    first, second = results["items"]
    assert first["counts"] == {"yes": 5, "no": 0, "abstain": 1, "blank": 0} and first["passed"]
    assert second["counts"] == {"yes": 5, "no": 1, "abstain": 0, "blank": 0} and second["passed"]


def test_receipts_equal_ballots_equal_voters(hall, api, stored):
    h = hall(8)
    ballot = api.open(api.create(h.meeting, form="rating", items=["局长甲", "局长乙"]))
    ids = [str(i["id"]) for i in ballot["items"]]
    receipts = []
    for n, phone in enumerate(h.phones[:7]):
        response = api.vote(ballot, phone, {ids[0]: ["satisfied", "basic", "unsatisfied"][n % 3]})
        assert response.status_code == 200
        receipts.append(response.json["receipt"])
    assert api.get(ballot).json["voters"] == 7
    api.close(ballot)
    published = api.get(ballot, "receipts").json
    assert published["receipts"] == sorted(receipts)
    assert len(set(receipts)) == published["voters"] == published["ballots"] == 7 == stored(ballot["id"])[1]
    results = api.get(ballot, "results").json
    assert results["items"][0]["counts"] == {"satisfied": 3, "basic": 2, "unsatisfied": 2, "blank": 0}
    assert results["items"][1]["counts"]["blank"] == 7


def test_repeat_from_the_same_phone(hall, api, stored):
    h = hall(3)
    ballot = api.open(api.create(h.meeting))
    item = str(ballot["items"][0]["id"])
    first = api.vote(ballot, h.phones[0], {item: "yes"}, **{"Idempotency-Key": "k1"})
    retry = api.vote(ballot, h.phones[0], {item: "yes"}, **{"Idempotency-Key": "k1"})
    assert first.status_code == retry.status_code == 200
    assert retry.json["receipt"] == first.json["receipt"] and retry.json["repeated"] is True
    changed = api.vote(ballot, h.phones[0], {item: "no"})
    assert changed.status_code == 409 and changed.json["error"]["code"] == "already_voted"
    assert stored(ballot["id"]) == (1, 1)
    api.close(ballot)
    assert api.get(ballot, "results").json["items"][0]["counts"]["yes"] == 1


def test_a_second_phone_of_the_same_deputy_cannot_vote_again(hall, api, stored, second_phone):
    h = hall(3)
    ballot = api.open(api.create(h.meeting))
    item = str(ballot["items"][0]["id"])
    assert api.vote(ballot, h.phones[0], {item: "yes"}).status_code == 200
    again = api.vote(ballot, second_phone(h.deputies[0]), {item: "yes"})
    assert again.status_code == 409 and again.json["error"]["code"] == "already_voted"
    assert stored(ballot["id"]) == (1, 1)


def test_last_submission_counts_replaces_the_phones_paper(hall, api, stored):
    h = hall(3)
    ballot = api.open(api.create(h.meeting, last_submission_counts=True))
    item = str(ballot["items"][0]["id"])
    first = api.vote(ballot, h.phones[0], {item: "yes"})
    second = api.vote(ballot, h.phones[0], {item: "no"})
    assert second.status_code == 200 and second.json["replaced"] is True
    assert second.json["receipt"] == first.json["receipt"]
    assert stored(ballot["id"]) == (1, 1)
    api.close(ballot)
    assert api.vote(ballot, h.phones[0], {item: "abstain"}).json["error"]["code"] == "ballot_closed"
    counts = api.get(ballot, "results").json["items"][0]["counts"]
    assert (counts["yes"], counts["no"]) == (0, 1)


def test_tie_at_the_boundary_and_revote(hall, api, client, org):
    h = hall(6)
    ballot = api.open(
        api.create(
            h.meeting,
            form="choose",
            places=2,
            items=["甲", "乙", "丙", "丁"],
            rule={"numerator": 1, "denominator": 3, "strict": True, "base": "cast"},
        )
    )
    a, b, c, d = (i["id"] for i in ballot["items"])
    for phone, paper in zip(h.phones, [[a, b], [a, c], [a, b], [a, c], [b, c], [a, c, d]], strict=True):
        assert api.vote(ballot, phone, paper).status_code == 200
    assert api.post(ballot, "revote", json={}).status_code == 409  # not closed yet
    api.close(ballot)
    results = api.get(ballot, "results").json
    # 5 valid papers (one ticks 3 of 2: void); more than a third of them = 2 votes; a has 4, b and c 3 each.
    assert (results["valid"], results["void"], results["required"]) == (5, 1, 2)
    assert results["tied_item_ids"] == [b, c]
    assert [(i["passed"], i["tied"]) for i in results["items"]] == [
        (True, False),
        (False, True),
        (False, True),
        (False, False),
    ]
    bad = api.post(ballot, "revote", json={"item_ids": [b, d]})
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_revote_items"
    revote = api.post(ballot, "revote", json={})
    assert revote.status_code == 201, revote.json
    assert revote.json["state"] == "draft" and revote.json["revote_of_id"] == ballot["id"]
    assert [i["title"] for i in revote.json["items"]] == ["乙", "丙"] and revote.json["places"] == 1
    assert revote.json["rule"] == ballot["rule"]


def test_organizer_actions_are_audited_without_choices(hall, api):
    h = hall(3)
    ballot = api.open(api.create(h.meeting))
    item = str(ballot["items"][0]["id"])
    receipt = api.vote(ballot, h.phones[0], {item: "no"}).json["receipt"]
    api.close(ballot)
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.object_type == "ballot").order_by(AuditEntry.seq)
    ).all()
    assert [e.action for e in entries] == ["ballot.create", "ballot.open", "ballot.close"]
    close = json.loads(entries[-1].details)
    assert (close["voters"], close["ballots"], close["valid"], close["void"]) == (1, 1, 1, 0)
    everything = " ".join(e.details for e in db.session.scalars(select(AuditEntry)))
    assert receipt not in everything and '"no"' not in everything


def test_deputy_cannot_run_the_ballot(hall, api, client):
    h = hall(3)
    ballot = api.create(h.meeting)
    for method, path in (
        ("post", f"/api/v1/ballots/{ballot['id']}/open"),
        ("get", f"/api/v1/ballots/{ballot['id']}"),
        ("post", f"/api/v1/meetings/{h.meeting.id}/ballots"),
    ):
        response = getattr(client, method)(path, headers=h.phones[0], json={})
        assert response.status_code == 403 and response.json["error"]["code"] == "organizer_only"


def test_cast_ballot_rows_match_the_papers(hall, api):
    h = hall(3)
    ballot = api.open(api.create(h.meeting, form="choose", places=2))
    ids = [i["id"] for i in ballot["items"]]
    api.vote(ballot, h.phones[0], [ids[2], ids[0]])
    row = db.session.scalars(select(CastBallot)).one()
    assert json.loads(row.choices) == sorted([ids[2], ids[0]]) and row.valid and row.deputy_id is None


def test_update_with_null_settings_is_refused_not_a_server_error(hall, api, client, org):
    h = hall(3)
    ballot = api.create(h.meeting)
    response = client.patch(f"/api/v1/ballots/{ballot['id']}", headers=org, json={"secret": None})
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_setting"
    assert api.get(ballot).json["secret"] is True


def test_a_failure_after_the_participation_row_leaves_nothing_half_written(hall, api, stored, monkeypatch):
    from voting.ballots import operations

    h = hall(3)
    ballot = api.open(api.create(h.meeting))

    def crash(_nbytes):
        raise RuntimeError("the process died between the two rows")

    monkeypatch.setattr(operations.secrets, "token_hex", crash)
    with pytest.raises(RuntimeError):
        api.vote(ballot, h.phones[0], {})
    assert stored(ballot["id"]) == (0, 0)
    monkeypatch.undo()
    retry = api.vote(ballot, h.phones[0], {})
    assert retry.status_code == 200 and retry.json["repeated"] is False
    assert stored(ballot["id"]) == (1, 1)
