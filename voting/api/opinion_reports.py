"""API operations for a draft's tallies and exports: getDraftStats, exportOpinions, getOpinionExport,
downloadOpinionExport.

Exports run as jobs (``voting.consultations.export_jobs``): ``exportOpinions`` starts one and
answers 202 at once; ``getOpinionExport`` tells how far it is; ``downloadOpinionExport`` sends
the file when it is done. Registered on the API blueprint of ``voting.api.views``; the factory
imports this module before it registers the blueprint.
"""

from typing import Literal

from flask import g, send_file, url_for
from pydantic import BaseModel, ConfigDict, Field

from voting.accounts.models import MEETING_ROLES, Role
from voting.api.registry import operation
from voting.api.views import bp
from voting.consultations import export_jobs, exports, stats
from voting.consultations.operations import get_draft
from voting.exports import attachment_headers

READ_ROLES = (*MEETING_ROLES, Role.CONTACT_STAFF)


def _examples(*examples):
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class CountOut(BaseModel):
    model_config = _examples({"opinions": 120, "people": 131})
    opinions: int = Field(description="Opinions received, merged ones included.")
    people: int = Field(description="People who raised them; a merged group counts once, with all its people.")


class AdoptionOut(BaseModel):
    model_config = _examples(
        {"adopted": 12, "partly_adopted": 5, "not_adopted": 23, "pending": 40, "reported": 40, "rate": 0.425}
    )
    adopted: int
    partly_adopted: int
    not_adopted: int
    pending: int = Field(description="Items still waiting for a decision; not in the rate.")
    reported: int = Field(description="Items with a decision: adopted + partly adopted + not adopted.")
    rate: float | None = Field(description="(adopted + partly adopted) / reported; null while nothing is reported.")


class ArticleStatOut(BaseModel):
    model_config = _examples(
        {"article_id": 7, "label": "第三条", "title": "适用范围", "heat": 4, "opinions": 35, "people": 40}
    )
    article_id: int
    label: str
    title: str | None
    heat: int = Field(description="0 (no opinions) to 5 (the busiest), on a logarithmic scale, for a heat map.")
    opinions: int
    people: int


class PointStatOut(BaseModel):
    model_config = _examples(
        {"contact_point_id": 2, "name": "殷行街道基层立法联系点", "kind": "point", "depth": 1,
         "own": {"opinions": 30, "people": 31}, "total": {"opinions": 52, "people": 60}}
    )  # fmt: skip
    contact_point_id: int
    name: str
    kind: str
    depth: int = Field(description="0 for the district point, 1 below it, 2 for collection points.")
    own: CountOut = Field(description="Opinions attributed to this point itself.")
    total: CountOut = Field(description="This point and every point below it.")


class ChannelStatOut(BaseModel):
    model_config = _examples({"channel": "poster", "opinions": 80, "people": 85})
    channel: Literal["poster", "link", "deputy", "import"]
    opinions: int
    people: int


class SubmitterStatOut(BaseModel):
    model_config = _examples({"submitter_type": "resident", "opinions": 100, "people": 108})
    submitter_type: Literal["resident", "deputy", "staff"]
    opinions: int
    people: int


class DraftStatsOut(BaseModel):
    """A draft's tallies. Definitions: voting/consultations/stats.py."""

    model_config = _examples(
        {
            "draft_id": 1,
            "scope": None,
            "opinions": 120,
            "people": 131,
            "items": 80,
            "merged": 40,
            "adoption": AdoptionOut.model_config["json_schema_extra"]["examples"][0],
            "whole_draft": {"opinions": 10, "people": 10},
            "articles": [ArticleStatOut.model_config["json_schema_extra"]["examples"][0]],
            "contact_points": [PointStatOut.model_config["json_schema_extra"]["examples"][0]],
            "unattributed": {"opinions": 40, "people": 41},
            "channels": [ChannelStatOut.model_config["json_schema_extra"]["examples"][0]],
            "submitter_types": [SubmitterStatOut.model_config["json_schema_extra"]["examples"][0]],
        }
    )
    draft_id: int
    scope: list[int] | None = Field(
        description="The contact points the figures are limited to (a point's staff: their point and those below "
        "it), or null for all."
    )
    opinions: int
    people: int
    items: int = Field(description="Opinions not merged into another: what is decided and reported.")
    merged: int
    adoption: AdoptionOut
    whole_draft: CountOut = Field(description="Opinions on the draft as a whole, not on one article.")
    articles: list[ArticleStatOut]
    contact_points: list[PointStatOut]
    unattributed: CountOut = Field(description="Opinions that came through no contact point.")
    channels: list[ChannelStatOut]
    submitter_types: list[SubmitterStatOut]


class ExportIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"format": "xlsx", "include_contacts": False}]}, extra="forbid"
    )
    format: Literal["xlsx", "pdf", "csv"] = Field(
        description="xlsx or pdf: the 意见建议汇总表 (one row per item, by article, with the original text, "
        "sources and handling); csv: every opinion as received (UTF-8 with BOM)."
    )
    include_contacts: bool = Field(
        False,
        description="Add the submitters' contact details, masked (138****5678, 张*). Recorded in the audit log.",
    )


