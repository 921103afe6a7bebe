"""Kill the real server hard in the middle of a burst of votes, start it again, and count.

Every ballot that got a receipt must be there, none half-written (a participation without
its paper or a paper without its participation), and the tally must equal the receipts.
Runs on the suite's database: SQLite, or PostgreSQL with TEST_DATABASE_URL.
"""

import json
import threading
from http.client import HTTPConnection, HTTPException

import pytest
from sqlalchemy import func, select

from tests.support.live_server import free_port, kill_hard, server_env, start_gunicorn, stop, wait_until_up
from voting.ballots.models import BallotParticipation, CastBallot
from voting.extensions import db

pytestmark = pytest.mark.slow

DEPUTIES = 120


def _post(port, path, headers, body=None):
    connection = HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(
            "POST", path, body=json.dumps(body or {}), headers={"Content-Type": "application/json", **headers}
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def _get(port, path, headers):
    connection = HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


class Burst:
    """Phones voting from several threads; each vote remembers the receipt it got, if any."""

    def __init__(self, port, path, phones, choices):
        self.port, self.path, self.phones, self.choices = port, path, phones, choices
        self.receipts = {}  # phone index -> receipt
        self.failed = set()  # phone indexes whose request got no answer
        self.first_receipts = threading.Event()
        self.lock = threading.Lock()

    def vote(self, index):
        try:
            status, body = _post(self.port, self.path, self.phones[index], {"choices": self.choices})
        except (OSError, HTTPException, ValueError):  # cut off mid-answer by the kill
            with self.lock:
                self.failed.add(index)
            return
        with self.lock:
            if status in (200, 201):
                self.receipts[index] = body["receipt"]
                if len(self.receipts) >= 10:
                    self.first_receipts.set()
            else:
                self.failed.add(index)

    def run(self, indexes, threads=12):
        queue = list(indexes)

        def worker():
            while True:
                with self.lock:
                    if not queue:
                        return
                    index = queue.pop()
                self.vote(index)

        workers = [threading.Thread(target=worker) for _ in range(threads)]
        for thread in workers:
            thread.start()
        return workers


def test_votes_with_receipts_survive_a_hard_kill(app, app_config, hall, api, tmp_path):
    h = hall(expected=DEPUTIES)
    ballot = api.create(h.meeting, form="choose", places=3, items=[f"候选项目{i}" for i in range(1, 7)])
    api.open(ballot)
    ticked = [item["id"] for item in ballot["items"] if item["position"] in (1, 3, 5)]
    db.session.remove()
    db.engine.dispose()  # the server gets the database to itself, as in production

    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = server_env(tmp_path, port, str(app_config["SQLALCHEMY_DATABASE_URI"]), SECRET_KEY=app.config["SECRET_KEY"])
    env["VOTING_RATELIMIT_ENABLED"] = "false"
    proc = start_gunicorn(env, log)
    try:
        wait_until_up(proc, port, log)
        burst = Burst(port, f"/api/v1/ballots/{ballot['id']}/votes", h.phones, ticked)
        workers = burst.run(range(DEPUTIES))
        assert burst.first_receipts.wait(30), log.read_text()[-3000:]
        kill_hard(proc)  # mid-burst: some votes answered, some in flight, some never sent
        for thread in workers:
            thread.join(30)
        answered_before_kill = dict(burst.receipts)
        assert 10 <= len(answered_before_kill) < DEPUTIES, "the kill did not land mid-burst"

        proc = start_gunicorn(env, log)
        wait_until_up(proc, port, log)
        # Every phone that heard nothing tries again: a vote stored before the kill gives back its
        # receipt (first submission is final), one lost with the process is cast now.
        retry = Burst(port, burst.path, h.phones, ticked)
        for thread in retry.run(sorted(burst.failed)):
            thread.join(30)
        assert retry.failed == set()
        receipts = {**answered_before_kill, **retry.receipts}
        assert len(receipts) == DEPUTIES

        status, _ = _post(port, f"/api/v1/ballots/{ballot['id']}/close", h.org)
        assert status == 200
        status, published = _get(port, f"/api/v1/ballots/{ballot['id']}/receipts", h.org)
        assert status == 200
        status, results = _get(port, f"/api/v1/ballots/{ballot['id']}/results", h.org)
        assert status == 200
    finally:
        stop(proc)

    published_codes = set(published["receipts"])
    assert len(published["receipts"]) == published["ballots"] == published["voters"] == DEPUTIES
    # Every receipt a phone was shown before the kill is published, and nothing else is.
    assert set(answered_before_kill.values()) <= published_codes
    assert published_codes == set(receipts.values())
    # None half-written: as many participations as papers.
    participations = db.session.scalar(
        select(func.count()).select_from(BallotParticipation).where(BallotParticipation.ballot_id == ballot["id"])
    )
    papers = db.session.scalar(select(func.count()).select_from(CastBallot).where(CastBallot.ballot_id == ballot["id"]))
    assert participations == papers == DEPUTIES
    # The tally counts exactly the receipted ballots: every ballot ticked items 1, 3 and 5.
    counts = {item["position"]: item["counts"]["votes"] for item in results["items"]}
    assert counts == {1: DEPUTIES, 2: 0, 3: DEPUTIES, 4: 0, 5: DEPUTIES, 6: 0}
