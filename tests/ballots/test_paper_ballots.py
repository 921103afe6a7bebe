"""Paper ballots (纸质票): hand-ins recorded while open, double entry after close, mismatches settled by a third
person, phone and paper exclusive in both orders (also under a race), void papers, counts that reconcile, and
secrecy: reading every table cannot pair a deputy with what their paper says."""

import json
import re

import pytest
from sqlalchemy import DateTime, func, inspect, select, text

from voting.ballots.models import BallotParticipation, CastBallot
from voting.ballots.paper_models import PaperBallot, PaperEntry
from voting.extensions import db

RECEIPT = re.compile(r"^[2-9A-HJKMNP-Z]{5}-[2-9A-HJKMNP-Z]{5}$")
PAPER_TABLES = ("paper_ballot", "paper_entry")


@pytest.fixture
def tellers(org, make_user, api_token):
    """Three members of staff with their own API tokens: two enter each paper, a third settles mismatches."""
    return [org, api_token(make_user("organizer", "teller2")), api_token(make_user("admin", "teller3"))]


@pytest.fixture
def paper(client, org):
    """Shortcuts for the paper-ballot operations."""

    class Paper:
        def hand_in(self, ballot, deputy, headers=org):
            return client.post(
                f"/api/v1/ballots/{ballot['id']}/paper-voters", json={"deputy_id": deputy.id}, headers=headers
            )

        def enter(self, ballot, number, choices, headers, deputy_id=None):
            body = {"number": number, "choices": choices}
            if deputy_id is not None:
                body["deputy_id"] = deputy_id
            return client.post(f"/api/v1/ballots/{ballot['id']}/papers", json=body, headers=headers)

        def count(self, ballot, headers=org):
            response = client.get(f"/api/v1/ballots/{ballot['id']}/papers", headers=headers)
            assert response.status_code == 200, response.json
            return response.json

        def resolve(self, ballot, number, entry_id, headers):
            return client.post(
                f"/api/v1/ballots/{ballot['id']}/papers/{number}/resolve", json={"entry_id": entry_id}, headers=headers
            )

        def both(self, ballot, number, choices, tellers, deputy_id=None):
            """Enter a paper twice, by the first two tellers; return the second answer."""
            first = self.enter(ballot, number, choices, tellers[0], deputy_id)
            assert first.status_code == 200 and first.json["paper"]["state"] == "entered", first.json
            second = self.enter(ballot, number, choices, tellers[1], deputy_id)
            assert second.status_code == 200, second.json
            return second.json

    return Paper()


def _items(ballot):
    return [str(item["id"]) for item in ballot["items"]]


def _paper_rows():
    db.session.expire_all()
    return (
        db.session.scalar(select(func.count()).select_from(PaperBallot)),
        db.session.scalar(select(func.count()).select_from(PaperEntry)),
    )


def _methods(ballot_id):
    db.session.expire_all()
    rows = db.session.execute(
        select(BallotParticipation.deputy_id, BallotParticipation.method).where(
            BallotParticipation.ballot_id == ballot_id
        )
    ).all()
    return dict(rows)


# -- double entry ------------------------------------------------------------------------------


def test_two_agreeing_entries_count_the_paper(hall, api, paper, tellers, stored, client):
    h = hall(6)
    ballot = api.open(api.create(h.meeting))
    a, b, c = _items(ballot)
    for phone in h.phones[:3]:
        assert api.vote(ballot, phone, {a: "yes"}).status_code == 200
    for deputy in h.deputies[3:5]:
        response = paper.hand_in(ballot, deputy)
        assert response.status_code == 201, response.json
        assert response.json["deputy_id"] == deputy.id
    assert api.get(ballot).json["voters"] == 5, "a paper hand-in counts as having voted"
    api.close(ballot)

    first = paper.enter(ballot, 1, {a: "yes", b: "no"}, tellers[0])
    assert first.status_code == 200 and first.json["paper"]["state"] == "entered"
    listed = paper.count(ballot)["papers"][0]
    assert listed["entries"][0]["choices"] is None, "the second person enters blind"
    logged = client.get("/api/v1/audit?action=ballot.paper_entry", headers=tellers[1]).json["items"]
    assert logged[0]["details"] == {"number": 1, "entry_id": first.json["entry_id"], "outcome": "entered"}
    assert stored(ballot["id"]) == (5, 3)

    second = paper.enter(ballot, 1, {b: "no", a: "yes"}, tellers[1]).json["paper"]
    assert second["state"] == "counted" and RECEIPT.match(second["receipt"]) and second["valid"] is True
    assert stored(ballot["id"]) == (5, 4)
    counted = paper.count(ballot)
    assert (counted["paper_voters"], counted["counted"], counted["pending"]) == (2, 1, 1)
    assert counted["papers"][0]["entries"][0]["choices"] == {a: "yes", b: "no"}

    results = api.get(ballot, "results").json
    assert results["final"] is False, "one paper handed in is not counted yet"
    assert results["items"][0]["counts"]["yes"] == 4 and results["items"][1]["counts"]["no"] == 1

    assert paper.both(ballot, 2, {c: "abstain"}, tellers)["paper"]["state"] == "counted"
    results = api.get(ballot, "results").json
    assert results["final"] is True and results["ballots"] == results["voters"] == 5
    assert results["items"][2]["counts"]["abstain"] == 1
    published = api.get(ballot, "receipts").json
    assert second["receipt"] in published["receipts"] and len(published["receipts"]) == 5


