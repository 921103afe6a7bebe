"""Paper ballots (纸质票), as in a hall: who handed in a paper, then what each paper says, entered twice.

1. While the ballot is open, staff record that a deputy handed in a paper: a ``BallotParticipation``
   with method "paper". It is the same row a phone vote writes, so the database lets a deputy vote
   one way only, in either order and under any race.
2. After the ballot closes, the tellers open the box, mix the papers, write a number on each and
   enter each paper twice, by two different people, keyed by that number. Two entries that agree
   count the paper: it becomes a ``CastBallot`` (void or valid by the same rules as a phone
   ballot) with a random receipt the tellers write on the paper. Entries that disagree are shown
   side by side and count nothing until a third person enters the paper again or picks the entry
   that matches the paper.

Why contents only after close: the box is opened when voting ends (开箱计票); entering papers
while deputies still hand them in would let the order of entries follow the order of hand-ins;
and the number of papers to count is then fixed, so no more papers can be counted than deputies
handed in. Counting ends when every paper handed in is counted; until then ``reconcile`` and
``results`` report the papers still pending and the results are not final.

Secrecy: nothing stored pairs a deputy with a paper. The paper tables hold no deputy on a secret
ballot and no time; entries are made after every hand-in was recorded. What no software can hide:
if only one deputy votes on paper, whoever reads that paper knows how they voted (as in any hall).
"""

import json
import secrets
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, exists, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from voting.audit.operations import actor_label, record
from voting.ballots import tally
from voting.ballots.models import Ballot, BallotParticipation, BallotState, CastBallot, VoteMethod
from voting.ballots.operations import (
    _RECEIPT_ALPHABET,
    RECEIPT_LENGTH,
    _hold_open_ballot,
    _open_now,
    normalize_choices,
)
from voting.ballots.paper_models import MAX_PAPER_NUMBER, PaperBallot, PaperEntry, PaperState
from voting.deputies.models import Deputy
from voting.errors import Conflict, Forbidden, Invalid, NotFound
from voting.extensions import db
from voting.meetings.models import MeetingMember
from voting.timeutil import utcnow

MAX_REASON = 200

# -- who handed in a paper ---------------------------------------------------------------------


def record_paper_voter(actor, ballot, deputy_id):
    """Record that a deputy handed in a paper ballot, while the ballot is open.

    One conditional INSERT, like a phone vote: the ballot must be open and the deputy signed in
    to its meeting; the primary key refuses a deputy who already voted by phone (and a phone vote
    after this one) under any race.
    """
    if not isinstance(deputy_id, int) or isinstance(deputy_id, bool):
        raise Invalid(_l("Choose a deputy."), code="deputy_required")
    ballot_id, meeting_id, now = ballot.id, ballot.meeting_id, utcnow()
    signed_in = exists().where(
        MeetingMember.meeting_id == meeting_id,
        MeetingMember.deputy_id == deputy_id,
        MeetingMember.checked_in_at.is_not(None),
    )
    try:
        _hold_open_ballot(ballot_id)
        inserted = db.session.execute(
            insert(BallotParticipation)
            .from_select(
                ["ballot_id", "deputy_id", "method"],
                select(literal(ballot_id), literal(deputy_id), literal(VoteMethod.PAPER.value)).where(
                    _open_now(ballot_id, now), signed_in
                ),
            )
            .returning(BallotParticipation.deputy_id)
        ).first()
    except IntegrityError:
        db.session.rollback()
        _explain_second_vote(ballot_id, deputy_id)
    if inserted is None:
        _explain_refused_paper(ballot_id, meeting_id, deputy_id, now)
    deputy = db.session.get(Deputy, deputy_id)
    record(
        actor_label(actor), "ballot.paper_voter", "ballot", ballot_id, deputy_id=deputy_id, deputy_number=deputy.number
    )
    return deputy


def _explain_second_vote(ballot_id, deputy_id):
    earlier = db.session.get(BallotParticipation, (ballot_id, deputy_id), populate_existing=True)
    if earlier is not None and earlier.method == VoteMethod.PHONE:
        raise Conflict(
            _l("This deputy has already voted by phone; a paper ballot from them cannot also count."),
            code="voted_by_phone",
        )
    raise Conflict(_l("A paper ballot from this deputy is already recorded."), code="paper_already_recorded")


