"""API operations for the roster, meetings, sign-in and the audit log."""

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, g, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from voting.api import schemas as s
from voting.api.registry import openapi_document, operation
from voting.audit.models import AuditEntry
from voting.deputies import operations as deputies
from voting.errors import Invalid
from voting.extensions import csrf, db, limiter
from voting.meetings import operations as meetings
from voting.timeutil import isoformat_utc
from voting.urls import public_url

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# The API authenticates with bearer tokens only, never cookies, so CSRF cannot reach it.
csrf.exempt(bp)


def _limit(setting):
    return limiter.limit(lambda: current_app.config[setting])


@operation(bp, "/openapi.json", "GET", "getOpenApiDocument", summary="This API's OpenAPI 3.1 document.",
           tag="service", auth="public", response_model=s.OpenApiDocument)
def openapi():
    """Generated from the operations' declarations, so it always matches the code."""
    return openapi_document(request.host_url.rstrip("/"))


@operation(bp, "/ping", "GET", "ping", summary="Check the service is up (no database).", tag="service",
           auth="public", response_model=s.Pong)
def ping():
    """A trivial endpoint for health checks and load-test baselines."""
    return {"status": "ok"}


# -- deputies ---------------------------------------------------------------------------------


def _deputy_out(deputy):
    return s.DeputyOut(id=deputy.id, number=deputy.number, name=deputy.name, delegation=deputy.delegation,
                       has_phone_number=bool(deputy.phone), active=deputy.active,
                       card_issued=deputy.activation_code_hash is not None,
                       bound_devices=deputy.active_device_count)


@operation(bp, "/deputies/import", "POST", "importDeputies", summary="Import the roster from .xlsx or .csv.",
           tag="deputies", upload_field="file", response_model=s.ImportResult, errors=(413,))
