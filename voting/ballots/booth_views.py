"""The deputy's phone during a vote: wait, vote, check, submit, receipt; and the published receipt codes.

Built for one hand and elderly eyes, and complete without JavaScript: the review step is a page
of its own that carries the choices in hidden fields, and the waiting page reloads itself every
few seconds. With JavaScript (static/js/booth.js) the waiting page follows the meeting live
(``voting.ballots.live``), the choose-K-of-M page counts the ticks left and refuses one too many,
and the countdown ticks.

Pages that show choices or a receipt are never cached: the next person to pick up the phone,
or the back button, must not bring them back.
"""

import json
import re
import secrets

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from voting.accounts.models import MEETING_ROLES
from voting.auth import current_deputy_device
from voting.ballots import live
from voting.ballots import operations as ballots
from voting.ballots.models import Ballot, BallotParticipation, BallotState, CastBallot
from voting.ballots.tally import ABSTAIN, BASIC, NO, SATISFIED, UNSATISFIED, YES, Form
from voting.errors import Conflict, DomainError, Forbidden, Invalid, Unauthorized, error_response, wants_json
from voting.extensions import db
from voting.meetings.models import Meeting, MeetingMember
from voting.meetings.operations import get_meeting
from voting.timeutil import utcnow

bp = Blueprint("ballot_booth", __name__)

RECENT_BALLOTS = 3  # closed ballots the waiting page still mentions
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def choice_labels(form):
    """The choices of a per-item or rating ballot, in the order the page offers them."""
    if form == Form.PER_ITEM:
        return [(YES, _("In favour")), (NO, _("Against")), (ABSTAIN, _("Abstain"))]
    return [(SATISFIED, _("Satisfied")), (BASIC, _("Basically satisfied")), (UNSATISFIED, _("Unsatisfied"))]


# -- who is asking ---------------------------------------------------------------------------------


def _device():
    device = current_deputy_device()
    if device is None:
        raise Unauthorized(
            _l("This phone is not bound to a deputy yet. Scan the QR code on your activation card first."),
            code="device_required",
        )
    return device


def _device_token():
    return request.cookies.get(current_app.config["DEVICE_COOKIE_NAME"], "")


def _member(meeting_id, device, signed_in=True):
    g.booth_meeting_id = meeting_id
    member = db.session.get(MeetingMember, (meeting_id, device.deputy_id))
    if member is None:
        g.booth_meeting_id = None  # not their meeting: no link into it
        raise Forbidden(
            _l("You are not expected at this meeting, so you cannot vote on its ballots."), code="not_a_member"
        )
    if signed_in and member.checked_in_at is None:
        raise Forbidden(
            _l(
                "Sign in to the meeting first: scan the QR code on the big screen with this phone. "
                "Only deputies who signed in may vote."
            ),
            code="not_signed_in",
        )
    return member


def _ballot(ballot_id):
    ballot = ballots.get_ballot(ballot_id)
    g.booth_ballot = ballot
    return ballot


def _open_now(ballot, now=None):
    return ballot.state == BallotState.OPEN and (ballot.closes_at is None or ballot.closes_at > (now or utcnow()))


def _voting_ballot(ballot_id):
    """Return (device, ballot) if this phone's deputy may vote on the ballot now; else a clear refusal."""
    device = _device()
    ballot = _ballot(ballot_id)
    _member(ballot.meeting_id, device)
    if ballot.state == BallotState.DRAFT:
        raise Conflict(_l("Voting on this ballot has not opened yet."), code="ballot_not_open")
    if ballot.state == BallotState.CLOSED:
        raise Conflict(_l("Voting on this ballot has closed."), code="ballot_closed")
    if not _open_now(ballot):
        raise Conflict(_l("The time for voting on this ballot is up."), code="ballot_time_up")
    return device, ballot


def _has_voted(ballot, device):
    return db.session.get(BallotParticipation, (ballot.id, device.deputy_id)) is not None


def _phone_receipt(ballot, token):
    """This phone's receipt for the ballot and whether that paper is valid, or (None, None) if it cast none."""
    receipt = ballots.receipt_for(token, ballot.id)
    valid = db.session.scalar(
        select(CastBallot.valid).where(CastBallot.ballot_id == ballot.id, CastBallot.receipt == receipt)
    )
    return (receipt, valid) if valid is not None else (None, None)


@bp.errorhandler(DomainError)
def refused(error):
    """Say why, in words, with the way on: the waiting page, the receipt, the published codes."""
    db.session.rollback()
    if wants_json():
        return error_response(error)
    ballot = g.get("booth_ballot")
    links = []
    if error.code == "device_required":
        links.append((url_for("deputies.activate"), _("Enter the code from my card")))
    if ballot is not None and error.code == "already_voted":
        links.append((url_for(".receipt", ballot_id=ballot.id), _("See my receipt")))
    if ballot is not None and ballot.state == BallotState.CLOSED and g.get("booth_meeting_id"):
        links.append((url_for(".receipts", ballot_id=ballot.id), _("Check the published receipt codes")))
    if g.get("booth_meeting_id") and error.code != "not_signed_in":
        links.append((url_for(".waiting", meeting_id=g.booth_meeting_id), _("Back to the voting page")))
    page = render_template("ballots/booth_message.html", message=error.message, ballot=ballot, links=links)
    return page, error.status, {"Cache-Control": "no-store"}