def _explain_refused_paper(ballot_id, meeting_id, deputy_id, now):
    ballot = db.session.get(Ballot, ballot_id, populate_existing=True)
    if ballot.state == BallotState.DRAFT:
        raise Conflict(_l("Voting on this ballot has not opened yet."), code="ballot_not_open")
    if ballot.state == BallotState.CLOSED:
        raise Conflict(_l("Voting on this ballot has closed."), code="ballot_closed")
    if ballot.closes_at is not None and ballot.closes_at <= now:
        raise Conflict(_l("The time for voting on this ballot is up."), code="ballot_time_up")
    member = db.session.get(MeetingMember, (meeting_id, deputy_id), populate_existing=True)
    if member is None:
        raise NotFound(_l("This deputy is not expected at the ballot's meeting."), code="not_a_member")
    if member.checked_in_at is None:
        raise Conflict(
            _l("This deputy has not signed in to the meeting; sign them in first (by hand if need be)."),
            code="not_signed_in",
        )
    raise Conflict(_l("The paper ballot could not be recorded. Please try again."), code="paper_failed")


def withdraw_paper_voter(actor, ballot, deputy_id, reason):
    """Undo a hand-in recorded for the wrong deputy, while the ballot is still open; logged with a reason."""
    reason = (reason or "").strip()
    if not 1 <= len(reason) <= MAX_REASON:
        raise Invalid(_l("Give a reason of 1 to 200 characters."), code="reason_required")
    _hold_open_ballot(ballot.id)
    removed = db.session.execute(
        delete(BallotParticipation)
        .where(
            BallotParticipation.ballot_id == ballot.id,
            BallotParticipation.deputy_id == deputy_id,
            BallotParticipation.method == VoteMethod.PAPER.value,
            _open_now(ballot.id, utcnow()),
        )
        .returning(BallotParticipation.deputy_id)
        .execution_options(synchronize_session=False)
    ).first()
    if removed is None:
        db.session.refresh(ballot)
        if ballot.state != BallotState.OPEN:
            raise Conflict(
                _l("A paper hand-in can only be withdrawn while the ballot is open."), code="ballot_not_open"
            )
        raise NotFound(_l("No paper ballot from this deputy is recorded."), code="paper_voter_not_found")
    record(actor_label(actor), "ballot.paper_voter_withdraw", "ballot", ballot.id, deputy_id=deputy_id, reason=reason)


def list_paper_voters(ballot):
    """Return the deputies who handed in a paper (who, never what), by delegation and number."""
    return db.session.scalars(
        select(Deputy)
        .join(BallotParticipation, BallotParticipation.deputy_id == Deputy.id)
        .where(BallotParticipation.ballot_id == ballot.id, BallotParticipation.method == VoteMethod.PAPER.value)
        .order_by(Deputy.delegation, Deputy.number)
    ).all()


def eligible_paper_voters(ballot, search="", limit=50):
    """Signed-in deputies of the ballot's meeting who have not voted yet, matching ``search``."""
    stmt = (
        select(Deputy)
        .join(MeetingMember, MeetingMember.deputy_id == Deputy.id)
        .where(
            MeetingMember.meeting_id == ballot.meeting_id,
            MeetingMember.checked_in_at.is_not(None),
            ~exists().where(BallotParticipation.ballot_id == ballot.id, BallotParticipation.deputy_id == Deputy.id),
        )
    )
    search = (search or "").strip()
    if search:
        like = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(Deputy.name.like(like, escape="\\") | Deputy.number.like(like, escape="\\"))
    return db.session.scalars(stmt.order_by(Deputy.delegation, Deputy.number).limit(limit)).all()


# -- what each paper says -----------------------------------------------------------------------