def test_the_same_person_cannot_make_both_entries(hall, api, paper, tellers, stored):
    h = hall(3)
    ballot = api.open(api.create(h.meeting))
    paper.hand_in(ballot, h.deputies[0])
    api.close(ballot)
    a = _items(ballot)[0]
    assert paper.enter(ballot, 1, {a: "yes"}, tellers[0]).status_code == 200
    again = paper.enter(ballot, 1, {a: "yes"}, tellers[0])
    assert again.status_code == 409 and again.json["error"]["code"] == "same_person"
    assert _paper_rows() == (1, 1)
    assert stored(ballot["id"]) == (1, 0)


def test_differing_entries_count_nothing_until_a_third_person_picks_one(hall, api, paper, tellers, stored, client):
    h = hall(4)
    ballot = api.open(api.create(h.meeting))
    a, b, c = _items(ballot)
    paper.hand_in(ballot, h.deputies[0])
    api.close(ballot)
    assert paper.enter(ballot, 7, {a: "yes", b: "no", c: "yes"}, tellers[0]).status_code == 200
    second = paper.enter(ballot, 7, {a: "yes", b: "abstain"}, tellers[1])
    assert second.status_code == 200
    shown = second.json["paper"]
    assert shown["state"] == "mismatch" and shown["receipt"] is None
    assert shown["differing_item_ids"] == [int(b), int(c)]
    assert [e["choices"] for e in shown["entries"]] == [{a: "yes", b: "no", c: "yes"}, {a: "yes", b: "abstain"}]
    assert stored(ballot["id"]) == (1, 0), "nothing counted"
    results = api.get(ballot, "results").json
    assert results["ballots"] == 0 and results["final"] is False
    assert paper.count(ballot)["mismatches"] == 1

    by_an_entrant = paper.resolve(ballot, 7, shown["entries"][0]["id"], tellers[0])
    assert by_an_entrant.status_code == 403 and by_an_entrant.json["error"]["code"] == "same_person"
    settled = paper.resolve(ballot, 7, shown["entries"][1]["id"], tellers[2])
    assert settled.status_code == 200, settled.json
    assert settled.json["state"] == "counted" and settled.json["resolved_by"] == "teller3"
    assert stored(ballot["id"]) == (1, 1)
    counts = [item["counts"] for item in api.get(ballot, "results").json["items"]]
    assert (counts[1]["abstain"], counts[1]["no"], counts[2]["blank"]) == (1, 0, 1)
    again = paper.resolve(ballot, 7, shown["entries"][0]["id"], tellers[2])
    assert again.status_code == 409 and again.json["error"]["code"] == "no_mismatch"
    log = client.get("/api/v1/audit?action=ballot.paper_resolve", headers=tellers[0]).json
    assert log["total"] == 1 and log["items"][0]["actor"] == "user:teller3"


