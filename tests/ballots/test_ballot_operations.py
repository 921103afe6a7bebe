"""Ballot operations: the state machine, validation (nothing stored on refusal), pasted items, receipts."""

import pytest
from sqlalchemy import func, select

from voting.ballots import operations as ballots
from voting.ballots.models import Ballot, BallotItem, BallotState
from voting.errors import Conflict, Invalid
from voting.extensions import db


@pytest.mark.parametrize(
    ("start", "target", "allowed"),
    [
        (BallotState.DRAFT, BallotState.OPEN, True),
        (BallotState.DRAFT, BallotState.CLOSED, False),
        (BallotState.OPEN, BallotState.CLOSED, True),
        (BallotState.OPEN, BallotState.DRAFT, False),
        (BallotState.OPEN, BallotState.OPEN, False),
        (BallotState.CLOSED, BallotState.OPEN, False),
        (BallotState.CLOSED, BallotState.DRAFT, False),
        (BallotState.CLOSED, BallotState.CLOSED, False),
    ],
)
def test_state_machine(app, start, target, allowed):
    ballot = Ballot(state=start)
    if allowed:
        ballot.transition(target)
        assert ballot.state == target
    else:
        with pytest.raises(Conflict) as error:
            ballot.transition(target)
        assert error.value.code == "invalid_state" and ballot.state == start


@pytest.mark.parametrize(
    ("text", "titles"),
    [
        ("1、老旧小区加装电梯\n2、社区食堂", ["老旧小区加装电梯", "社区食堂"]),
        ("（1）甲\n(2) 乙\n3) 丙\n4. 丁", ["甲", "乙", "丙", "丁"]),
        ("- 甲\n• 乙\n\n   \n\u3000丙\u3000", ["甲", "乙", "丙"]),
        ("2024年道路整治\n1.5公里绿道\n12345热线", ["2024年道路整治", "1.5公里绿道", "12345热线"]),
        ("甲\r\n乙\r\n", ["甲", "乙"]),
        (["  甲 ", "", "乙"], ["甲", "乙"]),
    ],
)
def test_pasted_items(text, titles):
    assert ballots.parse_items(text) == titles


def _count():
    return (
        db.session.scalar(select(func.count()).select_from(Ballot)),
        db.session.scalar(select(func.count()).select_from(BallotItem)),
    )


_THREE = ["甲", "乙", "丙"]


@pytest.mark.parametrize(
    ("title", "form", "items", "settings", "code"),
    [
        ("", "per_item", _THREE, {}, "invalid_title"),
        ("   ", "per_item", _THREE, {}, "invalid_title"),
        ("题" * 201, "per_item", _THREE, {}, "invalid_title"),
        ("表决", "vote", _THREE, {}, "invalid_form"),
        ("表决", "per_item", [], {}, "invalid_items"),
        ("表决", "per_item", "\n \n", {}, "invalid_items"),
        ("表决", "per_item", [f"项目{i}" for i in range(101)], {}, "invalid_items"),
        ("表决", "per_item", ["甲", "项" * 201], {}, "invalid_item_title"),
        ("表决", "per_item", ["甲", "乙", "甲"], {}, "duplicate_item"),
        ("表决", "per_item", "1、甲\n2、甲", {}, "duplicate_item"),
        ("表决", "per_item", [1, 2], {}, "invalid_item_title"),
        ("表决", "choose", _THREE, {}, "invalid_places"),
        ("表决", "choose", _THREE, {"places": 0}, "invalid_places"),
        ("表决", "choose", _THREE, {"places": 4}, "invalid_places"),
        ("表决", "choose", _THREE, {"places": True}, "invalid_places"),
        ("表决", "per_item", _THREE, {"places": 2}, "invalid_places"),
        ("表决", "rating", _THREE, {"places": 1}, "invalid_places"),
        ("表决", "per_item", _THREE, {"secret": None}, "invalid_setting"),
        ("表决", "per_item", _THREE, {"results_live": "yes"}, "invalid_setting"),
        ("表决", "per_item", _THREE, {"countdown_seconds": 5}, "invalid_countdown"),
        ("表决", "per_item", _THREE, {"countdown_seconds": "60"}, "invalid_countdown"),
        ("表决", "per_item", _THREE, {"countdown_seconds": 86401}, "invalid_countdown"),
        ("表决", "per_item", _THREE, {"threshold_numerator": 3, "threshold_denominator": 2}, "invalid_threshold"),
        ("表决", "per_item", _THREE, {"threshold_numerator": 0}, "invalid_threshold"),
        ("表决", "per_item", _THREE, {"threshold_denominator": 0}, "invalid_threshold"),
        ("表决", "per_item", _THREE, {"threshold_denominator": 101}, "invalid_threshold"),
        ("表决", "per_item", _THREE, {"threshold_base": "everyone"}, "invalid_threshold"),
    ],
)
def test_create_refuses_bad_settings_and_stores_nothing(
    make_deputies, make_meeting, title, form, items, settings, code
):
    make_deputies(3)
    meeting = make_meeting()
    with pytest.raises(Invalid) as error:
        ballots.create_ballot(None, meeting, title, form, items, **settings)
    assert error.value.code == code
    db.session.rollback()
    assert _count() == (0, 0)


