"""API operations for the organizer's review of opinions: listOpinions, suggestDuplicates,
mergeOpinions, unmergeOpinion, handleOpinion, and importOpinions for contact-point staff.

Registered on the API blueprint of ``voting.api.views``; the factory imports this module before
it registers the blueprint. Contact details and numbers typed into opinions come back masked.
"""

from typing import Literal

from flask import g, request
from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, ConfigDict, Field
from werkzeug.exceptions import RequestEntityTooLarge

from voting.accounts.models import MEETING_ROLES, Role
from voting.api.registry import operation
from voting.api.views import bp
from voting.consultations import imports, review
from voting.consultations.duplicates import DEFAULT_THRESHOLD
from voting.consultations.masking import mask_personal_data, mask_phone
from voting.consultations.operations import get_draft
from voting.consultations.opinion_sheet import MAX_SHEET_BYTES
from voting.consultations.points import get_contact_point
from voting.errors import Invalid, NotFound
from voting.timeutil import isoformat_utc

IMPORT_ROLES = (*MEETING_ROLES, Role.CONTACT_STAFF)

StatusName = Literal["received", "merged", "adopted", "partly_adopted", "not_adopted"]
OutcomeName = Literal["adopted", "partly_adopted", "not_adopted", "采纳", "部分采纳", "未采纳"]


def _examples(*examples):
    return ConfigDict(json_schema_extra={"examples": list(examples)}, extra="forbid")


def _article_filter(value, draft):
    """Return GENERAL for the whole-draft opinions, an article id of the draft, or None for all."""
    if value is None or value == "":
        return None
    if value == review.GENERAL:
        return review.GENERAL
    if value.isdigit() and any(a.id == int(value) for a in draft.articles):
        return int(value)
    raise NotFound(_l("This draft has no such article."), code="article_not_found")


class OpinionQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    article: str | None = Field(None, max_length=12, description="An article id, or `general` for the whole draft.")
    status: Literal["received", "merged", "adopted", "partly_adopted", "not_adopted", "open", "handled"] | None = Field(
        None, description="`open` = received (still to handle); `handled` = any decision."
    )
    point: int | None = Field(None, ge=1, le=2**31 - 1, description="A contact point; the points below it count too.")
    channel: Literal["poster", "link", "deputy", "import"] | None = None
    submitter_type: Literal["resident", "deputy", "staff"] | None = None
    search: str | None = Field(None, max_length=100, description="Part of the text, or a tracking code.")
    order: Literal["oldest", "newest", "people"] = "oldest"
    offset: int = Field(0, ge=0, le=10_000_000)
    limit: int = Field(50, ge=1, le=review.MAX_PAGE_SIZE)


_OPINION_EXAMPLE = {
    "id": 812,
    "draft_id": 3,
    "article_id": 41,
    "text": "建议将第十二条中的“三十日”改为“十五日”。联系电话138****5678",
    "submitter_type": "resident",
    "channel": "poster",
    "contact_point_id": 5,
    "contact_point": "殷行街道基层立法联系点",
    "status": "adopted",
    "merged_into_id": None,
    "people_count": 14,
    "legal_text": "第十二条 ……应当在十五日内……",
    "reason": "多数意见认为三十日过长。",
    "reply": "您的意见已被采纳。",
    "contact_name": "王*",
    "contact_phone": "138****8000",
    "created_at": "2027-03-02T01:20:00Z",
    "handled_at": "2027-03-20T06:00:00Z",
}


class ReviewedOpinionOut(BaseModel):
    model_config = _examples(_OPINION_EXAMPLE)
    id: int
    draft_id: int
    article_id: int | None = Field(description="null for an opinion on the whole draft.")
    text: str = Field(description="Phone, ID and account numbers typed into the text come back masked.")
    submitter_type: Literal["resident", "deputy", "staff"]
    channel: Literal["poster", "link", "deputy", "import"]
    contact_point_id: int | None
    contact_point: str | None
    status: StatusName
    merged_into_id: int | None
    people_count: int = Field(description="Its own people plus those of every opinion merged into it.")
    legal_text: str | None
    reason: str | None
    reply: str | None
    contact_name: str | None = Field(description="Masked (王*).")
    contact_phone: str | None = Field(description="Masked (138****8000).")
    created_at: str
    handled_at: str | None


