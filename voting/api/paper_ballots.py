"""API operations for paper ballots (纸质票): record who handed one in, enter each paper twice, settle mismatches.

Registered on the API blueprint of ``voting.api.views``; the factory imports this module before it
registers the blueprint. See ``voting.ballots.paper`` for the rules.
"""

from typing import Literal

from flask import g
from pydantic import BaseModel, ConfigDict, Field

from voting.api.registry import operation
from voting.api.views import bp
from voting.ballots import operations as ballots
from voting.ballots import paper


def _examples(*examples):
    return ConfigDict(json_schema_extra={"examples": list(examples)}, extra="forbid")


def _example_of(model):
    return model.model_config["json_schema_extra"]["examples"][0]


class PaperVoterIn(BaseModel):
    model_config = _examples({"deputy_id": 12})
    deputy_id: int = Field(ge=1, description="The deputy who handed in a paper ballot.")


class PaperVoterOut(BaseModel):
    model_config = _examples({"deputy_id": 12, "number": "A012", "name": "李四", "delegation": "城关街道代表团"})
    deputy_id: int
    number: str = Field(description="代表证号")
    name: str
    delegation: str


class PaperVotersOut(BaseModel):
    model_config = _examples({"ballot_id": 3, "total": 1, "items": [_example_of(PaperVoterOut)]})
    ballot_id: int
    total: int
    items: list[PaperVoterOut]


class WithdrawIn(BaseModel):
    model_config = _examples({"reason": "误点了另一位代表"})
    reason: str = Field(min_length=1, max_length=200)


class PaperIn(BaseModel):
    model_config = _examples(
        {"number": 17, "choices": {"7": "yes", "8": "abstain"}},
        {"number": 18, "choices": [7, 9, 12]},
    )
    number: int = Field(ge=1, le=99999, description="The number the tellers wrote on the paper.")
    choices: list | dict = Field(
        description="As for castBallot: choose: the ticked item ids (more than `places` ticks is a void paper, "
        "废票); per_item: item id -> yes/no/abstain; rating: item id -> satisfied/basic/unsatisfied. An item left "
        "blank on the paper is left out."
    )
    deputy_id: int | None = Field(
        None, description="Named (记名) ballots only: the deputy named on the paper. Must be absent on a secret ballot."
    )


class PaperEntryRef(BaseModel):
    model_config = _examples(
        {"id": 41, "entered_by": "organizer1", "choices": {"7": "yes"}, "valid": True, "deputy_id": None}
    )
    id: int
    entered_by: str = Field(description="Username of the member of staff who made the entry.")
    choices: list | dict | None = Field(
        description="Hidden (null) while the paper has one entry, so that the second person enters it blind."
    )
    valid: bool | None
    deputy_id: int | None


_PAPER_EXAMPLE = {
    "number": 17,
    "state": "mismatch",
    "receipt": None,
    "valid": None,
    "deputy_id": None,
    "resolved_by": None,
    "differing_item_ids": [8],
    "deputy_differs": False,
    "entries": [
        {
            "id": 41,
            "entered_by": "organizer1",
            "choices": {"7": "yes", "8": "abstain"},
            "valid": True,
            "deputy_id": None,
        },
        {"id": 44, "entered_by": "organizer2", "choices": {"7": "yes", "8": "no"}, "valid": True, "deputy_id": None},
    ],
}


class PaperOut(BaseModel):
    model_config = _examples(_PAPER_EXAMPLE)
    number: int
    state: Literal["entered", "mismatch", "counted"] = Field(
        description="entered: waiting for a second person; mismatch: entries differ, nothing counted; counted."
    )
    receipt: str | None = Field(description="Once counted: the cast ballot's receipt; write it on the paper.")
    valid: bool | None = Field(description="Once counted: false for a void paper (废票).")
    deputy_id: int | None
    resolved_by: str | None = Field(description="Who settled a mismatch by choosing an entry.")
    differing_item_ids: list[int] = Field(description="Items on which the entries differ.")
    deputy_differs: bool = Field(description="Named ballots: the entries name different deputies.")
    entries: list[PaperEntryRef]


