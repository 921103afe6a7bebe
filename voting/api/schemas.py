"""Request and response bodies of the JSON API, with the examples shown in the OpenAPI document."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


def _examples(*examples):
    return ConfigDict(json_schema_extra={"examples": list(examples)}, extra="forbid")


class ImportResult(BaseModel):
    model_config = _examples({"rows": 300, "created": 298, "updated": 2, "unchanged": 0})
    rows: int
    created: int
    updated: int
    unchanged: int


class DeputyOut(BaseModel):
    model_config = _examples({"id": 1, "number": "A001", "name": "张三", "delegation": "城关街道代表团",
                              "has_phone_number": True, "active": True, "card_issued": True, "bound_devices": 1})
    id: int
    number: str
    name: str
    delegation: str
    has_phone_number: bool
    active: bool
    card_issued: bool = Field(description="An unused activation card is outstanding.")
    bound_devices: int = Field(description="Phones currently bound to this deputy.")


class DeputyList(BaseModel):
    model_config = _examples({"total": 1, "items": [DeputyOut.model_config["json_schema_extra"]["examples"][0]]})
    total: int
    items: list[DeputyOut]


class DeputyQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    search: str | None = Field(None, max_length=100, description="Part of a name or deputy number.")
    delegation: str | None = Field(None, max_length=100)
    offset: int = Field(0, ge=0)
    limit: int = Field(100, ge=1, le=1000)


class ActivationCodeOut(BaseModel):
    model_config = _examples({"deputy_id": 1, "activation_code": "K7QX-2MNP-8RTV-4WHZ",
                              "activation_url": "http://127.0.0.1:5000/a/K7QX-2MNP-8RTV-4WHZ"})
    deputy_id: int
    activation_code: str = Field(description="Shown once; the previous card and bound phones stop working.")
    activation_url: str


class ActivateIn(BaseModel):
    model_config = _examples({"activation_code": "K7QX-2MNP-8RTV-4WHZ"})
    activation_code: str = Field(min_length=1, max_length=40)


class DeputyRef(BaseModel):
    model_config = _examples({"id": 1, "number": "A001", "name": "张三"})
    id: int
    number: str
    name: str


class ActivateOut(BaseModel):
    model_config = _examples({"device_token": "vtd_3q2…", "deputy": DeputyRef.model_config["json_schema_extra"]
                              ["examples"][0]})
    device_token: str = Field(description="Bearer token of this phone; keep it secret.")
    deputy: DeputyRef


class AttendanceCounts(BaseModel):
    model_config = _examples({"expected": 300, "present": 280, "on_leave": 5, "absent": 20, "not_arrived": 15,
                              "quorum_required": 200, "quorum_met": True})
    expected: int = Field(description="应到: deputies expected at the meeting.")
    present: int = Field(description="实到: deputies signed in.")
    on_leave: int = Field(description="请假: on leave and not signed in.")
    absent: int = Field(description="缺席 = 应到 - 实到 (those on leave included).")
    not_arrived: int = Field(description="未到: neither signed in nor on leave.")
    quorum_required: int
    quorum_met: bool


_MEETING_EXAMPLE = {
    "id": 1, "title": "第十八届人民代表大会第三次会议", "location": "区会议中心", "starts_at": "2027-01-10T01:00:00Z",
    "state": "signin_open", "quorum_numerator": 2, "quorum_denominator": 3,
    "signin_opened_at": "2027-01-10T00:30:00Z", "signin_closed_at": None,
    "expected": 300, "present": 280, "on_leave": 5, "absent": 20, "not_arrived": 15,
    "quorum_required": 200, "quorum_met": True,
}


class MeetingOut(AttendanceCounts):
    model_config = _examples(_MEETING_EXAMPLE)
    id: int
    title: str
    location: str
    starts_at: str | None
    state: Literal["planned", "signin_open", "signin_closed"]
    quorum_numerator: int
    quorum_denominator: int
    signin_opened_at: str | None
    signin_closed_at: str | None


class MeetingIn(BaseModel):
    model_config = _examples({"title": "第十八届人民代表大会第三次会议", "location": "区会议中心",
                              "starts_at": "2027-01-10T09:00:00+08:00"})
    title: str = Field(min_length=1, max_length=200)
    location: str = Field("", max_length=200)
    starts_at: datetime | None = Field(None, description="With an offset, or else in the service's time zone "
                                                        "(Asia/Shanghai by default).")
    delegations: list[str] | None = Field(None, min_length=1,
                                          description="Expect only these delegations (default: everyone).")
    quorum_numerator: int = Field(2, ge=1, le=100)
    quorum_denominator: int = Field(3, ge=1, le=100)


class LeaveIn(BaseModel):
    model_config = _examples({"deputy_id": 12, "on_leave": True, "reason": "因病请假"})
    deputy_id: int = Field(ge=1)
    on_leave: bool
    reason: str = Field("", max_length=200)


class MemberOut(BaseModel):
    model_config = _examples({"deputy_id": 12, "number": "A012", "name": "李四", "delegation": "城关街道代表团",
                              "on_leave": False, "leave_reason": "", "checked_in_at": "2027-01-10T00:41:07Z",
                              "checkin_method": "scan", "checkin_reason": ""})
    deputy_id: int
    number: str
    name: str
    delegation: str
    on_leave: bool
    leave_reason: str
    checked_in_at: str | None
    checkin_method: Literal["scan", "manual"] | None
    checkin_reason: str


class MemberList(BaseModel):
    model_config = _examples({"total": 1, "items": [MemberOut.model_config["json_schema_extra"]["examples"][0]]})
    total: int
    items: list[MemberOut]


class AttendanceQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["all", "present", "on_leave", "not_arrived"] = "all"


class CheckinCodeOut(BaseModel):
    model_config = _examples({"code": "1-1-118793412-Zk3mZ2V0c3Rh", "url": "http://127.0.0.1:5000/c/1-1-118793412-Zk3m",
                              "shown_until": "2026-11-23T02:03:15Z", "valid_until": "2026-11-23T02:03:30Z",
                              "period_seconds": 15})
    code: str
    url: str = Field(description="What the big screen's QR code encodes.")
    shown_until: str = Field(description="When the screen should show the next code.")
    valid_until: str = Field(description="After this the code is refused.")
    period_seconds: int


class CheckinIn(BaseModel):
    model_config = _examples({"code": "1-1-118793412-Zk3mZ2V0c3Rh"})
    code: str = Field(min_length=1, max_length=80, description="The code from the big screen's QR URL.")


class CheckinOut(BaseModel):
    model_config = _examples({"status": "checked_in", "meeting_id": 1, "deputy_id": 12,
                              "checked_in_at": "2027-01-10T00:41:07Z"})
    status: Literal["checked_in", "already_checked_in"]
    meeting_id: int
    deputy_id: int
    checked_in_at: str


class ManualCheckinIn(BaseModel):
    model_config = _examples({"deputy_id": 12, "reason": "手机没电，经核对代表证补签"})
    deputy_id: int = Field(ge=1)
    reason: str = Field(min_length=1, max_length=200)


class AuditEntryOut(BaseModel):
    model_config = _examples({"seq": 1, "created_at": "2026-11-23T02:00:00Z", "actor": "user:admin",
                              "action": "meeting.open_signin", "object_type": "meeting", "object_id": "1",
                              "details": {"epoch": 1}})
    seq: int
    created_at: str
    actor: str
    action: str
    object_type: str
    object_id: str
    details: dict


class AuditLog(BaseModel):
    model_config = _examples({"total": 1, "items": [AuditEntryOut.model_config["json_schema_extra"]["examples"][0]]})
    total: int
    items: list[AuditEntryOut]


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str | None = Field(None, max_length=64)
    offset: int = Field(0, ge=0)
    limit: int = Field(100, ge=1, le=1000)


class OpenApiDocument(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "openapi": "3.1.0", "info": {"title": "District People's Congress voting and consultation API",
                                     "version": "1.0.0"},
        "paths": {}, "components": {},
    }]}, extra="allow")
    openapi: str
    info: dict
    paths: dict
    components: dict


class Pong(BaseModel):
    model_config = _examples({"status": "ok"})
    status: str
