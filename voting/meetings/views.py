"""Organizer pages for meetings, the big screen, and the deputy's scan-to-sign-in page."""

import time
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from wtforms import SelectChoice

from voting.auth import current_deputy_device, device_rate_limit_key, roles_required
from voting.ballots import operations as ballot_operations
from voting.ballots import tally
from voting.ballots.models import Ballot, BallotState
from voting.ballots.operations import list_ballots
from voting.ballots.tally import Form
from voting.deputies.operations import delegations
from voting.errors import DomainError, Invalid
from voting.extensions import db, limiter
from voting.meetings import operations
from voting.meetings.forms import MeetingForm
from voting.qr import qr_svg
from voting.timeutil import utcnow
from voting.urls import public_url

bp = Blueprint("meetings", __name__)


@bp.get("/meetings")
@roles_required()
def index():
    items = [(m, operations.attendance_of(m)) for m in operations.list_meetings()]
    return render_template("meetings/index.html", meetings=items)


@bp.route("/meetings/new", methods=["GET", "POST"])
@roles_required()
def new():
    form = MeetingForm()
    form.delegations.choices = [SelectChoice(d) for d in delegations()]
    if form.validate_on_submit():
        starts_at = form.starts_at.data
        if starts_at is not None:
            zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
            starts_at = starts_at.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
        try:
            meeting = operations.create_meeting(
                current_user,
                form.title.data,
                form.location.data,
                starts_at,
                form.delegations.data or None,
                (form.quorum_numerator.data, form.quorum_denominator.data),
            )
        except DomainError as error:
            form.form_errors.append(str(error.message))
        else:
            db.session.commit()
            flash(_("Meeting created."), "success")
            return redirect(url_for("meetings.detail", meeting_id=meeting.id))
    return render_template("meetings/new.html", form=form), 400 if form.errors or form.form_errors else 200


@bp.get("/meetings/<int:meeting_id>")
@roles_required()
def detail(meeting_id):
    meeting = operations.get_meeting(meeting_id)
    status = request.args.get("status", "all")
    if status not in ("all", "present", "on_leave", "not_arrived"):
        raise Invalid(_("Unknown attendance filter."))
    return render_template(
        "meetings/detail.html",
        meeting=meeting,
        counts=operations.attendance_of(meeting),
        rows=operations.list_attendance(meeting, status),
        status=status,
        ballots=list_ballots(meeting),
    )


@bp.post("/meetings/<int:meeting_id>/signin/<action>")
@roles_required()
def sign_in_state(meeting_id, action):
    meeting = operations.get_meeting(meeting_id)
    if action == "open":
        operations.open_sign_in(current_user, meeting)
        flash(_("Sign-in is open. Put the big screen on the projector."), "success")
    elif action == "close":
        operations.close_sign_in(current_user, meeting)
        flash(_("Sign-in is closed."), "success")
    else:
        raise Invalid(_("Unknown action."))
    db.session.commit()
    return redirect(url_for("meetings.detail", meeting_id=meeting.id))


def _deputy_id_from_form():
    deputy_id = request.form.get("deputy_id", type=int)
    if not deputy_id:
        raise Invalid(_("Choose a deputy."), code="deputy_required")
    return deputy_id


def _back_to_detail(meeting_id):
    status = request.form.get("status", "all")
    return redirect(url_for("meetings.detail", meeting_id=meeting_id, status=status) + "#attendance")


@bp.post("/meetings/<int:meeting_id>/leave")
@roles_required()
def set_leave(meeting_id):
    meeting = operations.get_meeting(meeting_id)
    on_leave = request.form.get("on_leave") == "1"
    member = operations.set_leave(
        current_user, meeting, _deputy_id_from_form(), on_leave, request.form.get("reason", "")
    )
    db.session.commit()
    flash(
        _("%(name)s: leave recorded.", name=member.deputy.name)
        if on_leave
        else _("%(name)s: leave withdrawn.", name=member.deputy.name),
        "success",
    )
    return _back_to_detail(meeting.id)


@bp.post("/meetings/<int:meeting_id>/manual-checkin")
@roles_required()
def manual_check_in(meeting_id):
    meeting = operations.get_meeting(meeting_id)
    member = operations.manual_check_in(current_user, meeting, _deputy_id_from_form(), request.form.get("reason"))
    db.session.commit()
    flash(_("%(name)s signed in by hand.", name=member.deputy.name), "success")
    return _back_to_detail(meeting.id)