def _lock_papers(ballot):
    """Queue the paper-count writes of one ballot and reload it.

    PostgreSQL: the ballot's row lock. SQLite: the database's single write lock, which a
    transaction takes at its first write; an UPDATE that changes nothing is that write, so the
    reads that follow see every earlier count.
    """
    if db.session.get_bind().dialect.name != "postgresql":
        db.session.execute(
            update(Ballot)
            .where(Ballot.id == ballot.id)
            .values(state=Ballot.state)
            .execution_options(synchronize_session=False)
        )
    db.session.refresh(ballot, with_for_update=True)


def _require_counting(ballot):
    if ballot.state != BallotState.CLOSED:
        raise Conflict(
            _l("Paper ballots are entered after voting closes, when the ballot box is opened."),
            code="ballot_not_closed",
        )


def _clean_number(number):
    if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= MAX_PAPER_NUMBER:
        raise Invalid(
            _l("The paper's number must be a whole number from 1 to %(max)s.", max=MAX_PAPER_NUMBER),
            code="invalid_paper_number",
        )
    return number


def _clean_deputy(ballot, deputy_id):
    """A named ballot's paper names a deputy who handed in a paper; a secret one names nobody."""
    if ballot.secret:
        if deputy_id is not None:
            raise Invalid(_l("A secret ballot's paper names no deputy."), code="deputy_on_secret_paper")
        return None
    if not isinstance(deputy_id, int) or isinstance(deputy_id, bool):
        raise Invalid(_l("A named ballot's paper names its deputy: choose them."), code="deputy_required")
    participation = db.session.get(BallotParticipation, (ballot.id, deputy_id))
    if participation is None or participation.method != VoteMethod.PAPER:
        raise Invalid(
            _l("The deputy named on the paper did not hand in a paper ballot."), code="deputy_not_paper_voter"
        )
    return deputy_id


@dataclass(frozen=True)
class PaperFigures:
    """How far the count of papers has come."""

    voters: int  # deputies recorded as handing in a paper
    counted: int  # papers counted (each one a cast ballot)
    mismatches: int  # papers whose entries differ
    waiting: int  # papers entered once, waiting for the second person

    @property
    def pending(self):
        """Papers handed in and not yet counted."""
        return max(self.voters - self.counted, 0)


def paper_figures(ballot):
    voters = db.session.scalar(
        select(func.count())
        .select_from(BallotParticipation)
        .where(BallotParticipation.ballot_id == ballot.id, BallotParticipation.method == VoteMethod.PAPER.value)
    )
    states = dict(
        db.session.execute(
            select(PaperBallot.state, func.count())
            .where(PaperBallot.ballot_id == ballot.id)
            .group_by(PaperBallot.state)
        ).all()
    )
    return PaperFigures(
        voters, states.get(PaperState.COUNTED, 0), states.get(PaperState.MISMATCH, 0), states.get(PaperState.ENTERED, 0)
    )


@dataclass(frozen=True)
class Difference:
    """Where entries of one paper differ."""

    items: list = field(default_factory=list)  # item ids, in the ballot's order
    deputy: bool = False  # named ballots: they name different deputies

    def __bool__(self):
        return bool(self.items) or self.deputy


@dataclass(frozen=True)
class EntryResult:
    paper: PaperBallot
    entry: PaperEntry
    difference: Difference = field(default_factory=Difference)  # from the other entry, if there is one other

    @property
    def state(self):
        return self.paper.state_enum