def test_a_third_entry_that_matches_one_counts_the_paper(hall, api, paper, tellers, stored):
    h = hall(3)
    ballot = api.open(api.create(h.meeting, form="choose", places=2))
    ids = [item["id"] for item in ballot["items"]]
    paper.hand_in(ballot, h.deputies[0])
    api.close(ballot)
    paper.enter(ballot, 1, ids[:2], tellers[0])
    mismatch = paper.enter(ballot, 1, ids[1:], tellers[1]).json["paper"]
    assert mismatch["state"] == "mismatch" and mismatch["differing_item_ids"] == [ids[0], ids[2]]
    third = paper.enter(ballot, 1, [ids[1], ids[0]], tellers[2]).json["paper"]
    assert third["state"] == "counted" and third["resolved_by"] is None
    votes = [item["counts"]["votes"] for item in api.get(ballot, "results").json["items"]]
    assert votes == [1, 1, 0]
    assert stored(ballot["id"]) == (1, 1)


def test_a_paper_counts_once_and_never_beyond_the_papers_handed_in(hall, api, paper, tellers, stored):
    h = hall(3)
    ballot = api.open(api.create(h.meeting))
    a = _items(ballot)[0]
    paper.hand_in(ballot, h.deputies[0])
    api.close(ballot)
    paper.both(ballot, 1, {a: "yes"}, tellers)
    again = paper.enter(ballot, 1, {a: "yes"}, tellers[2])
    assert again.status_code == 409 and again.json["error"]["code"] == "paper_counted"
    extra = paper.enter(ballot, 2, {a: "no"}, tellers[0])
    assert extra.status_code == 409 and extra.json["error"]["code"] == "no_papers_left"
    assert stored(ballot["id"]) == (1, 1) and _paper_rows() == (1, 2)


def test_no_paper_can_be_entered_when_nobody_handed_one_in(hall, api, paper, tellers):
    h = hall(3)
    ballot = api.open(api.create(h.meeting))
    api.close(ballot)
    response = paper.enter(ballot, 1, {}, tellers[0])
    assert response.status_code == 409 and response.json["error"]["code"] == "no_papers_left"
    assert _paper_rows() == (0, 0)


def test_a_void_paper_is_counted_as_invalid(hall, api, paper, tellers):
    h = hall(4)
    ballot = api.open(api.create(h.meeting, form="choose", places=2, items=["甲", "乙", "丙", "丁"]))
    ids = [item["id"] for item in ballot["items"]]
    assert api.vote(ballot, h.phones[0], ids[:2]).status_code == 200
    paper.hand_in(ballot, h.deputies[1])
    api.close(ballot)
    counted = paper.both(ballot, 1, ids[:3], tellers)["paper"]
    assert counted["state"] == "counted" and counted["valid"] is False
    results = api.get(ballot, "results").json
    assert (results["ballots"], results["valid"], results["void"]) == (2, 1, 1)
    assert [item["counts"]["votes"] for item in results["items"]] == [1, 1, 0, 0]
    figures = api.get(ballot, "receipts").json
    assert figures["voters"] == figures["ballots"] == len(figures["receipts"]) == 2


@pytest.mark.parametrize(
    ("choices", "number"),
    [({"999999": "yes"}, 1), ({"ITEM": "maybe"}, 1), ([1, 1], 1), ({}, 0), ({}, 100000)],
)
def test_a_malformed_paper_is_refused_and_nothing_stored(hall, api, paper, tellers, choices, number):
    h = hall(3)
    ballot = api.open(api.create(h.meeting))
    paper.hand_in(ballot, h.deputies[0])
    api.close(ballot)
    if choices == {"ITEM": "maybe"}:
        choices = {_items(ballot)[0]: "maybe"}
    response = paper.enter(ballot, number, choices, tellers[0])
    assert response.status_code == 400, response.json
    assert _paper_rows() == (0, 0)


# -- when: hand-ins while open, papers after close -----------------------------------------------


def test_hand_ins_only_while_open_and_papers_only_after_close(hall, api, paper, tellers, stored):
    h = hall(5, present=4)
    ballot = api.create(h.meeting)
    before = paper.hand_in(ballot, h.deputies[0])
    assert before.status_code == 409 and before.json["error"]["code"] == "ballot_not_open"
    api.open(ballot)
    a = _items(ballot)[0]
    not_signed_in = paper.hand_in(ballot, h.deputies[4])
    assert not_signed_in.status_code == 409 and not_signed_in.json["error"]["code"] == "not_signed_in"
    assert paper.hand_in(ballot, h.deputies[0]).status_code == 201
    twice = paper.hand_in(ballot, h.deputies[0])
    assert twice.status_code == 409 and twice.json["error"]["code"] == "paper_already_recorded"
    early = paper.enter(ballot, 1, {a: "yes"}, tellers[0])
    assert early.status_code == 409 and early.json["error"]["code"] == "ballot_not_closed"
    api.close(ballot)
    late = paper.hand_in(ballot, h.deputies[1])
    assert late.status_code == 409 and late.json["error"]["code"] == "ballot_closed"
    assert stored(ballot["id"]) == (1, 0) and _paper_rows() == (0, 0)


