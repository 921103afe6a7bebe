"""API operations for ballots: create, open, vote, close, results, receipts and re-votes.

Registered on the API blueprint of ``voting.api.views``; the factory imports this module
before it registers the blueprint.
"""

from typing import Literal

from flask import g, request
from pydantic import BaseModel, ConfigDict, Field

from voting.api.registry import operation
from voting.api.views import bp
from voting.ballots import operations as ballots
from voting.meetings import operations as meetings
from voting.timeutil import isoformat_utc


def _examples(*examples):
    return ConfigDict(json_schema_extra={"examples": list(examples)}, extra="forbid")


FormName = Literal["per_item", "choose", "rating"]
BaseName = Literal["expected", "present", "cast"]

_RULE_EXAMPLE = {"numerator": 1, "denominator": 2, "strict": True, "base": "expected"}


class RuleIn(BaseModel):
    model_config = _examples(_RULE_EXAMPLE)
    numerator: int = Field(1, ge=1, le=100)
    denominator: int = Field(2, ge=1, le=100)
    strict: bool = Field(True, description="More than (过半数) rather than at least (三分之二以上) the fraction.")
    base: BaseName = Field(
        "expected",
        description="Of all expected deputies (应到, the default), those present, or the valid ballots cast.",
    )


class RuleOut(RuleIn):
    pass


class BallotIn(BaseModel):
    model_config = _examples(
        {
            "title": "2027年区民生实事项目票决",
            "form": "choose",
            "places": 10,
            "items": "1、老旧小区加装电梯\n2、社区食堂\n3、口袋公园",
        }
    )
    title: str = Field(max_length=1000)
    form: FormName = Field(
        description="per_item: 赞成/反对/弃权; choose: tick at most `places` of the items "
        "(差额票决); rating: 满意/基本满意/不满意."
    )
    items: list[str] | str = Field(
        description="A list, or pasted text with one item a line (numbering is "
        "dropped). 1 to 100 items of 1 to 200 characters, no repeats."
    )
    places: int | None = Field(None, description="K of choose-K-of-M; only for the choose form.")
    secret: bool = Field(True, description="Secret (无记名, default) or named (记名).")
    last_submission_counts: bool = Field(False, description="Default: the first submission is final.")
    results_live: bool = Field(False, description="Default: results only after close.")
    countdown_seconds: int | None = Field(None, description="Opening sets the closing time this far ahead.")
    rule: RuleIn | None = Field(None, description="Adoption rule; default more than half of all expected deputies.")


class BallotUpdate(BaseModel):
    model_config = _examples(
        {"places": 8, "rule": {"numerator": 2, "denominator": 3, "strict": False, "base": "expected"}}
    )
    title: str | None = Field(None, max_length=1000)
    form: FormName | None = None
    items: list[str] | str | None = None
    places: int | None = None
    secret: bool | None = None
    last_submission_counts: bool | None = None
    results_live: bool | None = None
    countdown_seconds: int | None = None
    rule: RuleIn | None = None


class ItemOut(BaseModel):
    model_config = _examples({"id": 7, "position": 1, "title": "老旧小区加装电梯"})
    id: int
    position: int
    title: str


class BallotOut(BaseModel):
    model_config = _examples(
        {
            "id": 3,
            "meeting_id": 1,
            "title": "2027年区民生实事项目票决",
            "form": "choose",
            "places": 10,
            "secret": True,
            "last_submission_counts": False,
            "results_live": False,
            "countdown_seconds": 300,
            "rule": _RULE_EXAMPLE,
            "state": "open",
            "opened_at": "2027-01-10T02:00:00Z",
            "closes_at": "2027-01-10T02:05:00Z",
            "closed_at": None,
            "revote_of_id": None,
            "items": [{"id": 7, "position": 1, "title": "老旧小区加装电梯"}],
            "voters": 211,
            "turnout_expected": None,
            "turnout_present": None,
        }
    )
    id: int
    meeting_id: int
    title: str
    form: FormName
    places: int | None
    secret: bool
    last_submission_counts: bool
    results_live: bool
    countdown_seconds: int | None
    rule: RuleOut
    state: Literal["draft", "open", "closed"]
    opened_at: str | None
    closes_at: str | None
    closed_at: str | None
    revote_of_id: int | None
    items: list[ItemOut]
    voters: int = Field(description="Ballots cast so far (how many, never how).")
    turnout_expected: int | None = Field(description="应到 when the ballot closed.")
    turnout_present: int | None = Field(description="实到 when the ballot closed.")