def _private(page, status=200):
    return page, status, {"Cache-Control": "no-store"}


# -- waiting -------------------------------------------------------------------------------------


@bp.get("/m/<int:meeting_id>/vote")
def waiting(meeting_id):
    """Wait for the next vote; go straight to a ballot that is open and not yet voted on."""
    device = _device()
    meeting = get_meeting(meeting_id)
    _member(meeting.id, device)
    now = utcnow()
    shown = db.session.scalars(
        select(Ballot)
        .where(Ballot.meeting_id == meeting.id, Ballot.state == BallotState.OPEN.value)
        .order_by(Ballot.id)
    ).all()
    shown += db.session.scalars(
        select(Ballot)
        .where(Ballot.meeting_id == meeting.id, Ballot.state == BallotState.CLOSED.value)
        .order_by(Ballot.closed_at.desc(), Ballot.id.desc())
        .limit(RECENT_BALLOTS)
    ).all()
    voted = set(
        db.session.scalars(
            select(BallotParticipation.ballot_id).where(
                BallotParticipation.deputy_id == device.deputy_id,
                BallotParticipation.ballot_id.in_([b.id for b in shown]),
            )
        )
    )
    open_now = [b for b in shown if _open_now(b, now)]
    for ballot in open_now:
        if ballot.id not in voted:
            return redirect(url_for(".ballot", ballot_id=ballot.id), 303)
    token = _device_token()
    rows = [(b, b.id in voted, *(_phone_receipt(b, token) if b.id in voted else (None, None))) for b in shown]
    return _private(
        render_template(
            "ballots/booth_waiting.html",
            meeting=meeting,
            device=device,
            open_rows=[r for r in rows if _open_now(r[0], now)],
            ended_rows=[r for r in rows if not _open_now(r[0], now)],
            version=live.version_of(b.id for b in open_now),
        )
    )


@bp.get("/m/<int:meeting_id>/vote/state.json")
def state(meeting_id):
    """Which ballots of the meeting are open: the page's fallback when it cannot hold a stream.

    Public and the same for everyone (the big screen shows as much), so a proxy may cache it for
    a second; the process reads the database at most once a second per meeting.
    """
    response = jsonify(live.state_document(live.hub(current_app._get_current_object()).current_version(meeting_id)))
    response.headers["Cache-Control"] = "public, max-age=1"
    return response