class ExportJobOut(BaseModel):
    model_config = _examples(
        {
            "id": "q0sC3nU5oQ2h0L8w3xY1bA",
            "draft_id": 1,
            "format": "xlsx",
            "include_contacts": False,
            "state": "running",
            "done": 120000,
            "total": 300000,
            "percent": 40,
            "filename": "意见建议汇总表-某某条例（草案）.xlsx",
            "error": None,
            "status_url": "/api/v1/drafts/1/exports/q0sC3nU5oQ2h0L8w3xY1bA",
            "download_url": None,
        }
    )
    id: str
    draft_id: int
    format: Literal["xlsx", "pdf", "csv"]
    include_contacts: bool
    state: Literal["queued", "running", "done", "failed"]
    done: int = Field(description="Rows written so far.")
    total: int = Field(description="Rows the export will have (items for the 汇总表, opinions for the CSV).")
    percent: int
    filename: str
    error: str | None = Field(description="Why the job failed, in the caller's language.")
    status_url: str
    download_url: str | None = Field(description="Set once the file is ready.")


def _job_out(job):
    described = export_jobs.describe(job)
    draft_id, job_id = described["draft_id"], described["id"]
    return ExportJobOut(
        **described,
        status_url=url_for("api.getOpinionExport", draft_id=draft_id, job_id=job_id),
        download_url=url_for("api.downloadOpinionExport", draft_id=draft_id, job_id=job_id)
        if described["state"] == "done"
        else None,
    )


@operation(
    bp,
    "/drafts/<int:draft_id>/stats",
    "GET",
    "getDraftStats",
    summary="A draft's tallies: opinions and people per article, contact point, channel; the adoption rate.",
    tag="consultations",
    roles=READ_ROLES,
    response_model=DraftStatsOut,
    errors=(404,),
)
def get_draft_stats(draft_id):
    """Opinions count every submission where it came in; people count each merged group once, at its item.
    The adoption rate is (adopted + partly adopted) / reported, where reported means items with a decision.
    A contact point's staff get the figures of their point and the points below it (``scope``)."""
    draft = get_draft(draft_id)
    return DraftStatsOut(**stats.as_dict(stats.draft_stats(draft, stats.scope_for(g.api_user))))


@operation(
    bp,
    "/drafts/<int:draft_id>/exports",
    "POST",
    "exportOpinions",
    summary="Start an export of a draft's opinions: the 意见建议汇总表 (xlsx, pdf) or the raw opinions (csv).",
    tag="consultations",
    request_model=ExportIn,
    response_model=ExportJobOut,
    status=202,
    errors=(404, 409),
)
def export_opinions(draft_id, body):
    """The export is prepared in the background; poll ``status_url`` (getOpinionExport) and fetch
    ``download_url`` (downloadOpinionExport) when ``state`` is ``done``. Asking again for the same export while
    it runs returns the running job; 409 ``exports_busy`` when the server is already preparing other exports.
    Phone and ID numbers typed into the text are always masked; contact details only with
    ``include_contacts``, masked. Labels follow Accept-Language (Chinese by default)."""
    draft = get_draft(draft_id)
    return _job_out(export_jobs.start_export(g.api_user, draft, body.format, body.include_contacts))


@operation(
    bp,
    "/drafts/<int:draft_id>/exports/<job_id>",
    "GET",
    "getOpinionExport",
    summary="How far an export of a draft's opinions is.",
    tag="consultations",
    response_model=ExportJobOut,
    errors=(404,),
)
def get_opinion_export(draft_id, job_id):
    """Only the account that started the export (or an administrator) sees it. A job whose worker stopped
    reads ``failed`` with the reason in ``error``; finished files are kept for a day (an hour with contacts)."""
    return _job_out(export_jobs.get_job(g.api_user, get_draft(draft_id), job_id))


_BINARY = {"type": "string", "format": "binary"}


@operation(
    bp,
    "/drafts/<int:draft_id>/exports/<job_id>/file",
    "GET",
    "downloadOpinionExport",
    summary="Download a finished export of a draft's opinions.",
    tag="consultations",
    response_media={
        exports.MIMETYPES["xlsx"]: {"schema": _BINARY, "example": "PK ..."},
        exports.MIMETYPES["pdf"]: {"schema": _BINARY, "example": "%PDF-1.4 ..."},
        "text/csv": {
            "schema": {"type": "string"},
            "example": "\ufeff查询码,提交时间,条款,意见建议\r\nK7QX2MNP8R,2027-01-10 10:00:00,第三条,建议增加…\r\n",
        },
    },
    errors=(404, 409),
)
def download_opinion_export(draft_id, job_id):
    """409 ``export_not_ready`` until the job is done."""
    job = export_jobs.get_job(g.api_user, get_draft(draft_id), job_id)
    response = send_file(export_jobs.job_file(job), mimetype=exports.MIMETYPES[job["format"]], max_age=0)
    response.headers.update(attachment_headers(job["filename"], job["ascii_filename"]))
    return response
