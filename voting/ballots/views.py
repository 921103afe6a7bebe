"""Organizer pages for ballots: create and edit a draft, open, close, follow the count, see results, re-vote."""

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.routing import BuildError

from voting.auth import roles_required
from voting.ballots import operations, tally
from voting.ballots.forms import BallotForm
from voting.ballots.models import BallotState
from voting.errors import Conflict, DomainError
from voting.extensions import db
from voting.meetings.operations import attendance_of, get_meeting
from voting.timeutil import isoformat_utc, utcnow

bp = Blueprint("ballots", __name__)


@bp.get("/meetings/<int:meeting_id>/ballots")
@roles_required()
def index(meeting_id):
    meeting = get_meeting(meeting_id)
    rows = [(b, operations.count_voters(b)) for b in operations.list_ballots(meeting)]
    return render_template("ballots/index.html", meeting=meeting, rows=rows)


@bp.route("/meetings/<int:meeting_id>/ballots/new", methods=["GET", "POST"])
@roles_required()
def new(meeting_id):
    meeting = get_meeting(meeting_id)
    form = BallotForm()
    if form.validate_on_submit():
        try:
            ballot = operations.create_ballot(
                current_user, meeting, form.title.data, form.kind.data, form.items.data, **form.settings()
            )
        except DomainError as error:
            db.session.rollback()
            form.show_error(error)
        else:
            db.session.commit()
            flash(_("Ballot created as a draft. Check it, then open it when the deputies are ready."), "success")
            return redirect(url_for("ballots.detail", ballot_id=ballot.id))
    status = 400 if request.method == "POST" else 200
    return render_template("ballots/new.html", form=form, meeting=meeting, ballot=None), status


@bp.route("/ballots/<int:ballot_id>/edit", methods=["GET", "POST"])
@roles_required()
def edit(ballot_id):
    ballot = operations.get_ballot(ballot_id)
    if ballot.state != BallotState.DRAFT:
        frozen = Conflict(_("The ballot is open or closed; its rules can no longer change."), code="invalid_state")
        if request.method == "GET":
            flash(frozen.message, "info")
            return redirect(url_for("ballots.detail", ballot_id=ballot.id))
        return _detail_page(ballot, frozen), frozen.status
    form = BallotForm()
    if request.method == "GET":
        form.fill_from(ballot)
    elif form.validate_on_submit():
        try:
            operations.update_ballot(
                current_user,
                ballot,
                items=form.items.data,
                title=form.title.data,
                form=form.kind.data,
                **form.settings(),
            )
        except DomainError as error:
            db.session.rollback()
            if error.code == "invalid_state":
                return _detail_page(operations.get_ballot(ballot_id), error), error.status
            form.show_error(error)
        else:
            db.session.commit()
            flash(_("Ballot saved."), "success")
            return redirect(url_for("ballots.detail", ballot_id=ballot.id))
    status = 400 if request.method == "POST" else 200
    return render_template("ballots/new.html", form=form, meeting=ballot.meeting, ballot=ballot), status


@bp.get("/ballots/<int:ballot_id>")
@roles_required()
def detail(ballot_id):
    return _detail_page(operations.get_ballot(ballot_id))


@bp.post("/ballots/<int:ballot_id>/open")
@roles_required()
def open_ballot(ballot_id):
    ballot = operations.get_ballot(ballot_id)
    try:
        operations.open_ballot(current_user, ballot)
    except DomainError as error:
        db.session.rollback()
        return _detail_page(operations.get_ballot(ballot_id), error), error.status
    db.session.commit()
    flash(_("Voting is open. Deputies' phones show the ballot now."), "success")
    return redirect(url_for("ballots.detail", ballot_id=ballot.id))


@bp.route("/ballots/<int:ballot_id>/close", methods=["GET", "POST"])
@roles_required()
def close_ballot(ballot_id):
    """Ask before closing (GET shows the question); closing is final."""
    ballot = operations.get_ballot(ballot_id)
    if request.method == "GET" or request.form.get("confirm") != "yes":
        counts = attendance_of(ballot.meeting)
        page = render_template(
            "ballots/close.html", ballot=ballot, counts=counts, voters=operations.count_voters(ballot)
        )
        return page, 200 if ballot.state == BallotState.OPEN else 409
    try:
        operations.close_ballot(current_user, ballot)
    except DomainError as error:
        db.session.rollback()
        return _detail_page(operations.get_ballot(ballot_id), error), error.status
    db.session.commit()
    flash(_("Voting is closed and the ballots are counted."), "success")
    return redirect(url_for("ballots.detail", ballot_id=ballot.id) + "#results")


@bp.post("/ballots/<int:ballot_id>/revote")
@roles_required()
def start_revote(ballot_id):
    ballot = operations.get_ballot(ballot_id)
    try:
        revote = operations.start_revote(current_user, ballot)
    except DomainError as error:
        db.session.rollback()
        return _detail_page(operations.get_ballot(ballot_id), error), error.status
    db.session.commit()
    flash(
        _(
            "A re-vote among %(count)s tied items for %(places)s places is ready as a draft. Check it, then open it.",
            count=len(revote.items),
            places=revote.places,
        ),
        "success",
    )
    return redirect(url_for("ballots.detail", ballot_id=revote.id))


