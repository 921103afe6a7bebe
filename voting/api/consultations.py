"""API operations for drafts put out for comment and the contact-point network.

createDraft, updateDraft, getDraft, publishDraft, createContactPoint, listContactPoints.
Registered on the API blueprint of ``voting.api.views``; the factory imports this module before
it registers the blueprint. Organizers and administrators change things; contact-point staff
may read drafts and the network.
"""

import base64
import binascii
from datetime import datetime
from typing import Literal

from flask import g
from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, ConfigDict, Field, model_validator

from voting.api.registry import operation
from voting.api.views import bp
from voting.consultations import operations as consultations
from voting.consultations import points
from voting.consultations.models import DraftState
from voting.consultations.views import READ_ROLES, draft_url, point_url, split_warnings
from voting.errors import Invalid
from voting.timeutil import isoformat_utc


def _examples(*examples):
    return ConfigDict(json_schema_extra={"examples": list(examples)}, extra="forbid")


def _example(model):
    return model.model_config["json_schema_extra"]["examples"][0]


_DEADLINE = Field(
    None,
    description="End of the comment period (RFC 3339; a time without offset is UTC). Default: 30 days from now.",
)


class UploadIn(BaseModel):
    model_config = _examples({"filename": "草案.docx", "content_base64": "UEsDBBQAAAAIAA…"})
    filename: str = Field(min_length=1, max_length=255, description="Its ending tells the type: .docx or .txt.")
    content_base64: str = Field(
        description="The file's bytes in base64 (standard alphabet). At most 10 MB of file; the request "
        "as a whole must stay under the server's upload limit."
    )


class HeadingIn(BaseModel):
    model_config = _examples({"level": 2, "number": 1, "title": "总则", "parent": None})
    level: Literal[1, 2, 3] = Field(description="1 part (编), 2 chapter (章), 3 section (节).")
    number: int | None = Field(None, description="None for an unnumbered 总则 or 附则.")
    title: str = ""
    parent: int | None = Field(None, description="Position of the enclosing heading in `headings`.")
    notes: list[str] = Field(
        default_factory=list, description="Paragraphs between the heading and its first article, shown under it."
    )


class ArticleIn(BaseModel):
    model_config = _examples(
        {"number": 2, "suffix": 0, "title": "适用范围", "paragraphs": ["本规定适用于本区行政区域内的住宅小区。"],
         "heading": 0}
    )  # fmt: skip
    number: int = Field(description="12 for 第十二条.")
    suffix: int = Field(0, description="1 for 第十二条之一.")
    title: str | None = None
    paragraphs: list[str] = Field(description="The article's paragraphs (款) in order; items stay lines inside one.")
    heading: int | None = Field(None, description="Position of the innermost heading it stands under.")


class StructureIn(BaseModel):
    model_config = _examples(
        {"style": "article", "preamble": [], "headings": [_example(HeadingIn)], "articles": [_example(ArticleIn)]}
    )
    style: Literal["article", "point"] = Field("article", description="第X条 articles, or 一、二、 points (决定).")
    preamble: list[str] = Field(default_factory=list, description="Paragraphs before the first article.")
    headings: list[HeadingIn] = Field(default_factory=list)
    articles: list[ArticleIn] = Field(default_factory=list)
    trailer: list[str] = Field(
        default_factory=list, description="Paragraphs after the last article (an attached 说明 or 附件)."
    )


class DraftIn(BaseModel):
    model_config = _examples(
        {
            "title": "上海市杨浦区住宅小区物业管理若干规定（草案征求意见稿）",
            "text": "上海市杨浦区住宅小区物业管理若干规定（草案征求意见稿）\n第一章 总则\n"
            "第一条 为了规范住宅小区物业管理，制定本规定。",
            "explanation": "为解决住宅小区物业管理中的突出问题，起草本规定。",
            "deadline": "2027-02-28T16:00:00Z",
        },
        {"file": _example(UploadIn)},
    )
    title: str | None = Field(None, max_length=200, description="Default: the draft's own first line.")
    text: str | None = Field(None, description="The pasted text of the draft. Give either `text` or `file`.")
    file: UploadIn | None = Field(None, description="An uploaded .docx or .txt instead of `text`.")
    explanation: str = Field("", description="起草说明, shown to residents above the draft.")
    deadline: datetime | None = _DEADLINE

    @model_validator(mode="after")
    def _one_source(self):
        if (self.text is None) == (self.file is None):
            raise ValueError("give either text or file")
        return self


class DraftUpdate(BaseModel):
    model_config = _examples(
        {"deadline": "2027-03-15T16:00:00Z"},
        {"structure": _example(StructureIn)},
    )
    title: str | None = Field(None, max_length=200)
    explanation: str | None = None
    deadline: datetime | None = Field(None, description="Can still move while the draft is open for comment.")
    text: str | None = Field(None, description="Replace the text and split it again (before publishing).")
    structure: StructureIn | None = Field(
        None, description="The corrected split, replacing every heading and article (before publishing)."
    )