class CastIn(BaseModel):
    model_config = _examples({"choices": [7, 9, 12]}, {"choices": {"7": "yes", "8": "abstain"}})
    choices: list | dict = Field(
        description="choose: the ticked item ids; per_item: item id -> yes/no/abstain; "
        "rating: item id -> satisfied/basic/unsatisfied. Ticking more than "
        "`places` items voids the ballot paper (废票)."
    )


class CastOut(BaseModel):
    model_config = _examples(
        {"ballot_id": 3, "receipt": "K7QX2-MNP8R", "valid": True, "repeated": False, "replaced": False}
    )
    ballot_id: int
    receipt: str = Field(description="Check it in the list published after close (listReceipts).")
    valid: bool = Field(description="False for a void paper (废票): stored and counted as invalid.")
    repeated: bool = Field(description="This was a retry of a ballot already counted; nothing changed.")
    replaced: bool = Field(description="'Last submission counts': this paper replaced the earlier one.")


class ItemResultOut(BaseModel):
    model_config = _examples(
        {
            "id": 7,
            "position": 1,
            "title": "老旧小区加装电梯",
            "counts": {"votes": 180},
            "passed": True,
            "tied": False,
            "rank": 1,
            "rating": None,
        }
    )
    id: int
    position: int
    title: str
    counts: dict[str, int]
    passed: bool = Field(description="Passed, adopted or (rating) at least 基本满意.")
    tied: bool = Field(description="Tied at the adoption boundary: not adopted, a re-vote can decide.")
    rank: int | None
    rating: Literal["satisfied", "basic", "unsatisfied"] | None


class ResultsOut(BaseModel):
    model_config = _examples(
        {
            "ballot_id": 3,
            "state": "closed",
            "final": True,
            "form": "choose",
            "places": 10,
            "rule": _RULE_EXAMPLE,
            "expected": 300,
            "present": 281,
            "voters": 279,
            "did_not_vote": 2,
            "ballots": 279,
            "valid": 278,
            "void": 1,
            "base_count": 300,
            "required": 151,
            "items": [ItemResultOut.model_config["json_schema_extra"]["examples"][0]],
            "tied_item_ids": [],
        }
    )
    ballot_id: int
    state: Literal["open", "closed"]
    final: bool = Field(description="False while the ballot is still open (live results).")
    form: FormName
    places: int | None
    rule: RuleOut
    expected: int = Field(description="应到")
    present: int = Field(description="实到")
    voters: int = Field(description="Deputies who voted.")
    did_not_vote: int = Field(description="未按: present deputies who cast no ballot.")
    ballots: int
    valid: int
    void: int = Field(description="废票")
    base_count: int = Field(description="The head count the rule's fraction is taken of.")
    required: int = Field(description="Votes an item needs.")
    items: list[ItemResultOut]
    tied_item_ids: list[int]


class ReceiptsOut(BaseModel):
    model_config = _examples({"ballot_id": 3, "voters": 2, "ballots": 2, "receipts": ["2KX7Q-MNP8R", "K7QX2-ZZ3AB"]})
    ballot_id: int
    voters: int
    ballots: int
    receipts: list[str] = Field(description="Sorted, so their order reveals nothing.")


class RevoteIn(BaseModel):
    model_config = _examples({"item_ids": [12, 15, 16]})
    item_ids: list[int] | None = Field(None, description="Tied items to vote on again (default: all tied items).")