class OpinionListOut(BaseModel):
    model_config = _examples({"total": 1, "items": [_OPINION_EXAMPLE]})
    total: int
    items: list[ReviewedOpinionOut]


def _mask_name(name):
    return name[0] + "*" * max(1, len(name) - 1) if name else None


def _opinion_out(opinion):
    contact = opinion.contact
    return ReviewedOpinionOut(
        id=opinion.id,
        draft_id=opinion.draft_id,
        article_id=opinion.article_id,
        text=mask_personal_data(opinion.text),
        submitter_type=opinion.submitter_type,
        channel=opinion.channel,
        contact_point_id=opinion.contact_point_id,
        contact_point=opinion.contact_point.name if opinion.contact_point else None,
        status=opinion.status,
        merged_into_id=opinion.merged_into_id,
        people_count=opinion.people_count,
        legal_text=opinion.legal_text,
        reason=opinion.reason,
        reply=opinion.reply,
        contact_name=_mask_name(contact.name) if contact else None,
        contact_phone=mask_phone(contact.phone) or None if contact else None,
        created_at=isoformat_utc(opinion.created_at),
        handled_at=isoformat_utc(opinion.handled_at),
    )


@operation(bp, "/drafts/<int:draft_id>/opinions", "GET", "listOpinions", summary="List a draft's opinions for review.",
           tag="consultations", query_model=OpinionQuery, response_model=OpinionListOut, errors=(404,))  # fmt: skip
def list_opinions(draft_id, query):
    """Filter by article, status, contact point (with the points below it), channel, submitter type and text; a
    page at a time, oldest first unless ``order`` says otherwise."""
    draft = get_draft(draft_id)
    filters = review.Filters(
        article=_article_filter(query.article, draft),
        status=query.status,
        point_id=query.point,
        channel=query.channel,
        submitter_type=query.submitter_type,
        search=query.search,
    )
    rows, total = review.list_opinions(draft, filters, offset=query.offset, limit=query.limit, order=query.order)
    return OpinionListOut(total=total, items=[_opinion_out(o) for o in rows])


class DuplicateQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    article: str | None = Field(None, max_length=12, description="An article id, `general`, or absent for all.")
    threshold: int = Field(DEFAULT_THRESHOLD, ge=50, le=100, description="Similarity (0-100) a near duplicate needs.")
    limit: int = Field(100, ge=1, le=10_000, description="Groups returned, largest first.")


class GroupMemberOut(BaseModel):
    model_config = _examples({"id": 815, "similarity": 93, "people": 1, "handled": False})
    id: int
    similarity: int = Field(description="To the representative, 0-100.")
    people: int
    handled: bool = Field(description="Already decided: not a merge source.")


class GroupOut(BaseModel):
    model_config = _examples(
        {
            "article_id": 41,
            "representative_id": 812,
            "representative_text": "坚决反对在小区旁建设垃圾中转站，请求重新选址！",
            "size": 3,
            "people": 3,
            "similarity": 91,
            "exact": False,
            "campaign": False,
            "members": [
                {"id": 812, "similarity": 100, "people": 1, "handled": False},
                {"id": 815, "similarity": 93, "people": 1, "handled": False},
                {"id": 901, "similarity": 91, "people": 1, "handled": False},
            ],
            "merge_source_ids": [815, 901],
        }
    )
    article_id: int | None
    representative_id: int = Field(description="The suggested target: a decided member if there is one.")
    representative_text: str
    size: int = Field(description="Opinions in the group.")
    people: int
    similarity: int = Field(description="The lowest similarity of a member to the representative.")
    exact: bool = Field(description="All texts are the same once punctuation, width and spaces are ignored.")
    campaign: bool = Field(description="A mass campaign: many (near-)identical opinions.")
    members: list[GroupMemberOut]
    merge_source_ids: list[int] = Field(description="Send these with the representative to mergeOpinions.")