class HeadingOut(HeadingIn):
    model_config = _examples(
        {**_example(HeadingIn), "position": 0, "label": "第一章", "notes": ["本章规定物业服务的一般要求。"]}
    )
    position: int
    label: str = Field(description="第一章, or empty for an unnumbered heading.")
    notes: list[str] = Field(
        description="Paragraphs between the heading and its first article, shown to residents under the heading."
    )


class ArticleOut(BaseModel):
    model_config = _examples({"id": 41, "position": 1, "label": "第二条", **_example(ArticleIn)})
    id: int
    position: int
    label: str
    number: int
    suffix: int
    title: str | None
    paragraphs: list[str]
    heading: int | None


class WarningOut(BaseModel):
    model_config = _examples({"code": "duplicate", "message": "第四条出现了不止一次。", "article": 3, "heading": None})
    code: str = Field(description="no_articles, duplicate, missing, out_of_order, empty, duplicate_heading, "
                      "heading_order, missing_heading, toc_mismatch, stray_text (a heading has notes) or trailer "
                      "(text after the last article).")  # fmt: skip
    message: str
    article: int | None = Field(description="Position of the article it is about.")
    heading: int | None = Field(description="Position of the heading it is about.")


class DraftOut(BaseModel):
    model_config = _examples(
        {
            "id": 3,
            "title": "上海市杨浦区住宅小区物业管理若干规定（草案征求意见稿）",
            "state": "draft",
            "explanation": "为解决住宅小区物业管理中的突出问题，起草本规定。",
            "deadline": "2027-02-28T16:00:00Z",
            "created_at": "2027-01-28T02:00:00Z",
            "published_at": None,
            "closed_at": None,
            "style": "article",
            "preamble": [],
            "headings": [_example(HeadingOut)],
            "articles": [_example(ArticleOut)],
            "trailer": ["附件：物业服务收费标准"],
            "warnings": [],
            "url": None,
        }
    )
    id: int
    title: str
    state: Literal["draft", "published", "closed"]
    explanation: str
    deadline: str
    created_at: str
    published_at: str | None
    closed_at: str | None
    style: Literal["article", "point"]
    preamble: list[str]
    headings: list[HeadingOut]
    articles: list[ArticleOut]
    trailer: list[str] = Field(
        description="Paragraphs after the last article (an attached 说明 or 附件), shown to residents after them."
    )
    warnings: list[WarningOut] = Field(description="What to check before publishing; empty once published.")
    url: str | None = Field(description="The residents' page, once published.")


class ContactPointIn(BaseModel):
    model_config = _examples(
        {"name": "殷行街道基层立法联系点", "kind": "point", "parent_id": 1, "address": "殷行路1号"}
    )
    name: str = Field(max_length=200)
    kind: Literal["district", "point", "collection"] = Field(
        description="district: the root (no parent); point: under the district point; collection: under a point."
    )
    parent_id: int | None = None
    address: str = Field("", max_length=300)


class ContactPointOut(BaseModel):
    model_config = _examples(
        {"id": 2, "parent_id": 1, "kind": "point", "name": "殷行街道基层立法联系点", "address": "殷行路1号",
         "code": "K7QX2MNP", "active": True, "url": "https://rd.example.gov.cn/c?p=K7QX2MNP"}
    )  # fmt: skip
    id: int
    parent_id: int | None
    kind: Literal["district", "point", "collection"]
    name: str
    address: str
    code: str = Field(description="Printed on the point's poster; its QR link carries it.")
    active: bool
    url: str = Field(description="What the point's QR poster opens.")


class ContactPointList(BaseModel):
    model_config = _examples({"items": [_example(ContactPointOut)]})
    items: list[ContactPointOut] = Field(description="Parents before their children, siblings by name.")


# -- conversions -------------------------------------------------------------------------------------


def _draft_out(draft):
    data = consultations.structure_of(draft).to_dict()
    warnings = split_warnings(draft, data) if draft.state == DraftState.DRAFT else []
    return DraftOut(
        id=draft.id,
        title=draft.title,
        state=draft.state,
        explanation=draft.explanation,
        deadline=isoformat_utc(draft.deadline),
        created_at=isoformat_utc(draft.created_at),
        published_at=isoformat_utc(draft.published_at),
        closed_at=isoformat_utc(draft.closed_at),
        style=draft.style,
        preamble=data["preamble"],
        headings=[
            HeadingOut(
                position=i,
                label=h["label"],
                level=h["level"],
                number=h["number"],
                title=h["title"],
                parent=h["parent"],
                notes=h["notes"],
            )
            for i, h in enumerate(data["headings"])
        ],  # fmt: skip
        articles=[
            ArticleOut(
                id=stored.id,
                position=i,
                label=a["label"],
                number=a["number"],
                suffix=a["suffix"],
                title=a["title"],
                paragraphs=a["paragraphs"],
                heading=a["heading"],
            )
            for i, (stored, a) in enumerate(zip(draft.articles, data["articles"], strict=True))
        ],  # fmt: skip
        trailer=data["trailer"],
        warnings=[
            WarningOut(
                code=w["code"],
                message=w["message"],
                article=w["position"] if w["kind"] == "article" else None,
                heading=w["position"] if w["kind"] == "heading" else None,
            )
            for w in warnings
        ],
        url=draft_url(draft) if draft.state != DraftState.DRAFT else None,
    )