def test_a_stranger_to_the_meeting_cannot_hand_in(hall, api, paper, make_deputies):
    h = hall(3)
    ballot = api.open(api.create(h.meeting))
    response = paper.hand_in(ballot, type("D", (), {"id": 999999})())
    assert response.status_code == 404 and response.json["error"]["code"] == "not_a_member"


def test_a_hand_in_for_the_wrong_deputy_is_withdrawn_while_open(hall, api, paper, client, org):
    h = hall(3)
    ballot = api.open(api.create(h.meeting))
    a = _items(ballot)[0]
    paper.hand_in(ballot, h.deputies[0])
    url = f"/api/v1/ballots/{ballot['id']}/paper-voters/{h.deputies[0].id}/withdraw"
    assert client.post(url, json={"reason": ""}, headers=org).status_code == 400
    response = client.post(url, json={"reason": "点错了代表"}, headers=org)
    assert response.status_code == 200 and response.json["total"] == 0
    assert api.vote(ballot, h.phones[0], {a: "yes"}).status_code == 200, "the deputy can now vote by phone"
    api.close(ballot)
    paper.hand_in(ballot, h.deputies[1])  # refused: closed
    closed = client.post(
        f"/api/v1/ballots/{ballot['id']}/paper-voters/{h.deputies[0].id}/withdraw", json={"reason": "x"}, headers=org
    )
    assert closed.status_code == 409
    log = client.get("/api/v1/audit?action=ballot.paper_voter_withdraw", headers=org).json
    assert log["total"] == 1 and log["items"][0]["details"]["reason"] == "点错了代表"


def test_a_mistyped_entry_is_discarded_but_a_counted_paper_keeps_its_entries(hall, api, paper, tellers, client):
    h = hall(3)
    ballot = api.open(api.create(h.meeting))
    a = _items(ballot)[0]
    paper.hand_in(ballot, h.deputies[0])
    api.close(ballot)
    typo = paper.enter(ballot, 71, {a: "yes"}, tellers[0]).json
    response = client.delete(f"/api/v1/ballots/{ballot['id']}/paper-entries/{typo['entry_id']}", headers=tellers[0])
    assert response.status_code == 200 and response.json["number"] == 71
    assert _paper_rows() == (0, 0)
    counted = paper.both(ballot, 17, {a: "yes"}, tellers)
    refused = client.delete(f"/api/v1/ballots/{ballot['id']}/paper-entries/{counted['entry_id']}", headers=tellers[2])
    assert refused.status_code == 409 and refused.json["error"]["code"] == "paper_counted"
    assert _paper_rows() == (1, 2)


# -- phone and paper: never both ---------------------------------------------------------------


def test_a_deputy_who_voted_by_phone_cannot_hand_in_a_paper(hall, api, paper, stored):
    h = hall(3)
    ballot = api.open(api.create(h.meeting))
    assert api.vote(ballot, h.phones[0], {_items(ballot)[0]: "yes"}).status_code == 200
    response = paper.hand_in(ballot, h.deputies[0])
    assert response.status_code == 409 and response.json["error"]["code"] == "voted_by_phone"
    assert _methods(ballot["id"]) == {h.deputies[0].id: "phone"}
    assert stored(ballot["id"]) == (1, 1)


@pytest.mark.parametrize("last_submission_counts", [False, True])
def test_a_deputy_who_handed_in_a_paper_cannot_vote_by_phone(hall, api, paper, stored, last_submission_counts):
    h = hall(3)
    ballot = api.open(api.create(h.meeting, last_submission_counts=last_submission_counts))
    assert paper.hand_in(ballot, h.deputies[0]).status_code == 201
    response = api.vote(ballot, h.phones[0], {_items(ballot)[0]: "yes"})
    assert response.status_code == 409 and response.json["error"]["code"] == "voted_on_paper"
    assert "纸质票" in response.json["error"]["message"]
    assert _methods(ballot["id"]) == {h.deputies[0].id: "paper"}
    assert stored(ballot["id"]) == (1, 0)


