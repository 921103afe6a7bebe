"""Organizer downloads of a closed ballot: the tally report (PDF, XLSX) and the ballot papers (CSV)."""

from flask import Blueprint, request

from voting.auth import roles_required
from voting.ballots import operations as ballots
from voting.ballots.exports import export_ballot, export_response

bp = Blueprint("ballot_exports", __name__)


@bp.get("/ballots/<int:ballot_id>/export")
@roles_required()
def export(ballot_id):
    """Download an export: ``?fmt=pdf`` or ``xlsx`` (the tally report) or ``csv`` (the ballot papers)."""
    ballot = ballots.get_ballot(ballot_id)
    return export_response(export_ballot(ballot, request.args.get("fmt", "pdf")))
