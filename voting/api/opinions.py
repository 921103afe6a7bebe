"""API operations for a resident's opinion: submitOpinion and getOpinionByTrackingCode.

Both are public (no account), as the resident's pages are (voting/consultations/public_views.py),
and share their rules: the same per-client rate limit and backstop per address, the same 413
for a body far larger than any opinion, and nothing personal in what the tracking code shows.
Registered on the API blueprint of ``voting.api.views``; the factory imports this module before
it registers the blueprint.
"""

from typing import Literal

from flask import current_app, g, request
from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, ConfigDict, Field

from voting.api.registry import operation
from voting.api.views import bp
from voting.consultations import operations as consultations
from voting.consultations.models import MAX_OPINION_CHARS, SubmitterType, format_tracking_code
from voting.consultations.public_views import (
    article_label,
    check_opinion_rate,
    client_key,
    idempotency_key,
    refuse_oversized_body,
    status_label,
    tracked,
)
from voting.deputies.operations import device_for_token
from voting.errors import Invalid, Unauthorized
from voting.timeutil import isoformat_utc
from voting.urls import public_url

StatusName = Literal["received", "merged", "adopted", "partly_adopted", "not_adopted"]


def _examples(*examples):
    return ConfigDict(json_schema_extra={"examples": list(examples)}, extra="forbid")


class OpinionIn(BaseModel):
    model_config = _examples(
        {
            "draft_id": 3,
            "article_id": 41,
            "text": "建议第十二条增加物业服务企业公示收费标准的义务。",
            "contact_point_code": "K7QXMNP8",
            "contact_name": "张三",
            "contact_phone": "13812345678",
        },
        {"draft_id": 3, "article_id": None, "text": "总体赞成，建议尽快出台。"},
    )
    draft_id: int = Field(ge=1, le=2**31 - 1)
    article_id: int | None = Field(
        None, ge=1, le=2**31 - 1, description="The article commented on; null (or absent) for the whole draft."
    )
    # No length bound here: the operation answers an overlong text with the count and the limit.
    text: str = Field(description=f"The opinion, 1 to {MAX_OPINION_CHARS} characters once trimmed.")
    contact_point_code: str | None = Field(
        None,
        max_length=64,
        description="The code of the contact point's poster the resident came through. An unknown code keeps "
        "the opinion, attributed to no point.",
    )
    contact_name: str | None = Field(None, max_length=200, description="Optional; never published.")
    contact_phone: str | None = Field(None, max_length=64, description="Optional; never published.")


class OpinionSent(BaseModel):
    model_config = _examples(
        {
            "tracking_code": "K7QX2-MNP8R",
            "tracking_url": "https://rd.example.gov.cn/c/track?code=K7QX2-MNP8R",
            "draft_id": 3,
            "article_id": 41,
            "submitter_type": "resident",
            "attributed": True,
            "repeated": False,
        }
    )
    tracking_code: str = Field(description="Show it to the resident: the status and the reply are looked up by it.")
    tracking_url: str = Field(description="The tracking page on the resident's side.")
    draft_id: int
    article_id: int | None
    submitter_type: Literal["resident", "deputy"]
    attributed: bool = Field(description="Whether the opinion was attributed to a contact point.")
    repeated: bool = Field(description="A retry with the same Idempotency-Key: the first opinion, nothing new.")


class OpinionStatusOut(BaseModel):
    model_config = _examples(
        {
            "tracking_code": "K7QX2-MNP8R",
            "draft_id": 3,
            "draft_title": "上海市杨浦区住宅小区物业管理若干规定（草案）",
            "article_id": 41,
            "article_label": "第十二条 【公示】",
            "submitted_at": "2027-03-02T01:20:00Z",
            "status": "adopted",
            "status_label": "已采纳",
            "merged": False,
            "people_count": 1,
            "reply": "您的意见已吸收到草案第十二条第二款。",
            "handled_at": "2027-04-10T07:00:00Z",
            "text": "建议第十二条增加公示义务。联系电话138****5678",
        }
    )
    tracking_code: str
    draft_id: int
    draft_title: str
    article_id: int | None = Field(description="Null for an opinion on the whole draft.")
    article_label: str | None
    submitted_at: str
    status: StatusName = Field(
        description="received, adopted, partly_adopted or not_adopted; an opinion merged with others takes the "
        "status of the item it was merged into (and ``merged`` is true). ``merged`` itself appears only when "
        "that item cannot be followed."
    )
    status_label: str
    merged: bool
    people_count: int = Field(description="How many people raised it (more than one after a merge).")
    reply: str | None = Field(description="The organizer's reply once handled; phone and ID numbers masked.")
    handled_at: str | None
    text: str = Field(description="The opinion as sent, phone and ID numbers masked. Names are never shown.")


def _deputy():
    """The deputy's phone whose bearer token came with the request, or None for a resident (cached)."""
    if "opinion_device" not in g:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        g.opinion_device = device_for_token(token) if token else None
        if token and g.opinion_device is None:
            raise Unauthorized(_l("Unknown or revoked device token."), code="token_invalid")
    return g.opinion_device