@bp.get("/ballots/<int:ballot_id>/progress.json")
@roles_required()
def progress(ballot_id):
    """How many have voted so far (never how); polled by static/js/ballot_admin.js."""
    ballot = operations.get_ballot(ballot_id)
    counts = attendance_of(ballot.meeting)
    voters = operations.count_voters(ballot)
    response = jsonify(
        state=ballot.state,
        voters=voters,
        present=counts.present,
        expected=counts.expected,
        not_voted=max(counts.present - voters, 0),
        closes_at=isoformat_utc(ballot.closes_at),
        seconds_left=_seconds_left(ballot),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/ballots/<int:ballot_id>/results-panel")
@roles_required()
def results_panel(ballot_id):
    """The results section alone, for live results refreshed without reloading the page."""
    ballot = operations.get_ballot(ballot_id)
    counted = operations.results(ballot)
    response = render_template("ballots/_results.html", **_results_context(ballot, counted))
    return response, 200, {"Cache-Control": "no-store"}


# -- page data ----------------------------------------------------------------------------------


def _seconds_left(ballot):
    if ballot.state != BallotState.OPEN or ballot.closes_at is None:
        return None
    return max(0.0, round((ballot.closes_at - utcnow()).total_seconds(), 1))


def _optional_url(endpoint, **values):
    """A link to a page another part of the service provides, or None while it does not exist."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def _links(ballot):
    closed = ballot.state == BallotState.CLOSED
    exports = []
    if closed:
        for fmt, label in (
            ("pdf", _("Tally report (PDF)")),
            ("xlsx", _("Tally report (Excel)")),
            ("csv", _("Raw anonymous ballots (CSV)")),
        ):
            url = _optional_url("ballot_exports.export", ballot_id=ballot.id, fmt=fmt)
            if url:
                exports.append((url, label))
    return {
        "exports": exports,
        "receipts": _optional_url("ballot_booth.receipts", ballot_id=ballot.id) if closed else None,
        "paper": _optional_url("paper_ballots.index", ballot_id=ballot.id)
        if ballot.state != BallotState.DRAFT
        else None,
        "screen": url_for("meetings.screen", meeting_id=ballot.meeting_id),
    }


def _required_now(ballot, counts):
    """Votes an item needs at today's turnout, or None when the base is the ballots cast."""
    base = tally.Base(ballot.threshold_base)
    if base == tally.Base.CAST:
        return None
    count = counts.expected if base == tally.Base.EXPECTED else counts.present
    return operations.threshold_of(ballot).required(count)


# Bar segments per form, in the order they are stacked.
_SEGMENTS = {
    tally.Form.PER_ITEM: (tally.YES, tally.NO, tally.ABSTAIN, "blank"),
    tally.Form.CHOOSE: ("votes",),
    tally.Form.RATING: (tally.SATISFIED, tally.BASIC, tally.UNSATISFIED, "blank"),
}
CHART_WIDTH = 1000


def _chart(ballot, result):
    """Rows of the bar chart: each item's stacked segments on one scale, and the line of the votes needed."""
    scale = max(result.valid, result.required, 1)
    rows = []
    for item in result.items:
        x, segments = 0.0, []
        for key in _SEGMENTS[tally.Form(ballot.form)]:
            count = item.counts.get(key, 0)
            width = CHART_WIDTH * count / scale
            if count:
                segments.append({"key": key, "count": count, "x": round(x, 1), "width": round(width, 1)})
            x += width
        rows.append({"item": item, "segments": segments})
    threshold_x = round(CHART_WIDTH * min(result.required, scale) / scale, 1)
    return {"rows": rows, "width": CHART_WIDTH, "threshold_x": threshold_x}


def _results_context(ballot, counted):
    return {
        "ballot": ballot,
        "counted": counted,
        "result": counted.result,
        "items_by_id": {item.id: item for item in ballot.items},
        "chart": _chart(ballot, counted.result),
        "figures": operations.reconcile(ballot) if counted.final else None,
        "revotes": [b for b in operations.list_ballots(ballot.meeting) if b.revote_of_id == ballot.id],
        "links": _links(ballot),
    }


def _detail_page(ballot, error=None):
    counts = attendance_of(ballot.meeting)
    state = ballot.state_enum
    context = {
        "ballot": ballot,
        "meeting": ballot.meeting,
        "counts": counts,
        "voters": operations.count_voters(ballot),
        "seconds_left": _seconds_left(ballot),
        "required_now": _required_now(ballot, counts),
        "error": error.message if error is not None else None,
        "links": _links(ballot),
        "original": operations.get_ballot(ballot.revote_of_id) if ballot.revote_of_id else None,
    }
    if state == BallotState.CLOSED or (state == BallotState.OPEN and ballot.results_live):
        context.update(_results_context(ballot, operations.results(ballot)))
    return render_template("ballots/detail.html", **context)
