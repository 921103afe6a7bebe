"""Meetings: who is expected, leave, opening sign-in, and signing in by QR code or by hand."""

import time
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, case, func, insert, select, text

from voting.audit.operations import actor_label, record
from voting.database import autocommit_connection
from voting.deputies.models import Deputy
from voting.errors import Conflict, Forbidden, Invalid, NotFound
from voting.extensions import db
from voting.meetings import checkin_codes
from voting.meetings.models import CheckinMethod, Meeting, MeetingMember, MeetingState
from voting.meetings.rules import attendance
from voting.timeutil import utcnow

_CODE_MESSAGES = {
    "malformed": _l("This is not a sign-in code of this meeting. Please scan the code on the big screen again."),
    "tampered": _l("This sign-in code is not genuine. Please scan the code on the big screen again."),
    "expired": _l("This sign-in code has expired (codes change every few seconds). "
                  "Please scan the code on the big screen again."),
    "other_meeting": _l("This sign-in code belongs to another meeting."),
    "old_opening": _l("This sign-in code is from an earlier sign-in round. "
                      "Please scan the code on the big screen again."),
}


def get_meeting(meeting_id):
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound(_l("No such meeting."), code="meeting_not_found")
    return meeting


def list_meetings():
    return db.session.scalars(select(Meeting).order_by(Meeting.id.desc())).all()


def create_meeting(actor, title, location="", starts_at=None, delegations=None, quorum=None):
    """Create a meeting whose expected deputies (应到) are the active roster, or some delegations of it."""
    title = (title or "").strip()
    if not title or len(title) > 200:
        raise Invalid(_l("A title of 1 to 200 characters is required."), code="invalid_title")
    numerator, denominator = quorum or (current_app.config["QUORUM_NUMERATOR"],
                                        current_app.config["QUORUM_DENOMINATOR"])
    if not (0 < numerator <= denominator):
        raise Invalid(_l("The quorum must be a fraction between 0 and 1."), code="invalid_quorum")
    meeting = Meeting(title=title, location=(location or "").strip()[:200], starts_at=starts_at,
                      quorum_numerator=numerator, quorum_denominator=denominator)
    db.session.add(meeting)
    db.session.flush()
    deputies = select(Deputy.id).where(Deputy.active.is_(True))
    if delegations:
        deputies = deputies.where(Deputy.delegation.in_(delegations))
    deputy_ids = db.session.scalars(deputies).all()
    if not deputy_ids:
        raise Invalid(_l("No active deputies to expect at this meeting. Import the roster first."),
                      code="no_deputies")
    db.session.execute(insert(MeetingMember), [{"meeting_id": meeting.id, "deputy_id": d} for d in deputy_ids])
    record(actor_label(actor), "meeting.create", "meeting", meeting.id, title=title, expected=len(deputy_ids),
           delegations=delegations or "all", quorum=f"{numerator}/{denominator}")
    return meeting


def get_member(meeting, deputy_id):
    member = db.session.get(MeetingMember, (meeting.id, deputy_id))
    if member is None:
        raise NotFound(_l("This deputy is not expected at this meeting."), code="not_a_member")
    return member


def set_leave(actor, meeting, deputy_id, on_leave, reason=""):
    """Grant (or withdraw) leave for a deputy; they stay in 应到 and are shown apart."""
    member = get_member(meeting, deputy_id)
    member.on_leave = bool(on_leave)
    member.leave_reason = (reason or "").strip()[:200] if on_leave else ""
    record(actor_label(actor), "meeting.set_leave", "meeting", meeting.id, deputy_id=deputy_id,
           on_leave=member.on_leave, reason=member.leave_reason)
    return member


def open_sign_in(actor, meeting):
    """Open sign-in (again); codes from an earlier opening stop working."""
    meeting.transition(MeetingState.SIGNIN_OPEN)
    meeting.signin_epoch += 1
    meeting.signin_opened_at = utcnow()
    record(actor_label(actor), "meeting.open_signin", "meeting", meeting.id, epoch=meeting.signin_epoch)


def close_sign_in(actor, meeting):
    """Close sign-in; no code signs anyone in until it is opened again."""
    meeting.transition(MeetingState.SIGNIN_CLOSED)
    meeting.signin_closed_at = utcnow()
    record(actor_label(actor), "meeting.close_signin", "meeting", meeting.id)


