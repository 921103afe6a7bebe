"""API operation for a closed ballot's exports: the tally report and the raw ballot papers.

Registered on the API blueprint of ``voting.api.views``; the factory imports this module
before it registers the blueprint.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from voting.api.registry import operation
from voting.api.views import bp
from voting.ballots import operations as ballots
from voting.ballots.exports import MIMETYPES, export_ballot, export_response


class ExportQuery(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"format": "pdf"}]})
    format: Literal["pdf", "xlsx", "csv"] = Field(
        "pdf",
        description="pdf or xlsx: the tally report (计票结果报告); csv: the anonymous ballot papers, one a row, "
        "for an independent recount (UTF-8 with BOM).",
    )


_BINARY = {"type": "string", "format": "binary"}
MEDIA = {
    MIMETYPES["pdf"]: {"schema": _BINARY, "example": "%PDF-1.4 ..."},
    MIMETYPES["xlsx"]: {"schema": _BINARY, "example": "PK ..."},
    "text/csv": {
        "schema": {"type": "string"},
        "example": "\ufeff票号,有效/废票,1. 老旧小区加装电梯,2. 社区食堂\r\n1,有效,1,0\r\n2,有效,1,1\r\n",
    },
}


@operation(
    bp,
    "/ballots/<int:ballot_id>/export",
    "GET",
    "exportBallotResults",
    summary="Download the tally report or the ballot papers.",
    tag="ballots",
    query_model=ExportQuery,
    response_media=MEDIA,
    errors=(404, 409),
)
def export_ballot_results(ballot_id, query):
    """After close only (409 before). The PDF (A4, embedded Chinese font) and XLSX carry the official tally
    report: the rule, 应到/实到, ballots cast, valid and void, 未按, each item's counts and result, ties, the
    times voting opened and closed, and lines for the scrutineers' and tellers' signatures. The CSV has one row
    per ballot paper in random order, with no column naming a deputy on a secret ballot. Labels follow
    Accept-Language (Chinese by default)."""
    return export_response(export_ballot(ballots.get_ballot(ballot_id), query.format))