class PaperEntryOut(BaseModel):
    model_config = _examples(
        {
            "ballot_id": 3,
            "entry_id": 44,
            "paper": {
                **_PAPER_EXAMPLE,
                "state": "counted",
                "receipt": "K7QX2-MNP8R",
                "valid": True,
                "differing_item_ids": [],
            },
        }
    )
    ballot_id: int
    entry_id: int
    paper: PaperOut


class PaperCountOut(BaseModel):
    model_config = _examples(
        {
            "ballot_id": 3,
            "ballot_state": "closed",
            "paper_voters": 4,
            "counted": 2,
            "pending": 2,
            "mismatches": 1,
            "waiting": 1,
            "papers": [_PAPER_EXAMPLE],
        }
    )
    ballot_id: int
    ballot_state: Literal["draft", "open", "closed"]
    paper_voters: int = Field(description="Deputies recorded as handing in a paper.")
    counted: int = Field(description="Papers counted, each a cast ballot with a receipt.")
    pending: int = Field(description="Papers handed in and not yet counted; results are not final until 0.")
    mismatches: int = Field(description="Papers whose entries differ.")
    waiting: int = Field(description="Papers entered once, waiting for a second person.")
    papers: list[PaperOut]


class ResolveIn(BaseModel):
    model_config = _examples({"entry_id": 41})
    entry_id: int = Field(ge=1, description="The entry that matches the paper.")


class DiscardOut(BaseModel):
    model_config = _examples({"ballot_id": 3, "number": 71, "entry_id": 45})
    ballot_id: int
    number: int
    entry_id: int


def _voter_out(deputy):
    return PaperVoterOut(deputy_id=deputy.id, number=deputy.number, name=deputy.name, delegation=deputy.delegation)


def _voters_out(ballot):
    voters = paper.list_paper_voters(ballot)
    return PaperVotersOut(ballot_id=ballot.id, total=len(voters), items=[_voter_out(d) for d in voters])


def paper_out(ballot, item):
    visible = paper.content_visible(item)
    difference = paper.difference_of(ballot, item)
    return PaperOut(
        number=item.number,
        state=item.state,
        receipt=item.receipt,
        valid=item.valid,
        deputy_id=item.deputy_id,
        resolved_by=item.resolved_by.username if item.resolved_by else None,
        differing_item_ids=difference.items,
        deputy_differs=difference.deputy,
        entries=[
            PaperEntryRef(
                id=entry.id,
                entered_by=entry.user.username,
                choices=paper.parse_paper(ballot, entry) if visible else None,
                valid=entry.valid if visible else None,
                deputy_id=entry.deputy_id if visible else None,
            )
            for entry in item.entries
        ],
    )


@operation(
    bp,
    "/ballots/<int:ballot_id>/paper-voters",
    "POST",
    "recordPaperVoter",
    summary="Record that a deputy handed in a paper ballot.",
    tag="paper ballots",
    request_model=PaperVoterIn,
    response_model=PaperVoterOut,
    status=201,
    errors=(404, 409),
)
def record_paper_voter(ballot_id, body):
    """While the ballot is open, for a deputy signed in to its meeting. Refused with 409 ``voted_by_phone``
    if the deputy voted by phone; a phone vote after this is refused with ``voted_on_paper``."""
    ballot = ballots.get_ballot(ballot_id)
    return _voter_out(paper.record_paper_voter(g.api_user, ballot, body.deputy_id))


@operation(
    bp,
    "/ballots/<int:ballot_id>/paper-voters",
    "GET",
    "listPaperVoters",
    summary="The deputies who handed in a paper ballot.",
    tag="paper ballots",
    response_model=PaperVotersOut,
    errors=(404,),
)
def list_paper_voters(ballot_id):
    """Who voted on paper, never what: papers are entered by number, not by deputy."""
    return _voters_out(ballots.get_ballot(ballot_id))