def attendance_of(meeting):
    """Return the meeting's 应到/实到/请假 figures in one query."""
    present = MeetingMember.checked_in_at.is_not(None)
    row = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((present, 1), else_=0)), 0),
            func.coalesce(func.sum(case((and_(~present, MeetingMember.on_leave), 1), else_=0)), 0),
        ).where(MeetingMember.meeting_id == meeting.id)
    ).one()
    return attendance(int(row[0]), int(row[1]), int(row[2]), meeting.quorum_numerator, meeting.quorum_denominator)


def list_attendance(meeting, status=None):
    """Return the meeting's members with their deputies, filtered by present/on_leave/absent."""
    query = (
        select(MeetingMember, Deputy)
        .join(Deputy, Deputy.id == MeetingMember.deputy_id)
        .where(MeetingMember.meeting_id == meeting.id)
        .order_by(Deputy.delegation, Deputy.number)
    )
    if status == "present":
        query = query.where(MeetingMember.checked_in_at.is_not(None))
    elif status == "on_leave":
        query = query.where(MeetingMember.checked_in_at.is_(None), MeetingMember.on_leave.is_(True))
    elif status == "not_arrived":
        query = query.where(MeetingMember.checked_in_at.is_(None), MeetingMember.on_leave.is_(False))
    elif status not in (None, "", "all"):
        raise Invalid(_l("Unknown attendance filter."), code="invalid_filter")
    return db.session.execute(query).all()


# -- the rotating code -----------------------------------------------------------------------


def _code_key():
    return checkin_codes.derive_key(current_app.config["SECRET_KEY"])


@dataclass(frozen=True)
class CurrentCode:
    code: str
    shown_until: float  # Unix time when the screen shows the next code
    valid_until: float  # Unix time after which this code is refused


def current_code(meeting, now=None):
    """Return the code the big screen shows now; only while sign-in is open."""
    if meeting.state != MeetingState.SIGNIN_OPEN:
        raise Conflict(_l("Sign-in is not open."), code="signin_not_open")
    now = time.time() if now is None else now
    period = current_app.config["CHECKIN_CODE_PERIOD"]
    code, shown_until = checkin_codes.make_code(_code_key(), meeting.id, meeting.signin_epoch, now, period)
    return CurrentCode(code, shown_until, shown_until + period * (current_app.config["CHECKIN_CODE_WINDOWS"] - 1))


def verify_code(code, meeting_id=None, now=None):
    """Check a scanned code's signature and age (no database); return the CheckinCode."""
    try:
        parsed = checkin_codes.verify_code(
            _code_key(), code, time.time() if now is None else now,
            current_app.config["CHECKIN_CODE_PERIOD"], current_app.config["CHECKIN_CODE_WINDOWS"],
        )
    except checkin_codes.CodeError as error:
        raise Invalid(_CODE_MESSAGES[error.reason], code=f"code_{error.reason}") from None
    if meeting_id is not None and parsed.meeting_id != meeting_id:
        raise Invalid(_CODE_MESSAGES["other_meeting"], code="code_other_meeting")
    return parsed


@dataclass(frozen=True)
class CheckinResult:
    meeting_id: int
    deputy_id: int
    already: bool
    checked_in_at: datetime


# Built once: building the statement on every sign-in cost more than running it (docs/BENCHMARKS.md).
# Plain SQL: the same statement from ORM expressions cost four times the UPDATE itself.
_CHECK_IN = text(
    "UPDATE meeting_member SET checked_in_at = :now, checkin_method = :method"
    " WHERE meeting_id = :meeting_id AND checked_in_at IS NULL"
    " AND deputy_id = (SELECT deputy_device.deputy_id FROM deputy_device"
    " JOIN deputy ON deputy.id = deputy_device.deputy_id"
    " WHERE deputy_device.token_hash = :token_hash AND deputy_device.revoked_at IS NULL"
    " AND deputy_device.expires_at > :now AND deputy.active = :active)"
    " AND EXISTS (SELECT 1 FROM meeting WHERE id = :meeting_id AND state = :state AND signin_epoch = :epoch)"
    " RETURNING deputy_id"
).bindparams(
    bindparam("now", type_=MeetingMember.__table__.c.checked_in_at.type),
    bindparam("active", type_=Deputy.__table__.c.active.type),
)