@bp.post("/meetings/<int:meeting_id>/undo-checkin")
@roles_required()
def undo_check_in(meeting_id):
    meeting = operations.get_meeting(meeting_id)
    member = operations.undo_check_in(current_user, meeting, _deputy_id_from_form(), request.form.get("reason"))
    db.session.commit()
    flash(_("%(name)s: sign-in undone.", name=member.deputy.name), "success")
    return _back_to_detail(meeting.id)


# -- the big screen ---------------------------------------------------------------------------


@bp.get("/meetings/<int:meeting_id>/screen")
@roles_required()
def screen(meeting_id):
    """The projector: the sign-in QR code and counts; a ballot's progress while open; its results after close.

    ``?ballot=<id>`` keeps a closed ballot's results up (when no ballot is open) past the usual
    SCREEN_RESULTS_MINUTES.
    """
    meeting = operations.get_meeting(meeting_id)
    state = _screen_state(meeting)
    results = None
    if state["view"].startswith("results:"):
        results = _screen_results(ballot_operations.get_ballot(state["ballot"]["id"]))
    return render_template("meetings/screen.html", meeting=meeting, state=state, results=results)


@bp.get("/meetings/<int:meeting_id>/screen.json")
@roles_required()
def screen_state(meeting_id):
    """What the big screen shows now; polled twice a second by the screen page."""
    response = jsonify(_screen_state(operations.get_meeting(meeting_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


def _screen_state(meeting):
    counts = operations.attendance_of(meeting)
    state = {
        "state": meeting.state,
        "state_label": str(meeting.state_enum.label),
        "expected": counts.expected,
        "present": counts.present,
        "on_leave": counts.on_leave,
        "not_arrived": counts.not_arrived,
        "quorum_required": counts.quorum_required,
        "quorum_met": counts.quorum_met,
        "code": None,
        # What the screen is showing: "signin", "open:<ballot id>" or "results:<ballot id>". The page
        # reloads when it changes; within one view the script updates the figures in place.
        "view": "signin",
        "ballot": None,
    }
    if meeting.state == "signin_open":
        current = operations.current_code(meeting)
        url = public_url("meetings.scan", code=current.code)
        state.update(
            code=current.code,
            url=url,
            qr_svg=qr_svg(url, title=_("Sign-in QR code")),
            seconds_left=max(0.0, round(current.shown_until - time.time(), 1)),
        )
    ballot = _screen_ballot(meeting, request.args.get("ballot", type=int))
    if ballot is not None and ballot.state == BallotState.OPEN:
        voters = ballot_operations.count_voters(ballot)
        seconds_left = None
        if ballot.closes_at is not None:
            seconds_left = max(0, int((ballot.closes_at - utcnow()).total_seconds()))
        state.update(
            view=f"open:{ballot.id}",
            # How many have voted, never how.
            ballot={"id": ballot.id, "title": ballot.title, "voters": voters, "seconds_left": seconds_left},
        )
    elif ballot is not None:
        state.update(view=f"results:{ballot.id}", ballot={"id": ballot.id, "title": ballot.title})
    return state


def _screen_ballot(meeting, pinned_id=None):
    """The ballot the screen is about: the latest opened one still open; else a pinned or just-closed one."""
    found = db.session.scalars(
        select(Ballot)
        .where(Ballot.meeting_id == meeting.id, Ballot.state == BallotState.OPEN.value)
        .order_by(Ballot.opened_at.desc(), Ballot.id.desc())
        .limit(1)
    ).first()
    if found is not None:
        return found
    if pinned_id is not None:
        pinned = db.session.get(Ballot, pinned_id)
        if pinned is not None and pinned.meeting_id == meeting.id and pinned.state == BallotState.CLOSED:
            return pinned
    since = utcnow() - timedelta(minutes=current_app.config["SCREEN_RESULTS_MINUTES"])
    return db.session.scalars(
        select(Ballot)
        .where(Ballot.meeting_id == meeting.id, Ballot.state == BallotState.CLOSED.value, Ballot.closed_at > since)
        .order_by(Ballot.closed_at.desc(), Ballot.id.desc())
        .limit(1)
    ).first()


# The stacked segments of each form's bars, left to right.
_SCREEN_SEGMENTS = {
    Form.PER_ITEM: (tally.YES, tally.NO, tally.ABSTAIN, "blank"),
    Form.CHOOSE: ("votes",),
    Form.RATING: (tally.SATISFIED, tally.BASIC, tally.UNSATISFIED, "blank"),
}
SCREEN_BAR_WIDTH = 1000


def _screen_results(ballot):
    """The closed ballot's tally, with a bar per item on one scale and the line of the votes needed."""
    counted = ballot_operations.results(ballot)
    result = counted.result
    keys = _SCREEN_SEGMENTS[Form(ballot.form)]
    scale = max(result.valid, result.required, 1)
    items = {item.id: item for item in ballot.items}
    rows = []
    for row in result.items:
        x, segments = 0.0, []
        for key in keys:
            width = SCREEN_BAR_WIDTH * row.counts.get(key, 0) / scale
            if width:
                segments.append({"key": key, "x": round(x, 1), "width": round(width, 1)})
            x += width
        rows.append({"item": items[row.item], "result": row, "segments": segments})
    return {
        "ballot": ballot,
        "counted": counted,
        "result": result,
        "rows": rows,
        "segment_keys": keys,
        "width": SCREEN_BAR_WIDTH,
        "threshold_x": round(SCREEN_BAR_WIDTH * min(result.required, scale) / scale, 1),
        "tied": [items[item_id] for item_id in result.tied_items],
    }


# -- the deputy's phone -----------------------------------------------------------------------


def _tickets():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="checkin-ticket")


@bp.get("/c/<code>")
def scan(code):
    """The page a scanned screen code opens: checks the code and offers one button (changes nothing)."""
    device = current_deputy_device()
    if device is None:
        return render_template(
            "meetings/scan.html",
            error=_(
                "This phone is not bound to a deputy yet. Scan the QR code on your activation card first, "
                "then scan the screen again."
            ),
            device=None,
        ), 401
    try:
        parsed = operations.verify_code(code)
        meeting = operations.get_meeting(parsed.meeting_id)
    except DomainError as error:
        return render_template("meetings/scan.html", error=error.message, device=device), error.status
    member = db.session.get(operations.MeetingMember, (meeting.id, device.deputy_id))
    if member is None:
        return render_template(
            "meetings/scan.html",
            device=device,
            meeting=meeting,
            error=_("You are not expected at this meeting (%(title)s).", title=meeting.title),
        ), 403
    if member.checked_in_at is None:
        try:
            operations.ensure_signin_accepts(meeting, parsed.epoch)
        except DomainError as refusal:
            page = render_template("meetings/scan.html", device=device, meeting=meeting, error=refusal.message)
            return page, refusal.status
    ticket = _tickets().dumps({"m": meeting.id, "e": parsed.epoch, "d": device.id})
    return render_template("meetings/scan.html", device=device, meeting=meeting, member=member, ticket=ticket)


@bp.post("/c/<code>")
@limiter.limit(lambda: current_app.config["RATELIMIT_CHECKIN"], key_func=device_rate_limit_key)
def check_in(code):
    """Sign in with the ticket the scan page handed out (valid a couple of minutes after the scan)."""
    device = current_deputy_device()
    if device is None:
        return render_template(
            "meetings/scan.html",
            device=None,
            error=_("This phone is not bound to a deputy yet. Scan the QR code on your activation card first."),
        ), 401
    try:
        data = _tickets().loads(request.form.get("ticket", ""), max_age=current_app.config["CHECKIN_TICKET_SECONDS"])
    except SignatureExpired:
        return render_template(
            "meetings/scan.html",
            device=device,
            error=_("Too much time has passed since you scanned. Please scan the code on the big screen again."),
        ), 400
    except BadSignature:
        return render_template(
            "meetings/scan.html",
            device=device,
            error=_("This sign-in form is not genuine. Please scan the code on the big screen again."),
        ), 400
    if data.get("d") != device.id:
        return render_template(
            "meetings/scan.html",
            device=device,
            error=_("This sign-in form belongs to another phone. Please scan the code on the big screen yourself."),
        ), 400
    try:
        result = operations.check_in(device.token_hash, data["m"], data["e"])
    except DomainError as error:
        return render_template("meetings/scan.html", device=device, error=error.message), error.status
    db.session.commit()
    meeting = operations.get_meeting(result.meeting_id)
    return render_template("meetings/signed_in.html", device=device, meeting=meeting, result=result)
