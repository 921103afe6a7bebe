"""Votes that really race: threads, each request in its own app context, against one database.

On SQLite they share the test's database file, on PostgreSQL the server named by TEST_DATABASE_URL.
"""


import pytest

SUBMISSIONS = 50


def _vote(ballot_id, headers, choices, key=None):
    extra = {"Idempotency-Key": key} if key else {}

    def send(client):
        return client.post(
            f"/api/v1/ballots/{ballot_id}/votes", json={"choices": choices}, headers={**headers, **extra}
        )

    return send


@pytest.mark.parametrize("phones", ["one phone", "two phones"])
def test_fifty_submissions_from_one_deputy_count_once(app, hall, api, stored, second_phone, phones, race):
    h = hall(4)
    ballot = api.open(api.create(h.meeting, form="choose", places=2))
    ids = [i["id"] for i in ballot["items"]]
    senders = [h.phones[0]] * SUBMISSIONS
    if phones == "two phones":
        other = second_phone(h.deputies[0])
        senders = [h.phones[0] if n % 2 else other for n in range(SUBMISSIONS)]
    responses = race(
        app, [_vote(ballot["id"], headers, ids[:2], key=f"retry-{n % 2}") for n, headers in enumerate(senders)]
    )
    assert {r.status_code for r in responses} <= {200, 409}, [r.json for r in responses]
    accepted = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 409]
    assert len({r.json["receipt"] for r in accepted}) == 1
    assert all(r.json["error"]["code"] == "already_voted" for r in refused)
    if phones == "one phone":
        assert len(accepted) == SUBMISSIONS, "retries from the phone that voted all get its receipt"
    else:
        # Exactly the phone that won is answered with the receipt, every time; the other phone is refused.
        winner = [s for s, r in zip(senders, responses, strict=True) if r.status_code == 200]
        assert len(accepted) == SUBMISSIONS // 2 and all(w == winner[0] for w in winner)
    assert sum(not r.json.get("repeated", True) for r in accepted) == 1
    assert stored(ballot["id"]) == (1, 1)
    api.close(ballot)
    assert api.get(ballot, "receipts").json["receipts"] == [accepted[0].json["receipt"]]
    assert api.get(ballot, "results").json["items"][0]["counts"]["votes"] == 1


def test_votes_racing_the_close_are_either_counted_or_refused(app, hall, api, stored, client, org, race):
    h = hall(16)
    ballot = api.open(api.create(h.meeting))
    item = str(ballot["items"][0]["id"])

    def close(c):
        return c.post(f"/api/v1/ballots/{ballot['id']}/close", headers=org)

    requests = [_vote(ballot["id"], phone, {item: "yes"}) for phone in h.phones] + [close]
    responses = race(app, requests)
    votes, closing = responses[:-1], responses[-1]
    assert closing.status_code == 200, closing.json
    accepted = [r.json["receipt"] for r in votes if r.status_code == 200]
    refused = [r for r in votes if r.status_code != 200]
    assert all(r.status_code == 409 and r.json["error"]["code"] == "ballot_closed" for r in refused)
    published = api.get(ballot, "receipts").json
    assert published["receipts"] == sorted(accepted)
    assert published["voters"] == published["ballots"] == len(accepted) == stored(ballot["id"])[0]
    assert api.get(ballot, "results").json["items"][0]["counts"]["yes"] == len(accepted)