def test_phone_and_paper_racing_for_one_deputy_count_once(app, hall, api, stored, org, race):
    """Each deputy's phone vote and a teller's hand-in for them start at the same instant: one wins."""
    h = hall(8)
    ballot = api.open(api.create(h.meeting))
    item = _items(ballot)[0]

    def vote(phone):
        return lambda c: c.post(f"/api/v1/ballots/{ballot['id']}/votes", json={"choices": {item: "yes"}}, headers=phone)

    def hand_in(deputy_id):
        return lambda c: c.post(
            f"/api/v1/ballots/{ballot['id']}/paper-voters", json={"deputy_id": deputy_id}, headers=org
        )

    requests = []
    for n, (deputy, phone) in enumerate(zip(h.deputies, h.phones, strict=True)):
        # Alternate which of the two is sent first, so both orders are raced.
        requests += [vote(phone), hand_in(deputy.id)] if n % 2 else [hand_in(deputy.id), vote(phone)]
    responses = race(app, requests)
    methods = _methods(ballot["id"])
    assert sorted(methods) == sorted(d.id for d in h.deputies)
    phone_wins = 0
    for n, deputy in enumerate(h.deputies):
        pair = responses[2 * n : 2 * n + 2]
        voted, handed = (pair[0], pair[1]) if n % 2 else (pair[1], pair[0])
        if methods[deputy.id] == "phone":
            phone_wins += 1
            assert voted.status_code == 200, voted.json
            assert handed.status_code == 409 and handed.json["error"]["code"] == "voted_by_phone"
        else:
            assert handed.status_code == 201, handed.json
            assert voted.status_code == 409 and voted.json["error"]["code"] == "voted_on_paper"
    assert stored(ballot["id"]) == (8, phone_wins)
    api.close(ballot)
    figures = api.get(ballot, "receipts").json
    assert figures["voters"] == 8 and figures["ballots"] == phone_wins


def test_two_tellers_entering_one_paper_at_once_count_it_once(app, hall, api, paper, tellers, stored, race):
    h = hall(3)
    ballot = api.open(api.create(h.meeting))
    paper.hand_in(ballot, h.deputies[0])
    paper.hand_in(ballot, h.deputies[1])
    api.close(ballot)
    a = _items(ballot)[0]

    def enter(headers, number, choice="yes"):
        return lambda c: c.post(
            f"/api/v1/ballots/{ballot['id']}/papers", json={"number": number, "choices": {a: choice}}, headers=headers
        )

    responses = race(app, [enter(tellers[0], 1), enter(tellers[1], 1)])
    assert sorted(r.json["paper"]["state"] for r in responses) == ["counted", "entered"]
    assert stored(ballot["id"]) == (2, 1)
    # The last paper: two different papers completed at once cannot both count beyond the two handed in.
    paper.enter(ballot, 2, {a: "no"}, tellers[0])
    paper.enter(ballot, 3, {a: "no"}, tellers[0])
    responses = race(app, [enter(tellers[1], 2, "no"), enter(tellers[1], 3, "no")])
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409], [r.json for r in responses]
    refused = next(r for r in responses if r.status_code == 409)
    assert refused.json["error"]["code"] == "no_papers_left"
    assert stored(ballot["id"]) == (2, 2)


# -- named ballots ---------------------------------------------------------------------------