@operation(
    bp,
    "/ballots/<int:ballot_id>/paper-voters/<int:deputy_id>/withdraw",
    "POST",
    "withdrawPaperVoter",
    summary="Withdraw a paper hand-in recorded for the wrong deputy.",
    tag="paper ballots",
    request_model=WithdrawIn,
    response_model=PaperVotersOut,
    errors=(404, 409),
)
def withdraw_paper_voter(ballot_id, deputy_id, body):
    """Only while the ballot is open; logged with the reason. Returns the deputies still recorded."""
    ballot = ballots.get_ballot(ballot_id)
    paper.withdraw_paper_voter(g.api_user, ballot, deputy_id, body.reason)
    return _voters_out(ballot)


@operation(
    bp,
    "/ballots/<int:ballot_id>/papers",
    "POST",
    "enterPaperBallot",
    summary="Enter what one paper ballot says (double entry).",
    tag="paper ballots",
    request_model=PaperIn,
    response_model=PaperEntryOut,
    errors=(404, 409),
)
def enter_paper_ballot(ballot_id, body):
    """After the ballot closes, each paper is entered by two different people under the number written on it.
    When two entries agree the paper is counted (``state`` counted, with a receipt to write on the paper); when
    they differ (``mismatch``) nothing is counted until a third person enters it again or picks an entry
    (resolvePaperBallot). The same person cannot enter a paper twice (409 ``same_person``); no more papers
    can be counted than deputies handed in (409 ``no_papers_left``)."""
    ballot = ballots.get_ballot(ballot_id)
    result = paper.enter_paper(g.api_user, ballot, body.number, body.choices, body.deputy_id)
    return PaperEntryOut(ballot_id=ballot.id, entry_id=result.entry.id, paper=paper_out(ballot, result.paper))


@operation(
    bp,
    "/ballots/<int:ballot_id>/papers",
    "GET",
    "listPaperBallots",
    summary="The count of paper ballots: papers entered, mismatches, papers still pending.",
    tag="paper ballots",
    response_model=PaperCountOut,
    errors=(404,),
)
def list_paper_ballots(ballot_id):
    """Every paper by number with its entries; an entry's content shows once the paper has a second entry."""
    ballot = ballots.get_ballot(ballot_id)
    figures = paper.paper_figures(ballot)
    return PaperCountOut(
        ballot_id=ballot.id,
        ballot_state=ballot.state,
        paper_voters=figures.voters,
        counted=figures.counted,
        pending=figures.pending,
        mismatches=figures.mismatches,
        waiting=figures.waiting,
        papers=[paper_out(ballot, item) for item in paper.list_papers(ballot)],
    )


@operation(
    bp,
    "/ballots/<int:ballot_id>/papers/<int:number>/resolve",
    "POST",
    "resolvePaperBallot",
    summary="Settle a paper whose entries differ by picking the right entry.",
    tag="paper ballots",
    request_model=ResolveIn,
    response_model=PaperOut,
    errors=(404, 409),
)
def resolve_paper_ballot(ballot_id, number, body):
    """Made by a person who entered none of the paper's entries (403 ``same_person`` otherwise), after looking at
    the paper; the chosen entry is counted."""
    ballot = ballots.get_ballot(ballot_id)
    return paper_out(ballot, paper.resolve_paper(g.api_user, ballot, number, body.entry_id))


@operation(
    bp,
    "/ballots/<int:ballot_id>/paper-entries/<int:entry_id>",
    "DELETE",
    "discardPaperEntry",
    summary="Discard an entry of a paper not yet counted.",
    tag="paper ballots",
    response_model=DiscardOut,
    errors=(404, 409),
)
def discard_paper_entry(ballot_id, entry_id):
    """For a mistyped paper number, say; logged. A counted paper's entries stay."""
    ballot = ballots.get_ballot(ballot_id)
    number = paper.discard_entry(g.api_user, ballot, entry_id)
    return DiscardOut(ballot_id=ballot.id, number=number, entry_id=entry_id)