@bp.get("/m/<int:meeting_id>/vote/stream")
def stream(meeting_id):
    """Server-sent events: the open ballots now, then whenever they change (see voting.ballots.live)."""
    app = current_app._get_current_object()
    if not live.streaming_enabled(app):
        return "", 204  # EventSource stops; the page polls state.json instead
    _device()
    hub = live.hub(app)
    version = hub.known_version(meeting_id)
    if version is None:
        version = live.version_of(live.open_ballot_ids([meeting_id])[meeting_id])
    events = live.stream_events(hub, meeting_id, version, float(app.config["BALLOT_STREAM_SECONDS"]))
    return current_app.response_class(
        events,
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def meetings_signed_in(device, limit=3):
    """The meetings this phone's deputy is signed in to, latest first: where the deputy may vote."""
    return db.session.scalars(
        select(Meeting)
        .join(MeetingMember, MeetingMember.meeting_id == Meeting.id)
        .where(MeetingMember.deputy_id == device.deputy_id, MeetingMember.checked_in_at.is_not(None))
        .order_by(MeetingMember.checked_in_at.desc())
        .limit(limit)
    ).all()


# -- the ballot, the review, the submission ----------------------------------------------------------


def _choices_from_form(ballot):
    """Read the ballot paper from the form: ticked ids (choose) or item id -> choice."""
    if ballot.form == Form.CHOOSE:
        return request.form.getlist("tick")
    paper = {}
    for key, values in request.form.lists():
        if key.startswith("item-"):
            if len(values) != 1:
                raise Invalid(
                    _l("The ballot paper is not valid for this ballot. Please reload the ballot and vote again."),
                    code="invalid_choices",
                )
            if values[0]:
                paper[key.removeprefix("item-")] = values[0]
    return paper


def _checked_paper(ballot, raw):
    """Check a paper as casting would; return it as ticked ids or {item id: choice}, and whether it is valid."""
    payload, valid = ballots.normalize_choices(ballot, raw)  # refuses a forged paper with a clear message
    paper = json.loads(payload)
    if isinstance(paper, dict):
        paper = {int(key): choice for key, choice in paper.items()}
    return paper, valid


def _nonce():
    nonce = request.form.get("nonce", "")
    return nonce if _NONCE.match(nonce) else secrets.token_urlsafe(16)


def _seconds_left(ballot):
    if ballot.closes_at is None:
        return None
    return max(0, int((ballot.closes_at - utcnow()).total_seconds()))


def _ballot_page(ballot, paper=None, nonce=None, again=False):
    """Draw the ballot form, filled in with ``paper`` (item id -> choice, or ticked ids) if given."""
    if isinstance(paper, list):
        ticked, chosen = set(paper), {}
    else:
        ticked, chosen = set(), paper or {}
    return _private(
        render_template(
            "ballots/booth_ballot.html",
            ballot=ballot,
            options=choice_labels(ballot.form),
            ticked=ticked,
            chosen=chosen,
            nonce=nonce or secrets.token_urlsafe(16),
            seconds_left=_seconds_left(ballot),
            again=again,
        )
    )


@bp.get("/b/<int:ballot_id>")
def ballot(ballot_id):
    """The ballot paper (a GET: changes nothing)."""
    device, ballot = _voting_ballot(ballot_id)
    voted = _has_voted(ballot, device)
    if voted and not ballot.last_submission_counts:
        return redirect(url_for(".receipt", ballot_id=ballot.id), 303)
    return _ballot_page(ballot, again=voted)


@bp.post("/b/<int:ballot_id>/review")
def review(ballot_id):
    """Show the choices for a last look before submitting (changes nothing); or go back to change them."""
    device, ballot = _voting_ballot(ballot_id)
    paper, valid = _checked_paper(ballot, _choices_from_form(ballot))
    nonce = _nonce()
    voted = _has_voted(ballot, device)
    if voted and not ballot.last_submission_counts:
        return redirect(url_for(".receipt", ballot_id=ballot.id), 303)
    if request.form.get("change"):
        return _ballot_page(ballot, paper, nonce, again=voted)
    labels = dict(choice_labels(ballot.form))
    if ballot.form == Form.CHOOSE:
        rows = [(item, None) for item in ballot.items if item.id in set(paper)]
        blank = 0
    else:
        rows = [(item, paper.get(item.id)) for item in ballot.items]
        blank = sum(1 for _item, choice in rows if choice is None)
    return _private(
        render_template(
            "ballots/booth_review.html",
            ballot=ballot,
            rows=rows,
            labels=labels,
            paper=paper,
            valid=valid,
            blank=blank,
            nonce=nonce,
            seconds_left=_seconds_left(ballot),
        )
    )


@bp.post("/b/<int:ballot_id>/cast")
def cast(ballot_id):
    """Submit the ballot paper; a repeated tap or resubmission gets the same receipt back."""
    device = _device()
    ballot = _ballot(ballot_id)
    g.booth_meeting_id = ballot.meeting_id
    nonce = request.form.get("nonce", "")
    result = ballots.cast_ballot(
        ballot, device, _device_token(), _choices_from_form(ballot), idempotency_key=nonce or None
    )
    db.session.commit()
    if result.repeated:
        flash(_("Your vote had already been recorded; nothing was changed."), "info")
    elif result.replaced:
        flash(_("Your new vote replaced your earlier one."), "success")
    return redirect(url_for(".receipt", ballot_id=ballot.id), 303)


@bp.get("/b/<int:ballot_id>/receipt")
def receipt(ballot_id):
    """This phone's receipt code for the ballot and how to check it after close."""
    device = _device()
    ballot = _ballot(ballot_id)
    _member(ballot.meeting_id, device, signed_in=False)
    voted = _has_voted(ballot, device)
    code, valid = _phone_receipt(ballot, _device_token()) if voted else (None, None)
    open_now = _open_now(ballot)
    version = live.hub(current_app._get_current_object()).current_version(ballot.meeting_id)
    return _private(
        render_template(
            "ballots/booth_receipt.html",
            ballot=ballot,
            voted=voted,
            receipt=code,
            valid=valid,
            open_now=open_now,
            version=version,
        )
    )


# -- the published receipt codes --------------------------------------------------------------------


def normalize_receipt(text):
    """Read a typed receipt code: any case, spaces or dashes; return it as printed (K7QX2-MNP8R) or None."""
    code = re.sub(r"[\s\-－—_]", "", text or "").upper()
    if len(code) != ballots.RECEIPT_LENGTH or not code.isascii() or not code.isalnum():
        return None
    half = ballots.RECEIPT_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


@bp.get("/b/<int:ballot_id>/receipts")
def receipts(ballot_id):
    """After close: every receipt code, and whether a typed one is among them (a GET: changes nothing)."""
    device = current_deputy_device()
    staff = current_user.is_authenticated and current_user.has_role(*MEETING_ROLES)
    if device is None and not staff:
        _device()  # the refusal for a phone that is not bound
    ballot = _ballot(ballot_id)
    mine = None
    if device is not None and not staff:
        _member(ballot.meeting_id, device, signed_in=False)
    codes = ballots.list_receipts(ballot)  # refused until the ballot closes
    figures = ballots.reconcile(ballot)
    if device is not None and _has_voted(ballot, device):
        mine = _phone_receipt(ballot, _device_token())[0]
    typed = request.args.get("code", "").strip()
    code = normalize_receipt(typed) if typed else None
    return render_template(
        "ballots/booth_receipts.html",
        ballot=ballot,
        codes=codes,
        figures=figures,
        typed=typed[:40],
        code=code,
        found=code is not None and code in set(codes),
        mine=mine,
    )