def enter_paper(actor, ballot, number, choices, deputy_id=None):
    """Enter what one paper says; count it when another person's entry agrees.

    ``choices`` as for a phone vote (``normalize_choices``): a malformed paper is refused and
    nothing is stored; ticking more than K is a void paper (废票), entered and counted as invalid.
    """
    number = _clean_number(number)
    payload, valid = normalize_choices(ballot, choices)
    _lock_papers(ballot)
    _require_counting(ballot)
    deputy_id = _clean_deputy(ballot, deputy_id)
    paper = db.session.get(PaperBallot, (ballot.id, number), populate_existing=True)
    if paper is None:
        figures = paper_figures(ballot)
        if figures.counted >= figures.voters:
            raise Conflict(_no_papers_left(figures), code="no_papers_left")
        paper = PaperBallot(ballot_id=ballot.id, number=number, state=PaperState.ENTERED.value)
        db.session.add(paper)
    elif paper.state == PaperState.COUNTED:
        raise Conflict(
            _l("Paper %(number)s is already counted (receipt %(receipt)s).", number=number, receipt=paper.receipt),
            code="paper_counted",
        )
    elif any(e.user_id == actor.id for e in paper.entries):
        raise Conflict(
            _l("You have already entered paper %(number)s; another person must enter it.", number=number),
            code="same_person",
        )
    entry = PaperEntry(user_id=actor.id, choices=payload, valid=valid, deputy_id=deputy_id)
    paper.entries.append(entry)
    db.session.flush()
    agreeing = next((e for e in paper.entries if e is not entry and _same(e, entry)), None)
    if agreeing is not None:
        _count(ballot, paper, entry)
    elif len(paper.entries) > 1:
        paper.state = PaperState.MISMATCH.value
    db.session.flush()
    # A first entry's content stays out of the log, which every organizer can read: the second person
    # must enter the paper blind. Once the entries meet (counted or differing), both are shown anyway.
    content = {} if paper.state == PaperState.ENTERED else {"choices": payload, "valid": valid, "deputy_id": deputy_id}
    record(
        actor_label(actor),
        "ballot.paper_entry",
        "ballot",
        ballot.id,
        number=number,
        entry_id=entry.id,
        outcome=paper.state,
        **content,
    )
    return EntryResult(paper, entry, difference_of(ballot, paper))


def _no_papers_left(figures):
    if figures.voters == 0:
        return _l("No deputy handed in a paper ballot for this ballot.")
    return _l("All %(count)s papers handed in are counted; no other paper can be entered.", count=figures.voters)


def _same(a, b):
    return a.choices == b.choices and a.deputy_id == b.deputy_id