def test_a_named_ballots_paper_names_its_deputy(hall, api, paper, tellers):
    h = hall(4)
    ballot = api.open(api.create(h.meeting, secret=False))
    a = _items(ballot)[0]
    paper.hand_in(ballot, h.deputies[0])
    paper.hand_in(ballot, h.deputies[1])
    assert api.vote(ballot, h.phones[2], {a: "no"}).status_code == 200
    api.close(ballot)
    nameless = paper.enter(ballot, 1, {a: "yes"}, tellers[0])
    assert nameless.status_code == 400 and nameless.json["error"]["code"] == "deputy_required"
    phone_voter = paper.enter(ballot, 1, {a: "yes"}, tellers[0], h.deputies[2].id)
    assert phone_voter.status_code == 400 and phone_voter.json["error"]["code"] == "deputy_not_paper_voter"
    paper.enter(ballot, 1, {a: "yes"}, tellers[0], h.deputies[0].id)
    differs = paper.enter(ballot, 1, {a: "yes"}, tellers[1], h.deputies[1].id).json["paper"]
    assert differs["state"] == "mismatch" and differs["deputy_differs"] and differs["differing_item_ids"] == []
    settled = paper.resolve(ballot, 1, differs["entries"][0]["id"], tellers[2]).json
    assert settled["deputy_id"] == h.deputies[0].id
    assert paper.enter(ballot, 2, {a: "no"}, tellers[0], h.deputies[0].id).status_code == 200
    second_paper_of_one_deputy = paper.enter(ballot, 2, {a: "no"}, tellers[1], h.deputies[0].id)
    assert second_paper_of_one_deputy.status_code == 409
    assert second_paper_of_one_deputy.json["error"]["code"] == "deputy_paper_counted"
    assert paper.both(ballot, 3, {a: "no"}, tellers, h.deputies[1].id)["paper"]["state"] == "counted"
    db.session.expire_all()
    named = dict(db.session.execute(select(CastBallot.deputy_id, CastBallot.choices)).all())
    assert named == {
        h.deputies[0].id: json.dumps({a: "yes"}, separators=(",", ":")),
        h.deputies[1].id: json.dumps({a: "no"}, separators=(",", ":")),
        h.deputies[2].id: json.dumps({a: "no"}, separators=(",", ":")),
    }


def test_a_secret_ballots_paper_names_nobody(hall, api, paper, tellers):
    h = hall(3)
    ballot = api.open(api.create(h.meeting))
    paper.hand_in(ballot, h.deputies[0])
    api.close(ballot)
    response = paper.enter(ballot, 1, {}, tellers[0], h.deputies[0].id)
    assert response.status_code == 400 and response.json["error"]["code"] == "deputy_on_secret_paper"
    assert _paper_rows() == (0, 0)


# -- secrecy -----------------------------------------------------------------------------------

# The order deputies vote in (phone or paper), a shuffle no key order reproduces; P marks a paper hand-in.
VOTING_ORDER = [
    (7, "P"),
    (2, "phone"),
    (9, "P"),
    (0, "P"),
    (5, "phone"),
    (3, "P"),
    (8, "phone"),
    (1, "P"),
    (6, "phone"),
    (4, "P"),
]


@pytest.fixture
def voters(hall, make_deputies):
    """Ten voters whose ids start at 10, so that no id looks like a small number kept elsewhere."""
    for filler in make_deputies(9, prefix="F"):
        filler.active = False
    db.session.commit()
    h = hall(10)
    assert min(d.id for d in h.deputies) >= 10
    return h


def _is_postgres():
    return db.engine.dialect.name == "postgresql"


def _rows(table):
    with db.engine.connect() as conn:
        # Table names come from the database's own catalog, not from input.
        return [dict(row) for row in conn.execute(text(f"SELECT * FROM {table}")).mappings()]  # noqa: S608


def _sequence(sql):
    with db.engine.connect() as conn:
        return [row[0] for row in conn.execute(text(sql))]


def test_paper_tables_keep_no_deputy_no_time_and_no_link_to_who_voted(app):
    inspector = inspect(db.engine)
    for table in PAPER_TABLES:
        for column in inspector.get_columns(table):
            assert not isinstance(column["type"], DateTime), f"{table}.{column['name']} is a timestamp"
            assert not column["name"].endswith("_at") and "time" not in column["name"], column["name"]
        referred = {fk["referred_table"] for fk in inspector.get_foreign_keys(table)}
        assert "ballot_participation" not in referred and "cast_ballot" not in referred, table
    assert "paper_ballot" not in {fk["referred_table"] for fk in inspector.get_foreign_keys("cast_ballot")}