class DuplicatesOut(BaseModel):
    model_config = _examples({"compared": 3120, "groups": [GroupOut.model_config["json_schema_extra"]["examples"][0]]})
    compared: int = Field(description="Opinions looked at (those not merged already).")
    groups: list[GroupOut]


@operation(bp, "/drafts/<int:draft_id>/duplicates", "GET", "suggestDuplicates",
           summary="Suggest groups of duplicate opinions (exact, near duplicates, mass campaigns).",
           tag="consultations", query_model=DuplicateQuery, response_model=DuplicatesOut, errors=(404,))  # fmt: skip
def suggest_duplicates(draft_id, query):
    """Within each article: exact copies after normalising width, punctuation and spaces, and near duplicates by
    Chinese character similarity; opposite wording and different figures are never grouped. 300,000 opinions take
    under two minutes; one article, about a second."""
    draft = get_draft(draft_id)
    found = review.suggest_duplicates(draft, article=_article_filter(query.article, draft), threshold=query.threshold,
                                      limit=query.limit, members_shown=1)  # fmt: skip
    return DuplicatesOut(
        compared=found.compared,
        groups=[
            GroupOut(
                article_id=group.article,
                representative_id=group.representative,
                representative_text=mask_personal_data(found.opinions[group.representative].text),
                size=group.size,
                people=group.people,
                similarity=group.similarity,
                exact=group.exact,
                campaign=group.campaign,
                members=[GroupMemberOut(id=m.id, similarity=m.similarity, people=m.people, handled=m.handled)
                         for m in group.members],
                merge_source_ids=review.group_sources(group),
            )
            for group in found.groups
        ],
    )  # fmt: skip


class MergeIn(BaseModel):
    model_config = _examples({"target_id": 812, "source_ids": [815, 901]})
    target_id: int = Field(ge=1, le=2**31 - 1)
    source_ids: list[int] = Field(min_length=1, max_length=review.MAX_MERGE_SOURCES)


class MergeOut(BaseModel):
    model_config = _examples({"target": _OPINION_EXAMPLE, "merged": 2, "moved": 0})
    target: ReviewedOpinionOut
    merged: int = Field(description="Opinions merged.")
    moved: int = Field(description="Opinions that had been merged into a source and moved to the target with it.")


@operation(bp, "/drafts/<int:draft_id>/opinions/merge", "POST", "mergeOpinions",
           summary="Merge opinions into one item that counts all their people.", tag="consultations",
           request_model=MergeIn, response_model=MergeOut, errors=(404, 409))  # fmt: skip
def merge_opinions(draft_id, body):
    """The sources must be received opinions of the draft; the target may be decided already (a late duplicate joins
    it) but not merged itself. Their submitters see the target's decision and reply. 409 for a source already merged
    or handled, or when someone changed them at the same time."""
    draft = get_draft(draft_id)
    target = review.get_opinion(body.target_id)
    if target.draft_id != draft.id:
        raise NotFound(_l("This draft has no such opinion."), code="opinion_not_found")
    result = review.merge_opinions(g.api_user, target, body.source_ids)
    return MergeOut(target=_opinion_out(review.get_opinion(target.id)), merged=result["merged"],
                    moved=result["moved"])  # fmt: skip


@operation(bp, "/opinions/<int:opinion_id>/unmerge", "POST", "unmergeOpinion",
           summary="Take a merged opinion out of its item again.", tag="consultations",
           response_model=ReviewedOpinionOut, errors=(404, 409))  # fmt: skip
def unmerge_opinion(opinion_id):
    """It is received again, with its own people; the item it was merged into counts them no more."""
    return _opinion_out(review.unmerge_opinion(g.api_user, review.get_opinion(opinion_id)))