def _rule_out(ballot):
    return RuleOut(
        numerator=ballot.threshold_numerator,
        denominator=ballot.threshold_denominator,
        strict=ballot.threshold_strict,
        base=ballot.threshold_base,
    )


def _ballot_out(ballot):
    return BallotOut(
        id=ballot.id,
        meeting_id=ballot.meeting_id,
        title=ballot.title,
        form=ballot.form,
        places=ballot.places,
        secret=ballot.secret,
        last_submission_counts=ballot.last_submission_counts,
        results_live=ballot.results_live,
        countdown_seconds=ballot.countdown_seconds,
        rule=_rule_out(ballot),
        state=ballot.state,
        opened_at=isoformat_utc(ballot.opened_at),
        closes_at=isoformat_utc(ballot.closes_at),
        closed_at=isoformat_utc(ballot.closed_at),
        revote_of_id=ballot.revote_of_id,
        items=[ItemOut(id=i.id, position=i.position, title=i.title) for i in ballot.items],
        voters=ballots.count_voters(ballot),
        turnout_expected=ballot.turnout_expected,
        turnout_present=ballot.turnout_present,
    )


def _settings(body):
    settings = body.model_dump(exclude_unset=True, exclude={"rule", "items", "title", "form"})
    if body.rule is not None:
        settings.update(
            threshold_numerator=body.rule.numerator,
            threshold_denominator=body.rule.denominator,
            threshold_strict=body.rule.strict,
            threshold_base=body.rule.base,
        )
    return settings


@operation(
    bp,
    "/meetings/<int:meeting_id>/ballots",
    "POST",
    "createBallot",
    summary="Create a draft ballot.",
    tag="ballots",
    request_model=BallotIn,
    response_model=BallotOut,
    status=201,
    errors=(404,),
)
def create_ballot(meeting_id, body):
    """Per item, choose K of M, or rating; secret, first submission final and results after close by default."""
    meeting = meetings.get_meeting(meeting_id)
    ballot = ballots.create_ballot(g.api_user, meeting, body.title, body.form, body.items, **_settings(body))
    return _ballot_out(ballot)


@operation(
    bp,
    "/ballots/<int:ballot_id>",
    "GET",
    "getBallot",
    summary="A ballot, its state and its turnout.",
    tag="ballots",
    response_model=BallotOut,
    errors=(404,),
)
def get_ballot(ballot_id):
    """Includes how many ballots have been cast so far, never how anyone voted."""
    return _ballot_out(ballots.get_ballot(ballot_id))


@operation(
    bp,
    "/ballots/<int:ballot_id>",
    "PATCH",
    "updateBallot",
    summary="Change a draft ballot.",
    tag="ballots",
    request_model=BallotUpdate,
    response_model=BallotOut,
    errors=(404, 409),
)
def update_ballot(ballot_id, body):
    """Only before it opens: once open, a ballot's rules cannot change. Items sent replace all items."""
    ballot = ballots.get_ballot(ballot_id)
    changes = _settings(body)
    for name in ("title", "form"):
        if getattr(body, name) is not None:
            changes[name] = getattr(body, name)
    return _ballot_out(ballots.update_ballot(g.api_user, ballot, items=body.items, **changes))


@operation(
    bp,
    "/ballots/<int:ballot_id>/open",
    "POST",
    "openBallot",
    summary="Open the ballot for voting.",
    tag="ballots",
    response_model=BallotOut,
    errors=(404, 409),
)
def open_ballot(ballot_id):
    """Refused while the meeting's quorum is not met (the message gives the numbers)."""
    return _ballot_out(ballots.open_ballot(g.api_user, ballots.get_ballot(ballot_id)))