def _new_receipt(ballot_id):
    """A random receipt in the phone receipts' format, unused on this ballot."""
    while True:
        symbols = "".join(secrets.choice(_RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH))
        receipt = symbols[: RECEIPT_LENGTH // 2] + "-" + symbols[RECEIPT_LENGTH // 2 :]
        taken = db.session.scalar(
            select(func.count()).where(CastBallot.ballot_id == ballot_id, CastBallot.receipt == receipt)
        )
        if not taken:
            return receipt


def _count(ballot, paper, entry, resolver=None):
    """Turn a paper into a cast ballot, within the number of papers handed in (the caller holds the lock)."""
    figures = paper_figures(ballot)
    if figures.counted >= figures.voters:
        raise Conflict(_no_papers_left(figures), code="no_papers_left")
    if entry.deputy_id is not None and db.session.scalar(
        select(func.count()).where(PaperBallot.ballot_id == ballot.id, PaperBallot.deputy_id == entry.deputy_id)
    ):
        raise Conflict(_l("A paper of this deputy is already counted."), code="deputy_paper_counted")
    receipt = _new_receipt(ballot.id)
    db.session.execute(
        insert(CastBallot),
        {
            "id": secrets.token_hex(16),
            "ballot_id": ballot.id,
            "receipt": receipt,
            "choices": entry.choices,
            "valid": entry.valid,
            "deputy_id": entry.deputy_id,
        },
    )
    paper.state = PaperState.COUNTED.value
    paper.receipt, paper.valid, paper.deputy_id = receipt, entry.valid, entry.deputy_id
    paper.resolved_by_id = resolver.id if resolver is not None else None


def get_paper(ballot, number):
    paper = db.session.get(PaperBallot, (ballot.id, number))
    if paper is None:
        raise NotFound(_l("No paper with number %(number)s has been entered.", number=number), code="paper_not_found")
    return paper


def resolve_paper(actor, ballot, number, entry_id):
    """Settle a mismatch: a person who made none of the entries picks the one that matches the paper."""
    number = _clean_number(number)
    _lock_papers(ballot)
    _require_counting(ballot)
    paper = db.session.get(PaperBallot, (ballot.id, number), populate_existing=True)
    if paper is None:
        raise NotFound(_l("No paper with number %(number)s has been entered.", number=number), code="paper_not_found")
    if paper.state != PaperState.MISMATCH:
        raise Conflict(_l("Paper %(number)s has no differing entries to settle.", number=number), code="no_mismatch")
    if any(e.user_id == actor.id for e in paper.entries):
        raise Forbidden(
            _l("You entered this paper yourself; a third person must settle the difference."), code="same_person"
        )
    entry = next((e for e in paper.entries if e.id == entry_id), None)
    if entry is None:
        raise NotFound(_l("That entry does not belong to paper %(number)s.", number=number), code="entry_not_found")
    _count(ballot, paper, entry, resolver=actor)
    db.session.flush()
    record(
        actor_label(actor),
        "ballot.paper_resolve",
        "ballot",
        ballot.id,
        number=number,
        entry_id=entry.id,
        choices=entry.choices,
        valid=entry.valid,
    )
    return paper


def discard_entry(actor, ballot, entry_id):
    """Discard an entry of a paper not yet counted (a mistyped number, say); logged."""
    _lock_papers(ballot)
    _require_counting(ballot)
    entry = db.session.get(PaperEntry, entry_id, populate_existing=True)
    if entry is None or entry.ballot_id != ballot.id:
        raise NotFound(_l("No such entry."), code="entry_not_found")
    paper = entry.paper
    if paper.state == PaperState.COUNTED:
        raise Conflict(
            _l("Paper %(number)s is already counted; its entries stay.", number=paper.number), code="paper_counted"
        )
    number, author = paper.number, entry.user.username
    paper.entries.remove(entry)
    db.session.flush()
    if not paper.entries:
        db.session.delete(paper)
    else:
        paper.state = (PaperState.ENTERED if len(paper.entries) == 1 else PaperState.MISMATCH).value
    db.session.flush()
    record(
        actor_label(actor),
        "ballot.paper_entry_discard",
        "ballot",
        ballot.id,
        number=number,
        entry_id=entry_id,
        entered_by=author,
    )
    return number


# -- reading the count --------------------------------------------------------------------------


def list_papers(ballot):
    """Every paper entered so far, by number, with its entries and who made them."""
    return db.session.scalars(
        select(PaperBallot).where(PaperBallot.ballot_id == ballot.id).order_by(PaperBallot.number)
    ).all()


def content_visible(paper):
    """Show an entry's content only once a second one exists: the second person must enter blind."""
    return paper.state != PaperState.ENTERED


def parse_paper(ballot, entry):
    """An entry's choices as plain values: ticked item ids, or item id -> choice."""
    paper = json.loads(entry.choices)
    if ballot.form == tally.Form.CHOOSE:
        return paper
    return {int(key): choice for key, choice in paper.items()}


def difference_of(ballot, paper):
    """Where the entries of an uncounted paper differ: items on which any two disagree, in ballot order."""
    if paper.state == PaperState.COUNTED:
        return Difference()
    papers = [parse_paper(ballot, entry) for entry in paper.entries]
    differing = set()
    for i, first in enumerate(papers):
        for second in papers[i + 1 :]:
            if ballot.form == tally.Form.CHOOSE:
                differing |= set(first) ^ set(second)
            else:
                differing |= {item for item in set(first) | set(second) if first.get(item) != second.get(item)}
    return Difference(
        [item.id for item in ballot.items if item.id in differing],
        len({entry.deputy_id for entry in paper.entries}) > 1,
    )


def suggest_number(ballot, user):
    """The paper to enter next: the lowest waiting for a second person other than ``user``, else a new number."""
    waiting = db.session.scalar(
        select(func.min(PaperBallot.number)).where(
            PaperBallot.ballot_id == ballot.id,
            PaperBallot.state == PaperState.ENTERED.value,
            ~exists().where(
                PaperEntry.ballot_id == PaperBallot.ballot_id,
                PaperEntry.number == PaperBallot.number,
                PaperEntry.user_id == user.id,
            ),
        )
    )
    if waiting is not None:
        return waiting
    highest = db.session.scalar(select(func.max(PaperBallot.number)).where(PaperBallot.ballot_id == ballot.id))
    return min((highest or 0) + 1, MAX_PAPER_NUMBER)
