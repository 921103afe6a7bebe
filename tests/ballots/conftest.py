"""Helpers for the ballot tests: a meeting with bound phones, signed-in deputies, and API shortcuts."""

from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select

from voting.ballots.models import BallotParticipation, CastBallot
from voting.extensions import db


@dataclass
class Hall:
    """A meeting, its deputies, their phones' bearer headers and an organizer's headers."""

    meeting: object
    deputies: list
    phones: list
    tokens: list
    org: dict
    present: list = field(default_factory=list)


@pytest.fixture
def org(organizer, api_token):
    return api_token(organizer)


@pytest.fixture
def sign_in(app, organizer):
    """Sign deputies in to a meeting by hand (the QR path is tested elsewhere)."""
    from voting.meetings.operations import manual_check_in

    def do_sign_in(meeting, deputies):
        for deputy in deputies:
            manual_check_in(organizer, meeting, deputy.id, "测试")
        db.session.commit()

    return do_sign_in


@pytest.fixture
def hall(app, make_deputies, make_meeting, bind_phone, org, sign_in):
    """hall(expected=6, present=None) -> Hall; every deputy has a phone, ``present`` of them signed in."""

    def make(expected=6, present=None):
        deputies = make_deputies(expected)
        tokens = [bind_phone(d) for d in deputies]
        meeting = make_meeting()
        present = expected if present is None else present
        sign_in(meeting, deputies[:present])
        return Hall(
            meeting, deputies, [{"Authorization": f"Bearer {t}"} for t in tokens], tokens, org, deputies[:present]
        )

    return make


@pytest.fixture
def api(client, org):
    """Shortcuts for the ballot operations as an organizer."""

    class Api:
        def create(self, meeting, **body):
            body.setdefault("title", "测试表决")
            body.setdefault("form", "per_item")
            body.setdefault("items", ["项目甲", "项目乙", "项目丙"])
            response = client.post(f"/api/v1/meetings/{meeting.id}/ballots", json=body, headers=org)
            assert response.status_code == 201, response.json
            return response.json

        def post(self, ballot, action, **kwargs):
            return client.post(f"/api/v1/ballots/{ballot['id']}/{action}", headers=org, **kwargs)

        def get(self, ballot, what=""):
            return client.get(f"/api/v1/ballots/{ballot['id']}{'/' + what if what else ''}", headers=org)

        def open(self, ballot):
            response = self.post(ballot, "open")
            assert response.status_code == 200, response.json
            return response.json

        def close(self, ballot):
            response = self.post(ballot, "close")
            assert response.status_code == 200, response.json
            return response.json

        def vote(self, ballot, phone, choices, **headers):
            return client.post(
                f"/api/v1/ballots/{ballot['id']}/votes", json={"choices": choices}, headers={**phone, **headers}
            )

    return Api()


@pytest.fixture
def stored(app):
    """Count the vote rows of a ballot: stored(ballot_id) -> (participations, cast ballots)."""

    def count(ballot_id=None):
        db.session.expire_all()
        where_p = [] if ballot_id is None else [BallotParticipation.ballot_id == ballot_id]
        where_c = [] if ballot_id is None else [CastBallot.ballot_id == ballot_id]
        return (
            db.session.scalar(select(func.count()).select_from(BallotParticipation).where(*where_p)),
            db.session.scalar(select(func.count()).select_from(CastBallot).where(*where_c)),
        )

    return count


@pytest.fixture
def second_phone(app):
    """Bind another live phone to a deputy directly (activation allows one at a time): -> headers."""
    from datetime import timedelta

    from voting.deputies.models import DeputyDevice
    from voting.timeutil import utcnow
    from voting.tokens import new_token, token_hash

    def bind(deputy):
        token = new_token("vtd_")
        db.session.add(
            DeputyDevice(
                deputy_id=deputy.id,
                token_hash=token_hash(token),
                expires_at=utcnow() + timedelta(days=1),
                user_agent="second phone",
            )
        )
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return bind