@pytest.mark.parametrize(
    ("form", "items", "settings"),
    [
        ("per_item", ["甲"], {}),
        ("per_item", [f"项目{i}" for i in range(100)], {}),
        ("choose", _THREE, {"places": 1}),
        ("choose", _THREE, {"places": 3}),
        ("rating", ["题" * 200], {"countdown_seconds": 10}),
        (
            "per_item",
            _THREE,
            {
                "threshold_numerator": 2,
                "threshold_denominator": 3,
                "threshold_strict": False,
                "threshold_base": "present",
            },
        ),
    ],
)
def test_create_accepts_the_limits(make_deputies, make_meeting, form, items, settings):
    make_deputies(3)
    meeting = make_meeting()
    ballot = ballots.create_ballot(None, meeting, "表决", form, items, **settings)
    db.session.commit()
    assert [i.title for i in ballot.items] == items
    assert _count() == (1, len(items))


def test_update_replaces_items_and_rechecks_the_whole_ballot(make_deputies, make_meeting):
    make_deputies(3)
    meeting = make_meeting()
    ballot = ballots.create_ballot(None, meeting, "表决", "choose", _THREE, places=3)
    db.session.commit()
    with pytest.raises(Invalid) as error:
        ballots.update_ballot(None, ballot, items=["甲", "乙"])  # 3 places of 2 candidates
    assert error.value.code == "invalid_places"
    db.session.rollback()
    ballots.update_ballot(None, ballot, items=["丙", "乙"], places=1)
    db.session.commit()
    db.session.expire_all()
    assert [(i.position, i.title) for i in ballot.items] == [(1, "丙"), (2, "乙")] and ballot.places == 1
    assert _count() == (1, 2)
    ballots.update_ballot(None, ballot, form="per_item", places=None)
    db.session.commit()
    assert (ballot.form, ballot.places) == ("per_item", None)


def test_a_save_that_changes_nothing_is_not_logged(make_deputies, make_meeting):
    from voting.audit.models import AuditEntry

    make_deputies(3)
    meeting = make_meeting()
    ballot = ballots.create_ballot(None, meeting, "表决", "choose", _THREE, places=2)
    db.session.commit()

    def updates():
        return db.session.scalar(select(func.count()).where(AuditEntry.action == "ballot.update"))

    ballots.update_ballot(None, ballot, items=list(_THREE), places=2)
    db.session.commit()
    assert updates() == 0
    ballots.update_ballot(None, ballot, places=1)
    db.session.commit()
    assert updates() == 1


def test_receipt_is_stable_per_phone_and_ballot_and_readable():
    first = ballots.receipt_for("vtd_phone-one", 1)
    assert first == ballots.receipt_for("vtd_phone-one", 1)
    assert first != ballots.receipt_for("vtd_phone-one", 2)
    assert first != ballots.receipt_for("vtd_phone-two", 1)
    assert len(first) == 11 and first[5] == "-"
    assert set(first.replace("-", "")) <= set("23456789ABCDEFGHJKMNPQRSTUVWXYZ")
    receipts = {ballots.receipt_for(f"vtd_{n}", 7) for n in range(3000)}
    assert len(receipts) == 3000


@pytest.mark.parametrize("key", ["k" * 201, "é", "a\tb"])
def test_idempotency_key_must_be_reasonable(hall, api, stored, key):
    h = hall(3)
    ballot = api.open(api.create(h.meeting))
    response = api.vote(ballot, h.phones[0], {}, **{"Idempotency-Key": key})
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_idempotency_key"
    assert stored() == (0, 0)