def check_in(device_token_hash, meeting_id, epoch):
    """Sign in the deputy of a bound phone, for a verified code's meeting and opening.

    The fast path is one UPDATE that authenticates the phone (a live binding of an active
    deputy), checks the membership, the meeting's state and opening, and that the deputy is not
    yet signed in; only when it changes nothing do we look up why. An unknown or revoked phone
    gets 401 ``token_invalid``.

    Unlike other operations the UPDATE commits by itself (autocommit): it is the whole change, so
    there is nothing to roll back with it, and it keeps the write short. SQLite lets one writer
    at a time into the file, so the workers' sign-ins wait on each other only for the statement,
    not until the end of the request; PostgreSQL is spared a COMMIT round trip (docs/BENCHMARKS.md).
    Call it before the request writes anything else: on SQLite it would wait for that write's lock.
    """
    now = utcnow()
    with autocommit_connection(db.engine) as connection:
        deputy_id = connection.execute(_CHECK_IN, {
            "now": now, "method": CheckinMethod.SCAN.value, "meeting_id": meeting_id,
            "token_hash": device_token_hash, "active": True, "state": MeetingState.SIGNIN_OPEN.value, "epoch": epoch,
        }).scalar()
    if deputy_id is not None:
        return CheckinResult(meeting_id, deputy_id, False, now)
    return _explain_failed_check_in(device_token_hash, meeting_id, epoch, now)


def ensure_signin_accepts(meeting, epoch):
    """Raise what a sign-in would be told now: sign-in closed, or a code of an earlier opening."""
    if meeting.state != MeetingState.SIGNIN_OPEN:
        raise Conflict(_l("Sign-in for this meeting is closed. Please ask the staff."), code="signin_not_open")
    if meeting.signin_epoch != epoch:
        raise Invalid(_CODE_MESSAGES["old_opening"], code="code_old_opening")


def _explain_failed_check_in(device_token_hash, meeting_id, epoch, now):
    from voting.deputies.operations import device_for_token_hash

    device = device_for_token_hash(device_token_hash)
    if device is None:
        from voting.errors import Unauthorized

        raise Unauthorized(_l("This phone is not bound to a deputy. Scan your activation card first."),
                           code="token_invalid")
    meeting = get_meeting(meeting_id)
    member = db.session.get(MeetingMember, (meeting_id, device.deputy_id))
    if member is None:
        raise Forbidden(_l("You are not expected at this meeting (%(title)s).", title=meeting.title),
                        code="not_a_member")
    if member.checked_in_at is not None:
        return CheckinResult(meeting_id, device.deputy_id, True, member.checked_in_at)
    ensure_signin_accepts(meeting, epoch)
    raise Conflict(_l("Sign-in did not go through. Please try again."), code="checkin_failed")


def manual_check_in(actor, meeting, deputy_id, reason):
    """Sign a deputy in by hand (手动补签), with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_l("A reason is required for a manual sign-in."), code="reason_required")
    if meeting.state == MeetingState.PLANNED:
        raise Conflict(_l("Sign-in has not been opened yet."), code="signin_not_open")
    member = get_member(meeting, deputy_id)
    if member.checked_in_at is not None:
        raise Conflict(_l("This deputy is already signed in."), code="already_checked_in")
    member.checked_in_at = utcnow()
    member.checkin_method = CheckinMethod.MANUAL.value
    member.checkin_by_user_id = actor.id
    member.checkin_reason = reason[:200]
    record(actor_label(actor), "meeting.manual_checkin", "meeting", meeting.id, deputy_id=deputy_id, reason=reason)
    return member


def undo_check_in(actor, meeting, deputy_id, reason):
    """Undo a sign-in (wrong person, or signed in by mistake), with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_l("A reason is required to undo a sign-in."), code="reason_required")
    member = get_member(meeting, deputy_id)
    if member.checked_in_at is None:
        raise Conflict(_l("This deputy is not signed in."), code="not_checked_in")
    previous = {"at": member.checked_in_at.isoformat(), "method": member.checkin_method}
    member.checked_in_at = None
    member.checkin_method = None
    member.checkin_by_user_id = None
    member.checkin_reason = ""
    record(actor_label(actor), "meeting.undo_checkin", "meeting", meeting.id, deputy_id=deputy_id, reason=reason,
           previous=previous)
    return member