def _client():
    """Name the client for the limit and the idempotency key (cached): the deputy's phone, X-Client-Id or None."""
    if "opinion_client" not in g:
        g.opinion_client = client_key(_deputy(), request.headers.get("X-Client-Id"))
    return g.opinion_client


def _raw_idempotency_key():
    raw = request.headers.get("Idempotency-Key")
    if raw is not None and not (0 < len(raw) <= 64 and raw.isascii() and raw.isprintable()):
        raise Invalid(_l("The idempotency key must be 1 to 64 printable ASCII characters."), code="invalid_key")
    return raw


_TRACK_PREFIXES = {}  # (PUBLIC_BASE_URL, what names the host in the request) -> the address up to the code


def _tracking_url(code):
    """public_url() of the tracking page for ``code``; url_for() runs once per base address, not per opinion."""
    # The WSGI variables url_for() builds the host from, as they are (after ProxyFix, when used):
    # request.host_url would decode and re-encode them on every request.
    environ = request.environ
    key = (
        current_app.config.get("PUBLIC_BASE_URL"), environ.get("wsgi.url_scheme"), environ.get("HTTP_HOST"),
        environ.get("SERVER_NAME"), environ.get("SERVER_PORT"), environ.get("SCRIPT_NAME"),
    )  # fmt: skip
    prefix = _TRACK_PREFIXES.get(key)
    if prefix is None:
        if len(_TRACK_PREFIXES) >= 32:  # the Host header is the caller's to choose
            _TRACK_PREFIXES.clear()
        prefix = _TRACK_PREFIXES[key] = public_url("public_consult.track", code="")
    return prefix + code  # codes are letters, digits and a dash: nothing to quote


def _limited(run):
    """Refuse an oversized body and count the submission before the body is read."""

    def limited(**kwargs):
        refuse_oversized_body()
        check_opinion_rate(_client())
        return run(**kwargs)

    limited.__name__ = run.__name__
    return limited


@operation(
    bp,
    "/opinions",
    "POST",
    "submitOpinion",
    summary="Send an opinion on a draft or one of its articles.",
    tag="consultations",
    auth="public",
    request_model=OpinionIn,
    response_model=OpinionSent,
    status=201,
    errors=(401, 404, 409, 413, 429),
    decorators=(_limited,),
)
def submit_opinion(body):
    """Public: no account. Returns the tracking code. While the draft is open for comment only (409 after the
    deadline). Send an ``Idempotency-Key`` header: a retry with the same key from the same client returns the
    first opinion (``repeated``). A client is named by ``X-Client-Id`` (a random id of 22 to 64 URL-safe
    characters, kept by the app), the resident pages' cookie, or a deputy's device token (``Authorization:
    Bearer vtd_...``, which sends the opinion as that deputy's); without one the caller's address stands in.
    Rate limited per client, with a ceiling per address (429 says how long to wait)."""
    device = _deputy()
    raw_key = _raw_idempotency_key()
    # One INSERT that checks the draft and the article itself: nothing is loaded first.
    opinion, repeated = consultations.record_opinion(
        body.draft_id,
        body.text,
        article_id=body.article_id,
        point_code=body.contact_point_code or None,
        submitter_type=SubmitterType.DEPUTY if device else SubmitterType.RESIDENT,
        deputy=device.deputy if device else None,
        contact_name=None if device else body.contact_name,
        contact_phone=None if device else body.contact_phone,
        idempotency_key=idempotency_key(_client(), raw_key),
    )
    code = format_tracking_code(opinion.tracking_code)
    return OpinionSent(
        tracking_code=code,
        tracking_url=_tracking_url(code),
        draft_id=opinion.draft_id,
        article_id=opinion.article_id,
        submitter_type=opinion.submitter_type,
        attributed=opinion.contact_point_id is not None,
        repeated=repeated,
    )


@operation(
    bp,
    "/opinions/tracking/<code>",
    "GET",
    "getOpinionByTrackingCode",
    summary="The status of an opinion and the reply to it, by tracking code.",
    tag="consultations",
    auth="public",
    response_model=OpinionStatusOut,
    errors=(404,),
)
def get_opinion_by_tracking_code(code):
    """Public: whoever holds the code sees the status, the reply and the opinion's text with phone and ID
    numbers masked; never a name, a phone number given as contact, or which deputy sent it. Letter case, spaces
    and the dash do not matter."""
    result = tracked(consultations.get_opinion_by_tracking_code(code))
    return OpinionStatusOut(
        tracking_code=result.code,
        draft_id=result.draft.id,
        draft_title=result.draft.title,
        article_id=result.article.id if result.article else None,
        article_label=article_label(result.article, result.draft.style) if result.article else None,
        submitted_at=isoformat_utc(result.submitted_at),
        status=str(result.status),
        status_label=status_label(result.status),
        merged=result.merged,
        people_count=result.people_count,
        reply=result.reply,
        handled_at=isoformat_utc(result.handled_at),
        text=result.text,
    )
