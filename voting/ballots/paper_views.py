"""Organizer pages for paper ballots: record who handed in a paper, enter each paper twice, settle mismatches."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.routing import BuildError

from voting.auth import roles_required
from voting.ballots import operations, paper, tally
from voting.ballots.models import BallotState
from voting.ballots.paper_models import MAX_PAPER_NUMBER, PaperState
from voting.errors import DomainError, Invalid
from voting.extensions import db

bp = Blueprint("paper_ballots", __name__)

ELIGIBLE_SHOWN = 50  # deputies offered at once for recording a hand-in; a search finds the others

# The choices a paper offers per item, in the order printed on it.
CHOICES = {
    tally.Form.PER_ITEM: (tally.YES, tally.NO, tally.ABSTAIN),
    tally.Form.RATING: (tally.SATISFIED, tally.BASIC, tally.UNSATISFIED),
}


def _back_url(ballot):
    """The ballot's own organizer page, or its meeting's while that page does not exist."""
    try:
        return url_for("ballots.detail", ballot_id=ballot.id)
    except BuildError:
        return url_for("meetings.detail", meeting_id=ballot.meeting_id)


def _int_field(name, message, code):
    value = (request.form.get(name) or "").strip()
    if not (value.isascii() and value.isdigit()):
        raise Invalid(message, code=code)
    return int(value)


@bp.get("/ballots/<int:ballot_id>/paper")
@roles_required()
def index(ballot_id):
    ballot = operations.get_ballot(ballot_id)
    search = request.args.get("q", "")[:100]
    papers = paper.list_papers(ballot)
    voters = paper.list_paper_voters(ballot)
    return render_template(
        "ballots/paper.html",
        ballot=ballot,
        back_url=_back_url(ballot),
        figures=paper.paper_figures(ballot),
        voters=voters,
        voters_by_id={d.id: f"{d.number} {d.name}" for d in voters},
        eligible=paper.eligible_paper_voters(ballot, search, ELIGIBLE_SHOWN)
        if ballot.state == BallotState.OPEN
        else [],
        eligible_limit=ELIGIBLE_SHOWN,
        search=search,
        mismatched=[
            (p, paper.difference_of(ballot, p), [paper.parse_paper(ballot, e) for e in p.entries])
            for p in papers
            if p.state == PaperState.MISMATCH
        ],
        waiting=[p for p in papers if p.state == PaperState.ENTERED],
        counted=[p for p in papers if p.state == PaperState.COUNTED],
        choice_label=choice_label,
    )


@bp.post("/ballots/<int:ballot_id>/paper/voters")
@roles_required()
def record_voter(ballot_id):
    ballot = operations.get_ballot(ballot_id)
    deputy_id = _int_field("deputy_id", _("Choose a deputy."), "deputy_required")
    deputy = paper.record_paper_voter(current_user, ballot, deputy_id)
    db.session.commit()
    flash(_("%(name)s handed in a paper ballot: recorded.", name=deputy.name), "success")
    return redirect(url_for("paper_ballots.index", ballot_id=ballot.id))


@bp.post("/ballots/<int:ballot_id>/paper/withdraw")
@roles_required()
def withdraw_voter(ballot_id):
    ballot = operations.get_ballot(ballot_id)
    deputy_id = _int_field("deputy_id", _("Choose a deputy."), "deputy_required")
    paper.withdraw_paper_voter(current_user, ballot, deputy_id, request.form.get("reason"))
    db.session.commit()
    flash(_("The paper hand-in is withdrawn."), "success")
    return redirect(url_for("paper_ballots.index", ballot_id=ballot.id) + "#voters")


def _choices_from_form(ballot):
    if ballot.form == tally.Form.CHOOSE:
        return request.form.getlist("tick")
    return {
        str(item.id): request.form[f"item-{item.id}"] for item in ballot.items if request.form.get(f"item-{item.id}")
    }


def _entry_page(ballot, values, error=None, status=200):
    return render_template(
        "ballots/paper_enter.html",
        ballot=ballot,
        values=values,
        error=error,
        choices=CHOICES.get(ballot.form, ()),
        choice_label=choice_label,
        voters=paper.list_paper_voters(ballot) if not ballot.secret else [],
        figures=paper.paper_figures(ballot),
        max_number=MAX_PAPER_NUMBER,
    ), status


@bp.get("/ballots/<int:ballot_id>/paper/enter")
@roles_required()
def enter_form(ballot_id):
    ballot = operations.get_ballot(ballot_id)
    values = {"number": paper.suggest_number(ballot, current_user), "choices": {}, "ticks": set(), "deputy_id": None}
    return _entry_page(ballot, values)


@bp.post("/ballots/<int:ballot_id>/paper/enter")
@roles_required()
def enter(ballot_id):
    ballot = operations.get_ballot(ballot_id)
    choices = _choices_from_form(ballot)
    deputy = (request.form.get("deputy_id") or "").strip()
    values = {
        "number": (request.form.get("number") or "").strip(),
        "choices": choices if isinstance(choices, dict) else {},
        "ticks": set(choices) if isinstance(choices, list) else set(),
        "deputy_id": deputy,
    }
    try:
        number = _int_field(
            "number",
            _("The paper's number must be a whole number from 1 to %(max)s.", max=MAX_PAPER_NUMBER),
            "invalid_paper_number",
        )
        deputy_id = None
        if not ballot.secret:
            deputy_id = _int_field(
                "deputy_id", _("A named ballot's paper names its deputy: choose them."), "deputy_required"
            )
        result = paper.enter_paper(current_user, ballot, number, choices, deputy_id)
    except DomainError as error:
        db.session.rollback()
        return _entry_page(ballot, values, str(error.message), error.status)
    db.session.commit()
    state = result.paper.state
    if state == PaperState.COUNTED:
        if result.paper.valid:
            message = _(
                "Paper %(number)s is counted. Write its receipt on the paper: %(receipt)s.",
                number=number,
                receipt=result.paper.receipt,
            )
        else:
            message = _(
                "Paper %(number)s is counted as void (more ticks than places). Write its receipt on the paper: "
                "%(receipt)s.",
                number=number,
                receipt=result.paper.receipt,
            )
        flash(message, "success")
    elif state == PaperState.ENTERED:
        flash(_("Paper %(number)s is entered once. A second person must now enter it.", number=number), "info")
    else:
        flash(
            _(
                "Paper %(number)s: the entries differ, so it is not counted. Compare them with the paper.",
                number=number,
            ),
            "error",
        )
        return redirect(url_for("paper_ballots.index", ballot_id=ballot.id) + f"#paper-{number}")
    return redirect(url_for("paper_ballots.enter_form", ballot_id=ballot.id))


@bp.post("/ballots/<int:ballot_id>/paper/resolve")
@roles_required()
def resolve(ballot_id):
    ballot = operations.get_ballot(ballot_id)
    number = _int_field("number", _("No such paper."), "paper_not_found")
    entry_id = _int_field("entry_id", _("No such entry."), "entry_not_found")
    item = paper.resolve_paper(current_user, ballot, number, entry_id)
    db.session.commit()
    flash(
        _(
            "Paper %(number)s is counted. Write its receipt on the paper: %(receipt)s.",
            number=number,
            receipt=item.receipt,
        ),
        "success",
    )
    return redirect(url_for("paper_ballots.index", ballot_id=ballot.id))


@bp.post("/ballots/<int:ballot_id>/paper/discard")
@roles_required()
def discard(ballot_id):
    ballot = operations.get_ballot(ballot_id)
    entry_id = _int_field("entry_id", _("No such entry."), "entry_not_found")
    number = paper.discard_entry(current_user, ballot, entry_id)
    db.session.commit()
    flash(_("An entry of paper %(number)s is discarded.", number=number), "success")
    return redirect(url_for("paper_ballots.index", ballot_id=ballot.id))


def choice_label(choice):
    return {
        tally.YES: _("In favour"),
        tally.NO: _("Against"),
        tally.ABSTAIN: _("Abstain"),
        tally.SATISFIED: _("Satisfied"),
        tally.BASIC: _("Basically satisfied"),
        tally.UNSATISFIED: _("Unsatisfied"),
        None: _("Left blank"),
    }[choice]