def import_deputies():
    """Import or update deputies, all or nothing. Headers as organizers write them: 姓名, 代表证号,
    代表团 (or 街道), 手机号码 (optional). A bad row imports nothing; ``details`` lists each row's problem."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise Invalid(_l("Choose a file to upload."), code="file_required")
    return s.ImportResult(**deputies.import_roster(g.api_user, upload.filename, upload.read()))


@operation(bp, "/deputies", "GET", "listDeputies", summary="List deputies.", tag="deputies",
           query_model=s.DeputyQuery, response_model=s.DeputyList)
def list_deputies(query):
    """Deputies ordered by delegation and number; phone numbers are never returned."""
    rows, total = deputies.list_deputies(query.search, query.delegation, query.offset, query.limit)
    return s.DeputyList(total=total, items=[_deputy_out(d) for d in rows])


@operation(bp, "/deputies/<int:deputy_id>/activation-code", "POST", "issueActivationCode",
           summary="Issue a new activation card code.", tag="deputies", response_model=s.ActivationCodeOut,
           errors=(404, 409))
def issue_activation_code(deputy_id):
    """The previous card stops working and phones bound to the deputy are signed out (a lost phone)."""
    deputy = deputies.get_deputy(deputy_id)
    code = deputies.issue_activation_code(g.api_user, deputy)
    return s.ActivationCodeOut(deputy_id=deputy.id, activation_code=code,
                               activation_url=public_url("deputies.activate", code=code))


@operation(bp, "/activate", "POST", "activateDeputy", summary="Bind a phone to a deputy with a card code.",
           tag="deputies", auth="public", request_model=s.ActivateIn, response_model=s.ActivateOut,
           errors=(404, 409, 429), decorators=(_limit("RATELIMIT_ACTIVATION"),))
def activate_deputy(body):
    """Use up the card's code and return this phone's device token, its bearer token from now on."""
    deputy, token = deputies.activate(body.activation_code, request.user_agent.string)
    return s.ActivateOut(device_token=token,
                         deputy=s.DeputyRef(id=deputy.id, number=deputy.number, name=deputy.name))


# -- meetings ---------------------------------------------------------------------------------


def _meeting_out(meeting):
    counts = meetings.attendance_of(meeting)
    return s.MeetingOut(
        id=meeting.id, title=meeting.title, location=meeting.location,
        starts_at=isoformat_utc(meeting.starts_at), state=meeting.state,
        quorum_numerator=meeting.quorum_numerator, quorum_denominator=meeting.quorum_denominator,
        signin_opened_at=isoformat_utc(meeting.signin_opened_at),
        signin_closed_at=isoformat_utc(meeting.signin_closed_at),
        expected=counts.expected, present=counts.present, on_leave=counts.on_leave, absent=counts.absent,
        not_arrived=counts.not_arrived, quorum_required=counts.quorum_required, quorum_met=counts.quorum_met,
    )


def _member_out(member, deputy):
    return s.MemberOut(deputy_id=deputy.id, number=deputy.number, name=deputy.name, delegation=deputy.delegation,
                       on_leave=member.on_leave, leave_reason=member.leave_reason,
                       checked_in_at=isoformat_utc(member.checked_in_at), checkin_method=member.checkin_method,
                       checkin_reason=member.checkin_reason)


@operation(bp, "/meetings", "POST", "createMeeting", summary="Create a meeting.", tag="meetings",
           request_model=s.MeetingIn, response_model=s.MeetingOut, status=201)
def create_meeting(body):
    """Its expected deputies (应到) are the active roster, or the delegations named."""
    starts_at = body.starts_at
    if starts_at is not None:
        if starts_at.tzinfo is None:
            # A time without an offset is local time, as organizers type it in the web form.
            starts_at = starts_at.replace(tzinfo=ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"]))
        starts_at = starts_at.astimezone(UTC).replace(tzinfo=None)
    meeting = meetings.create_meeting(g.api_user, body.title, body.location, starts_at, body.delegations,
                                      (body.quorum_numerator, body.quorum_denominator))
    return _meeting_out(meeting)


@operation(bp, "/meetings/<int:meeting_id>", "GET", "getMeeting", summary="A meeting and its attendance.",
           tag="meetings", response_model=s.MeetingOut, errors=(404,))
def get_meeting(meeting_id):
    """State, 应到/实到/请假/缺席 and whether the quorum is met."""
    return _meeting_out(meetings.get_meeting(meeting_id))


@operation(bp, "/meetings/<int:meeting_id>/leave", "POST", "setLeave", summary="Grant or withdraw leave.",
           tag="meetings", request_model=s.LeaveIn, response_model=s.MemberOut, errors=(404,))
def set_leave(meeting_id, body):
    """A deputy on leave stays in 应到 and is counted apart."""
    meeting = meetings.get_meeting(meeting_id)
    member = meetings.set_leave(g.api_user, meeting, body.deputy_id, body.on_leave, body.reason)
    return _member_out(member, member.deputy)


@operation(bp, "/meetings/<int:meeting_id>/signin/open", "POST", "openSignIn", summary="Open sign-in.",
           tag="meetings", response_model=s.MeetingOut, errors=(404, 409))
def open_sign_in(meeting_id):
    """Open (or reopen, for late arrivals) sign-in; codes of an earlier opening stop working."""
    meeting = meetings.get_meeting(meeting_id)
    meetings.open_sign_in(g.api_user, meeting)
    return _meeting_out(meeting)


@operation(bp, "/meetings/<int:meeting_id>/signin/close", "POST", "closeSignIn", summary="Close sign-in.",
           tag="meetings", response_model=s.MeetingOut, errors=(404, 409))
def close_sign_in(meeting_id):
    """No code signs anyone in until sign-in is opened again."""
    meeting = meetings.get_meeting(meeting_id)
    meetings.close_sign_in(g.api_user, meeting)
    return _meeting_out(meeting)


@operation(bp, "/meetings/<int:meeting_id>/checkin-code", "GET", "getCheckinCode",
           summary="The big screen's current sign-in code.", tag="meetings", response_model=s.CheckinCodeOut,
           errors=(404, 409))
def get_checkin_code(meeting_id):
    """A new code every period (15 s by default), each accepted for about 30 s."""
    meeting = meetings.get_meeting(meeting_id)
    current = meetings.current_code(meeting)
    return _code_out(current)


def _code_out(current):
    def stamp(ts):
        return isoformat_utc(datetime.fromtimestamp(ts, UTC).replace(tzinfo=None))

    return s.CheckinCodeOut(code=current.code, url=public_url("meetings.scan", code=current.code),
                            shown_until=stamp(current.shown_until), valid_until=stamp(current.valid_until),
                            period_seconds=current_app.config["CHECKIN_CODE_PERIOD"])


# The hottest path (3,000 phones at once): the phone's token is checked inside the sign-in's own
# UPDATE (checks_device); the limit is keyed on that token, i.e. per phone.
@operation(bp, "/meetings/<int:meeting_id>/checkin", "POST", "checkIn", summary="Sign in with the screen's code.",
           tag="meetings", auth="deputy", request_model=s.CheckinIn, response_model=s.CheckinOut,
           errors=(404, 409, 429), checks_device=True,
           decorators=(_limit("RATELIMIT_CHECKIN"),))
def check_in(meeting_id, body):
    """Called by the deputy's bound phone. Signing in again answers ``already_checked_in``."""
    code = meetings.verify_code(body.code, meeting_id)
    result = meetings.check_in(g.api_device_token_hash, code.meeting_id, code.epoch)
    return s.CheckinOut(status="already_checked_in" if result.already else "checked_in",
                        meeting_id=result.meeting_id, deputy_id=result.deputy_id,
                        checked_in_at=isoformat_utc(result.checked_in_at))