class HandleIn(BaseModel):
    model_config = _examples(
        {"outcome": "partly_adopted", "reason": "部分小区条件不具备。", "reply": "已在第三条中增加相关规定。",
         "legal_text": "第三条 ……"},
        {"outcome": "采纳", "reply": "您的意见已被采纳。"},
    )  # fmt: skip
    outcome: OutcomeName = Field(description="采纳/部分采纳/未采纳 (or adopted, partly_adopted, not_adopted).")
    reason: str | None = Field(None, description="Required unless adopted; up to 5,000 characters.")
    reply: str | None = Field(None, description="Shown to the submitters on the tracking page.")
    legal_text: str | None = Field(None, description="The opinion rewritten in legal wording.")


@operation(bp, "/opinions/<int:opinion_id>/handling", "POST", "handleOpinion",
           summary="Decide an opinion: adopted, partly adopted or not adopted, with reason and reply.",
           tag="consultations", request_model=HandleIn, response_model=ReviewedOpinionOut,
           errors=(404, 409))  # fmt: skip
def handle_opinion(opinion_id, body):
    """A decision can be revised by sending another. A merged opinion is decided through the item it was merged
    into (409 ``opinion_merged``)."""
    opinion = review.get_opinion(opinion_id)
    review.handle_opinion(g.api_user, opinion, body.outcome, body.reason, body.reply, body.legal_text)
    return _opinion_out(review.get_opinion(opinion_id))


class ImportOut(BaseModel):
    model_config = _examples(
        {"rows": 120, "opinions": 120, "people": 164, "general": 6, "contacts": 40, "contact_point_id": 5}
    )
    rows: int
    opinions: int
    people: int = Field(description="The sum of the 人数 column (1 where empty).")
    general: int = Field(description="Opinions on the whole draft (总体).")
    contacts: int = Field(description="Rows with a name or phone, kept apart and purged in time.")
    contact_point_id: int


@operation(bp, "/drafts/<int:draft_id>/opinions/import", "POST", "importOpinions",
           summary="Import the opinions gathered at a meeting (征询会) from an .xlsx or .csv sheet.",
           tag="consultations", roles=IMPORT_ROLES, upload_field="file", response_model=ImportOut,
           errors=(404, 409, 413))  # fmt: skip
def import_opinions(draft_id):
    """All or nothing: a bad row imports nothing and ``details`` names each row's problem. Columns as staff write
    them: 条款 (or 第几条: 第十二条, 12, 总体), 意见内容, optionally 提出人, 联系电话, 人数. Form field ``point``: the
    contact point's id or poster code; contact-point staff may leave it out (their own point) and may import only
    into their point or a collection point under it (403). Files up to 50 MB; the same file is refused a second time
    (409)."""
    request.max_content_length = MAX_SHEET_BYTES + 1024 * 1024
    try:
        upload = request.files.get("file")
        point_value = (request.form.get("point") or "").strip()
    except RequestEntityTooLarge:
        message = _l(
            "The file is larger than %(mb)s MB. Split it into several files.", mb=MAX_SHEET_BYTES // (1024 * 1024)
        )
        raise Invalid(message, code="sheet_too_large", status=413) from None  # fmt: skip
    if upload is None or not upload.filename:
        raise Invalid(_l("Choose a file to upload."), code="file_required")
    draft = get_draft(draft_id)
    if point_value.isdigit() and len(point_value) < 10:
        point = get_contact_point(int(point_value))
    elif point_value:
        from voting.consultations.operations import point_for_code

        point = point_for_code(point_value)
        if point is None:
            raise NotFound(_l("No such contact point."), code="contact_point_not_found")
    else:
        point = imports.staff_point(g.api_user)
        if point is None:
            raise Invalid(_l("Choose the contact point the opinions were gathered at."), code="point_required")
    return ImportOut(**imports.import_opinions(g.api_user, draft, point, upload.filename, upload.read()))