def _point_out(point):
    return ContactPointOut(
        id=point.id,
        parent_id=point.parent_id,
        kind=point.kind,
        name=point.name,
        address=point.address,
        code=point.code,
        active=point.active,
        url=point_url(point),
    )


def _upload_text(upload):
    try:
        data = base64.b64decode(upload.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(_l("The file is not valid base64."), code="invalid_base64") from None
    return consultations.read_upload(upload.filename, data)


# -- drafts ----------------------------------------------------------------------------------------


@operation(
    bp,
    "/drafts",
    "POST",
    "createDraft",
    summary="Create a draft from text or an uploaded .docx/.txt and split it.",
    tag="consultations",
    request_model=DraftIn,
    response_model=DraftOut,
    status=201,
    errors=(413,),
)
def create_draft(body):
    """The draft is split into headings (编/章/节) and articles (条) with their paragraphs and kept for
    correction: ``warnings`` names what to check (skipped, repeated or empty articles) before publishing.
    Unreadable files are refused with a ``document_*`` code (document_old_word for a .doc, ...)."""
    text = _upload_text(body.file) if body.file is not None else body.text
    draft, _ = consultations.create_draft(
        g.api_user, text, title=body.title, explanation=body.explanation, deadline=body.deadline
    )
    return _draft_out(draft)


@operation(
    bp,
    "/drafts/<int:draft_id>",
    "GET",
    "getDraft",
    summary="A draft: its structure, articles and what to check before publishing.",
    tag="consultations",
    roles=READ_ROLES,
    response_model=DraftOut,
    errors=(404,),
)
def get_draft(draft_id):
    """Headings and articles in order; an article's ``heading`` and a heading's ``parent`` are positions. A
    heading's ``notes`` and the draft's ``trailer`` are the text the residents' page shows under the heading
    and after the last article."""
    return _draft_out(consultations.get_draft(draft_id))


@operation(
    bp,
    "/drafts/<int:draft_id>",
    "PATCH",
    "updateDraft",
    summary="Change a draft's details, re-split a new text, or store a corrected split.",
    tag="consultations",
    request_model=DraftUpdate,
    response_model=DraftOut,
    errors=(404, 409),
)
def update_draft(draft_id, body):
    """Title, explanation, text and structure change only before publishing (409 ``draft_published``);
    the deadline can still move while the draft is open. A ``structure`` replaces all headings and
    articles: send back getDraft's ``preamble``, ``headings`` (with their ``notes``), ``articles`` and
    ``trailer`` with your corrections."""
    draft = consultations.get_draft(draft_id)
    structure = body.structure.model_dump() if body.structure is not None else None
    consultations.update_draft(
        g.api_user,
        draft,
        title=body.title,
        explanation=body.explanation,
        deadline=body.deadline,
        text=body.text,
        structure=structure,
    )
    return _draft_out(draft)


@operation(
    bp,
    "/drafts/<int:draft_id>/publish",
    "POST",
    "publishDraft",
    summary="Open the draft for comment.",
    tag="consultations",
    response_model=DraftOut,
    errors=(400, 404, 409),
)
def publish_draft(draft_id):
    """Refused (400) while the draft has no articles (``no_articles``), an article number twice
    (``duplicate_article``), an article without text (``empty_article``) or a deadline in the past."""
    draft = consultations.get_draft(draft_id)
    consultations.publish_draft(g.api_user, draft)
    return _draft_out(draft)


# -- contact points --------------------------------------------------------------------------------


@operation(
    bp,
    "/contact-points",
    "POST",
    "createContactPoint",
    summary="Add a point to the contact-point network.",
    tag="consultations",
    request_model=ContactPointIn,
    response_model=ContactPointOut,
    status=201,
    errors=(404, 409),
)
def create_contact_point(body):
    """The network is a tree: one district point, contact points under it, collection points under those.
    The point gets a random code for its QR poster; names are unique among the points of one parent."""
    parent = points.get_contact_point(body.parent_id) if body.parent_id is not None else None
    point = consultations.create_contact_point(g.api_user, body.name, body.kind, parent, body.address)
    return _point_out(point)


@operation(
    bp,
    "/contact-points",
    "GET",
    "listContactPoints",
    summary="The contact-point network.",
    tag="consultations",
    roles=READ_ROLES,
    response_model=ContactPointList,
)
def list_contact_points():
    """Every point, retired ones included (``active`` false), with the link its poster's QR code opens."""
    return ContactPointList(items=[_point_out(p) for p in consultations.list_contact_points()])