@operation(bp, "/meetings/<int:meeting_id>/manual-checkin", "POST", "manualCheckIn",
           summary="Sign a deputy in by hand (手动补签).", tag="meetings", request_model=s.ManualCheckinIn,
           response_model=s.MemberOut, errors=(404, 409))
def manual_check_in(meeting_id, body):
    """Staff sign a deputy in with a reason; logged."""
    meeting = meetings.get_meeting(meeting_id)
    member = meetings.manual_check_in(g.api_user, meeting, body.deputy_id, body.reason)
    return _member_out(member, member.deputy)


@operation(bp, "/meetings/<int:meeting_id>/undo-checkin", "POST", "undoCheckIn", summary="Undo a sign-in.",
           tag="meetings", request_model=s.ManualCheckinIn, response_model=s.MemberOut, errors=(404, 409))
def undo_check_in(meeting_id, body):
    """Staff undo a sign-in with a reason; logged."""
    meeting = meetings.get_meeting(meeting_id)
    member = meetings.undo_check_in(g.api_user, meeting, body.deputy_id, body.reason)
    return _member_out(member, member.deputy)


@operation(bp, "/meetings/<int:meeting_id>/attendance", "GET", "listAttendance",
           summary="Who is expected, present, on leave or not arrived.", tag="meetings",
           query_model=s.AttendanceQuery, response_model=s.MemberList, errors=(404,))
def list_attendance(meeting_id, query):
    """Every expected deputy with leave and sign-in details, by delegation and number."""
    meeting = meetings.get_meeting(meeting_id)
    rows = meetings.list_attendance(meeting, query.status)
    return s.MemberList(total=len(rows), items=[_member_out(m, d) for m, d in rows])


# -- audit ------------------------------------------------------------------------------------


@operation(bp, "/audit", "GET", "getAuditLog", summary="Read the audit log.", tag="audit",
           query_model=s.AuditQuery, response_model=s.AuditLog)
def get_audit_log(query):
    """Newest first. Verify the chain with ``flask --app wsgi audit-verify``."""
    stmt = select(AuditEntry)
    if query.action:
        stmt = stmt.where(AuditEntry.action == query.action)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.scalars(stmt.order_by(AuditEntry.seq.desc()).offset(query.offset).limit(query.limit))
    return s.AuditLog(total=total, items=[
        s.AuditEntryOut(seq=e.seq, created_at=isoformat_utc(e.created_at), actor=e.actor, action=e.action,
                        object_type=e.object_type, object_id=e.object_id, details=json.loads(e.details))
        for e in rows
    ])