@operation(
    bp,
    "/ballots/<int:ballot_id>/close",
    "POST",
    "closeBallot",
    summary="Close the ballot.",
    tag="ballots",
    response_model=BallotOut,
    errors=(404, 409),
)
def close_ballot(ballot_id):
    """Takes the turnout (应到/实到) as it stands; no ballot is accepted afterwards."""
    return _ballot_out(ballots.close_ballot(g.api_user, ballots.get_ballot(ballot_id)))


@operation(
    bp,
    "/ballots/<int:ballot_id>/votes",
    "POST",
    "castBallot",
    summary="Cast a deputy's ballot paper.",
    tag="ballots",
    auth="deputy",
    request_model=CastIn,
    response_model=CastOut,
    errors=(404, 409),
    checks_device=True,
)
def cast_ballot(ballot_id, body):
    """Called by the phone of a deputy signed in to the ballot's meeting, while the ballot is open. A retry
    from the same phone with the same choices (send an ``Idempotency-Key``) returns the same receipt; any other
    second submission is refused with 409 ``already_voted`` unless the last submission counts."""
    # The vote's INSERT authenticates the phone (checks_device): no device or ballot is read first.
    result = ballots.cast_ballot_by_token(
        ballot_id,
        g.api_device_token,
        body.choices,
        request.headers.get("Idempotency-Key"),
        device_token_hash=g.api_device_token_hash,
    )
    return CastOut(
        ballot_id=ballot_id,
        receipt=result.receipt,
        valid=result.valid,
        repeated=result.repeated,
        replaced=result.replaced,
    )


@operation(
    bp,
    "/ballots/<int:ballot_id>/results",
    "GET",
    "getBallotResults",
    summary="The ballot's tally.",
    tag="ballots",
    response_model=ResultsOut,
    errors=(404, 409),
)
def get_ballot_results(ballot_id):
    """After close, or while open when the ballot's results are live."""
    counted = ballots.results(ballots.get_ballot(ballot_id))
    ballot, result = counted.ballot, counted.result
    items = {item.id: item for item in ballot.items}
    return ResultsOut(
        ballot_id=ballot.id,
        state=ballot.state,
        final=counted.final,
        form=ballot.form,
        places=ballot.places,
        rule=_rule_out(ballot),
        expected=counted.turnout.expected,
        present=counted.turnout.present,
        voters=counted.voters,
        did_not_vote=counted.did_not_vote,
        ballots=result.cast,
        valid=result.valid,
        void=result.void,
        base_count=result.base_count,
        required=result.required,
        items=[
            ItemResultOut(
                id=r.item,
                position=items[r.item].position,
                title=items[r.item].title,
                counts=r.counts,
                passed=r.passed,
                tied=r.tied,
                rank=r.rank,
                rating=r.rating,
            )
            for r in result.items
        ],
        tied_item_ids=list(result.tied_items),
    )


@operation(
    bp,
    "/ballots/<int:ballot_id>/receipts",
    "GET",
    "listReceipts",
    summary="The published receipt codes.",
    tag="ballots",
    response_model=ReceiptsOut,
    errors=(404, 409),
)
def list_receipts(ballot_id):
    """After close: every receipt, sorted, with the counts that must agree (receipts = ballots = voters)."""
    ballot = ballots.get_ballot(ballot_id)
    receipts = ballots.list_receipts(ballot)
    figures = ballots.reconcile(ballot)
    return ReceiptsOut(ballot_id=ballot.id, voters=figures.voters, ballots=figures.ballots, receipts=receipts)


@operation(
    bp,
    "/ballots/<int:ballot_id>/revote",
    "POST",
    "startRevote",
    summary="Start a re-vote among tied items.",
    tag="ballots",
    request_model=RevoteIn,
    response_model=BallotOut,
    status=201,
    errors=(404, 409),
)
def start_revote(ballot_id, body):
    """A new draft ballot among items tied at the adoption boundary, for the places still open."""
    revote = ballots.start_revote(g.api_user, ballots.get_ballot(ballot_id), body.item_ids)
    return _ballot_out(revote)
