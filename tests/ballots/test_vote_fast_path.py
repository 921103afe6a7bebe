"""The phone's vote as the API takes it: one INSERT that authenticates the phone, per-process ballot rules.

``castBallot`` reads neither the device nor the ballot before its INSERT (voting.ballots.operations,
``cast_ballot_by_token``): these tests pin down what that must not change.
"""

import threading
import time
from datetime import timedelta

from sqlalchemy import delete, insert, text, update

from voting.ballots import operations
from voting.ballots.models import Ballot, BallotItem
from voting.deputies.models import Deputy, DeputyDevice
from voting.extensions import db
from voting.timeutil import utcnow


def test_cached_rules_of_a_ballot_id_are_never_used_for_another_ballot(hall, api, stored):
    # Each test's database starts its ballot ids at 1, so the process's cache of open ballots
    # meets "the same ballot id, another ballot" here as it would after a restored backup.
    h = hall(4)
    ballot = api.open(api.create(h.meeting, form="choose", places=2, items=["甲", "乙", "丙"]))
    api.create(h.meeting, title="另一表决")  # so that new item ids (SQLite: max + 1) differ from the old ones
    old = [i["id"] for i in ballot["items"]]
    assert api.vote(ballot, h.phones[0], old[:2]).status_code == 200
    assert ballot["id"] in operations._OPEN_RULES

    # Now the row with this id is another ballot: other items, one place, opened at another time.
    db.session.execute(delete(BallotItem).where(BallotItem.ballot_id == ballot["id"]))
    new = [
        db.session.execute(
            insert(BallotItem).values(ballot_id=ballot["id"], position=n, title=f"新{n}").returning(BallotItem.id)
        ).scalar_one()
        for n in (1, 2, 3, 4)
    ]
    db.session.execute(
        update(Ballot).where(Ballot.id == ballot["id"]).values(places=1, opened_at=utcnow() + timedelta(seconds=1))
    )
    db.session.commit()

    # A paper valid only under the new rules is accepted, and judged by them (two ticks of one place: void).
    response = api.vote(ballot, h.phones[1], new[2:])
    assert response.status_code == 200, response.json
    assert response.json["valid"] is False
    assert api.vote(ballot, h.phones[2], new[3:]).json["valid"] is True
    # A paper of the old items is refused, not stored.
    refused = api.vote(ballot, h.phones[3], old[:1])
    assert refused.status_code == 400 and refused.json["error"]["code"] == "invalid_choices"
    assert stored(ballot["id"]) == (3, 3)


def test_a_vote_on_a_ballot_another_process_opened_later_uses_its_rules(hall, api, client, org, stored):
    h = hall(3)
    draft = api.create(h.meeting, form="choose", places=1, items=["甲", "乙"])
    ids = [i["id"] for i in draft["items"]]
    early = api.vote(draft, h.phones[0], ids[:1])
    assert early.status_code == 409 and early.json["error"]["code"] == "ballot_not_open"
    assert draft["id"] not in operations._OPEN_RULES, "a draft's rules may still change: never cached"
    changed = client.patch(f"/api/v1/ballots/{draft['id']}", headers=org, json={"places": 2})
    assert changed.status_code == 200, changed.json
    api.open(draft)
    response = api.vote(draft, h.phones[0], ids)
    assert response.status_code == 200 and response.json["valid"] is True
    assert stored(draft["id"]) == (1, 1)


def test_revoked_phone_and_inactive_deputy_are_refused_by_the_insert_itself(hall, api, stored):
    h = hall(3)
    ballot = api.open(api.create(h.meeting))
    item = str(ballot["items"][0]["id"])
    assert api.vote(ballot, h.phones[0], {item: "yes"}).status_code == 200  # rules now cached
    db.session.execute(
        update(DeputyDevice).where(DeputyDevice.deputy_id == h.deputies[1].id).values(revoked_at=utcnow())
    )
    db.session.execute(update(Deputy).where(Deputy.id == h.deputies[2].id).values(active=False))
    db.session.commit()
    for phone in h.phones[1:]:
        response = api.vote(ballot, phone, {item: "yes"})
        assert response.status_code == 401, response.json
        assert response.json["error"]["code"] == "token_invalid"
    unknown = api.vote(ballot, {"Authorization": "Bearer vtd_unknown"}, {item: "yes"})
    assert unknown.status_code == 401 and unknown.json["error"]["code"] == "token_invalid"
    missing = api.vote({"id": 999999}, {"Authorization": "Bearer vtd_unknown"}, {item: "yes"})
    assert missing.status_code == 401, "an unknown phone hears 401 before anything about the ballot"
    assert api.vote({"id": 999999}, h.phones[0], {item: "yes"}).status_code == 404
    assert stored(ballot["id"]) == (1, 1)


def test_a_vote_arriving_while_the_ballot_closes_waits_and_is_refused(app, hall, api, stored):
    """The close's transaction holds the ballot row (PostgreSQL) or the write lock (SQLite): the vote waits for
    it to commit, then sees the ballot closed. Without the lock it would be counted after the close."""
    h = hall(3)
    ballot = api.open(api.create(h.meeting))
    item = str(ballot["items"][0]["id"])
    assert api.vote(ballot, h.phones[0], {item: "yes"}).status_code == 200  # rules now cached
    answers = []

    def vote():
        client = app.test_client()
        answers.append(
            client.post(f"/api/v1/ballots/{ballot['id']}/votes", json={"choices": {item: "no"}}, headers=h.phones[1])
        )

    closing = db.engine.connect()
    transaction = closing.begin()
    closing.execute(text("UPDATE ballot SET state = 'closed' WHERE id = :b"), {"b": ballot["id"]})
    voter = threading.Thread(target=vote)
    voter.start()
    time.sleep(0.5)
    assert voter.is_alive(), "the vote did not wait for the closing transaction"
    transaction.commit()
    closing.close()
    voter.join(timeout=30)
    assert len(answers) == 1
    assert answers[0].status_code == 409 and answers[0].json["error"]["code"] == "ballot_closed"
    assert stored(ballot["id"]) == (1, 1)