def test_secret_paper_ballots_cannot_be_linked_to_their_deputies(voters, api, paper, tellers, client, org):
    h = voters
    ballot = api.open(api.create(h.meeting, items=["项目甲", "项目乙"]))
    a, b = _items(ballot)
    handed_in = []
    for index, how in VOTING_ORDER:
        if how == "P":
            assert paper.hand_in(ballot, h.deputies[index]).status_code == 201
            handed_in.append(h.deputies[index].id)
        else:
            assert api.vote(ballot, h.phones[index], {a: "yes", b: "yes"}).status_code == 200
    api.close(ballot)
    # Six papers from the box, each different, so that any link would show which deputy wrote what.
    contents = [{a: "yes"}, {a: "no"}, {a: "abstain"}, {b: "yes"}, {b: "no"}, {a: "no", b: "abstain"}]
    receipts = []
    for number, choices in enumerate(contents, start=1):
        receipts.append(paper.both(ballot, number, choices, tellers)["paper"]["receipt"])
    assert paper.count(ballot)["pending"] == 0

    everything = {name: _rows(name) for name in inspect(db.engine).get_table_names() if name != "alembic_version"}
    # The paper tables and the papers' cast ballots name nobody.
    for table in PAPER_TABLES:
        assert all(row["deputy_id"] is None for row in everything[table]), table
    assert all(row["deputy_id"] is None for row in everything["cast_ballot"])
    paper_methods = {row["deputy_id"] for row in everything["ballot_participation"] if row["method"] == "paper"}
    assert paper_methods == set(handed_in)
    # Nowhere does a paper voter's id sit in the same row as a paper's receipt or content.
    papers = {json.dumps(c, separators=(",", ":"), sort_keys=True) for c in contents}
    for table, rows in everything.items():
        for row in rows:
            dump = json.dumps(row, default=str, ensure_ascii=False)
            holds_paper = any(r in dump for r in receipts) or any(
                isinstance(v, str) and v in papers for v in row.values()
            )
            if holds_paper:
                assert not ({row.get("deputy_id"), row.get("object_id")} & set(handed_in)), (table, row)
    # The audit log: who handed in a paper carries no content; entries carry no deputy, and all come after close.
    log = sorted(everything["audit_entry"], key=lambda row: row["seq"])
    closed_at = next(row["seq"] for row in log if row["action"] == "ballot.close")
    for row in log:
        details = json.loads(row["details"])
        if row["action"] == "ballot.paper_voter":
            assert row["seq"] < closed_at and not ({"choices", "number", "receipt"} & set(details))
        if row["action"] == "ballot.paper_entry":
            assert row["seq"] > closed_at and details.get("deputy_id") is None
    # Hidden order: hand-ins were rewritten at close (PostgreSQL) or kept in key order (SQLite).
    paper_order = "SELECT deputy_id FROM ballot_participation WHERE method = 'paper'"
    keys = ["deputy_id", "ctid", "xmin::text::bigint"] if _is_postgres() else ["deputy_id"]
    for key in keys:
        assert _sequence(f"{paper_order} ORDER BY {key}") != handed_in, key  # noqa: S608
    if _is_postgres():
        close_xmin = set(_sequence("SELECT xmin::text FROM ballot_participation"))
        assert len(close_xmin) == 1, "every hand-in carries the closing transaction's id"
        paper_xmins = set(_sequence("SELECT xmin::text FROM paper_ballot")) | set(
            _sequence("SELECT xmin::text FROM paper_entry")
        )
        assert not (paper_xmins & close_xmin), "papers were written after close, apart from every hand-in"


# -- counts, roles and the API document ------------------------------------------------------------


def test_counts_reconcile_only_once_every_paper_is_counted(hall, api, paper, tellers):
    from voting.ballots import operations

    h = hall(5)
    ballot = api.open(api.create(h.meeting))
    a = _items(ballot)[0]
    api.vote(ballot, h.phones[0], {a: "yes"})
    for deputy in h.deputies[1:4]:
        paper.hand_in(ballot, deputy)
    api.close(ballot)
    paper.both(ballot, 1, {a: "no"}, tellers)
    paper.enter(ballot, 2, {a: "no"}, tellers[0])
    paper.enter(ballot, 2, {a: "yes"}, tellers[1])
    record = operations.get_ballot(ballot["id"])
    figures = operations.reconcile(record)
    assert (figures.voters, figures.ballots, figures.receipts) == (4, 2, 2)
    assert (figures.paper_voters, figures.paper_ballots, figures.paper_mismatches, figures.papers_pending) == (
        3,
        1,
        1,
        2,
    )
    counted = operations.results(record)
    assert counted.papers_pending == 2 and counted.final is False
    mismatch = paper.count(ballot)["papers"][1]
    paper.resolve(ballot, 2, mismatch["entries"][0]["id"], tellers[2])
    paper.both(ballot, 3, {a: "abstain"}, tellers)
    db.session.expire_all()
    figures = operations.reconcile(record)
    assert figures.voters == figures.ballots == figures.receipts == 4 and figures.papers_pending == 0
    assert operations.results(record).final is True


def test_no_revote_while_papers_are_uncounted(hall, api, paper, tellers):
    h = hall(4)
    rule = {"numerator": 1, "denominator": 100, "strict": False, "base": "expected"}  # one vote is enough
    ballot = api.open(api.create(h.meeting, form="choose", places=1, items=["甲", "乙"], rule=rule))
    ids = [item["id"] for item in ballot["items"]]
    api.vote(ballot, h.phones[0], [ids[0]])
    api.vote(ballot, h.phones[1], [ids[1]])
    paper.hand_in(ballot, h.deputies[2])
    api.close(ballot)
    refused = api.post(ballot, "revote", json={})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "papers_pending"
    paper.both(ballot, 1, [], tellers)
    assert api.post(ballot, "revote", json={}).status_code == 201, "the tie stands once every paper is counted"


@pytest.mark.parametrize("who", ["contact staff", "deputy phone", "no token"])
def test_only_organizers_handle_paper_ballots(hall, api, paper, client, make_user, api_token, who, stored):
    h = hall(3)
    ballot = api.open(api.create(h.meeting))
    headers = {
        "contact staff": api_token(make_user("contact_staff", "point")),
        "deputy phone": h.phones[1],
        "no token": {},
    }[who]
    status = 401 if who == "no token" else 403
    assert paper.hand_in(ballot, h.deputies[0], headers=headers).status_code == status
    assert client.get(f"/api/v1/ballots/{ballot['id']}/papers", headers=headers).status_code == status
    assert client.get(f"/api/v1/ballots/{ballot['id']}/paper-voters", headers=headers).status_code == status
    api.close(ballot)
    assert paper.enter(ballot, 1, {}, headers).status_code == status
    assert stored(ballot["id"]) == (0, 0) and _paper_rows() == (0, 0)


def test_paper_operations_answer_as_documented(hall, api, paper, tellers, client):
    from openapi_schema_validator import OAS31Validator

    document = client.get("/api/v1/openapi.json").json
    operations = {item["operationId"]: item for methods in document["paths"].values() for item in methods.values()}

    def check(operation_id, response):
        responses = operations[operation_id]["responses"]
        assert str(response.status_code) in responses, (operation_id, response.status_code, response.json)
        schema = responses[str(response.status_code)]["content"]["application/json"]["schema"]
        validator = OAS31Validator({**schema, "components": document["components"]})
        assert [e.message for e in validator.iter_errors(response.json)] == [], operation_id

    h = hall(4)
    ballot = api.open(api.create(h.meeting))
    a = _items(ballot)[0]
    base = f"/api/v1/ballots/{ballot['id']}"
    check("recordPaperVoter", paper.hand_in(ballot, h.deputies[0]))
    check("recordPaperVoter", paper.hand_in(ballot, h.deputies[1]))
    check("recordPaperVoter", paper.hand_in(ballot, h.deputies[0]))
    check("listPaperVoters", client.get(f"{base}/paper-voters", headers=tellers[0]))
    check(
        "withdrawPaperVoter",
        client.post(f"{base}/paper-voters/{h.deputies[1].id}/withdraw", json={"reason": "点错"}, headers=tellers[0]),
    )
    api.close(ballot)
    check("enterPaperBallot", paper.enter(ballot, 1, {a: "yes"}, tellers[0]))
    check("enterPaperBallot", paper.enter(ballot, 1, {a: "no"}, tellers[1]))
    check("enterPaperBallot", paper.enter(ballot, 1, {a: "no"}, tellers[1]))
    check("enterPaperBallot", paper.enter(ballot, 1, {"x": "no"}, tellers[2]))
    check("listPaperBallots", client.get(f"{base}/papers", headers=tellers[0]))
    entries = paper.count(ballot)["papers"][0]["entries"]
    check("resolvePaperBallot", paper.resolve(ballot, 1, entries[0]["id"], tellers[0]))
    check("resolvePaperBallot", paper.resolve(ballot, 1, entries[0]["id"], tellers[2]))
    check("discardPaperEntry", client.delete(f"{base}/paper-entries/{entries[0]['id']}", headers=tellers[0]))
    check("discardPaperEntry", client.delete(f"{base}/paper-entries/999", headers=tellers[0]))
    check("listPaperBallots", client.get("/api/v1/ballots/999/papers", headers=tellers[0]))
