"""A draft's statistics page and its exports: the 意见建议汇总表 (XLSX, PDF) and the raw opinions (CSV).

Organizers and administrators see everything and export; a contact point's staff see the
figures of their point and the points below it (``stats.scope_for``) and export nothing.
"""

from flask import Blueprint, Response, current_app, flash, jsonify, redirect, render_template, send_file, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectChoice

from voting.accounts.models import MEETING_ROLES, Role
from voting.audit.operations import actor_label, record
from voting.auth import roles_required
from voting.consultations import export_jobs, exports, stats
from voting.consultations.models import Draft, DraftState
from voting.consultations.operations import get_draft
from voting.errors import Conflict, Invalid
from voting.exports import attachment_headers
from voting.extensions import db

bp = Blueprint("consult_reports", __name__, url_prefix="/consultations/drafts/<int:draft_id>/report")
REPORT_ROLES = (Role.ADMIN, Role.ORGANIZER, Role.CONTACT_STAFF)
BAR_WIDTH = 400  # the SVG bars' own coordinate width; CSS scales them


class ExportForm(FlaskForm):
    format = RadioField(
        _l("Format"),
        choices=[
            SelectChoice("xlsx", _l("Summary of opinions, Excel (.xlsx)")),
            SelectChoice("pdf", _l("Summary of opinions, PDF for printing")),
            SelectChoice("csv", _l("Every opinion as received, CSV")),
        ],
        default="xlsx",
    )
    include_contacts = BooleanField(
        _l("Include submitters' contact details (masked)"),
        description=_l(
            "Personal data: only when you need it. Phone numbers are masked (138****5678) and names shortened; "
            "the export is recorded in the audit log."
        ),
    )


def _bars(rows, value):
    """Bar widths in SVG units for ``rows``, against the largest ``value(row)``."""
    top = max((value(row) for row in rows), default=0)
    return [round(BAR_WIDTH * value(row) / top, 1) if top else 0 for row in rows]


@bp.get("")
@roles_required(*REPORT_ROLES)
def page(draft_id):
    """The draft's statistics: totals, adoption, heat map over the articles, contact points, channels."""
    draft = get_draft(draft_id)
    scope = stats.scope_for(current_user)
    figures = stats.draft_stats(draft, scope)
    points = figures.points
    channels = figures.channels
    can_export = current_user.has_role(*MEETING_ROLES)
    return render_template(
        "consultations/report_stats.html",
        draft=draft,
        figures=figures,
        published=draft.state != DraftState.DRAFT,
        status_label=exports.status_label,
        channel_labels=stats.CHANNEL_LABELS,
        submitter_labels=stats.SUBMITTER_LABELS,
        point_bars=list(zip(points, _bars(points, lambda p: p.total.opinions), strict=True)),
        channel_bars=list(zip(channels, _bars(channels, lambda c: c[1].opinions), strict=True)),
        bar_width=BAR_WIDTH,
        heat_levels=range(stats.HEAT_LEVELS + 1),
        form=ExportForm() if can_export else None,
        scoped_point=_scoped_point(figures),
    )


def _scoped_point(figures):
    if figures.scope is None:
        return None
    return figures.points[0].name if figures.points else ""


def _csv_response(draft, include_contacts):
    """Stream the raw opinions: rows are read and sent a few thousand at a time, never all in memory."""
    filename, ascii_filename = exports.export_filename(draft, "csv")
    app, locale, draft_id = current_app._get_current_object(), str(get_locale()), draft.id

    def body():
        # The response is sent after the request's context is gone: the rows are read in a context of their own.
        with app.app_context(), force_locale(locale):
            try:
                yield from exports.csv_stream(db.session.get(Draft, draft_id), include_contacts)
            finally:
                db.session.remove()

    return Response(body(), mimetype="text/csv", headers=attachment_headers(filename, ascii_filename))


@bp.get("/opinions.csv")
@roles_required(*MEETING_ROLES)
def opinions_csv(draft_id):
    """Every opinion as received, streamed as CSV; no contact details (those need the form's POST)."""
    return _csv_response(get_draft(draft_id), include_contacts=False)


@bp.post("/exports")
@roles_required(*MEETING_ROLES)
def start_export(draft_id):
    """Export in the chosen format: the CSV streams at once, the 汇总表 is prepared in the background."""
    draft = get_draft(draft_id)
    form = ExportForm()
    if not form.validate_on_submit():
        raise Invalid(_("Choose the format: xlsx, pdf or csv."), code="invalid_format")
    include_contacts = bool(form.include_contacts.data)
    if form.format.data == "csv":
        if include_contacts:
            record(actor_label(current_user), "draft.export_contacts", "draft", draft.id, format="csv")
            db.session.commit()
        return _csv_response(draft, include_contacts)
    try:
        job = export_jobs.start_export(current_user, draft, form.format.data, include_contacts)
    except Conflict as refused:  # too big for a PDF, or the server busy with other exports
        db.session.rollback()
        flash(refused.message, "error")
        return redirect(url_for(".page", draft_id=draft.id) + "#exports-heading")
    db.session.commit()
    return redirect(url_for(".export_page", draft_id=draft.id, job_id=job["id"]))


@bp.get("/exports/<job_id>")
@roles_required(*MEETING_ROLES)
def export_page(draft_id, job_id):
    """How far the export is; the download once it is ready (static/js/consult_reports.js polls)."""
    draft = get_draft(draft_id)
    job = export_jobs.describe(export_jobs.get_job(current_user, draft, job_id))
    return render_template("consultations/report_export.html", draft=draft, job=job)


@bp.get("/exports/<job_id>/status.json")
@roles_required(*MEETING_ROLES)
def export_status(draft_id, job_id):
    draft = get_draft(draft_id)
    job = export_jobs.describe(export_jobs.get_job(current_user, draft, job_id))
    link = url_for(".download", draft_id=draft.id, job_id=job_id) if job["state"] == export_jobs.DONE else None
    response = jsonify(job | {"download_url": link})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/exports/<job_id>/file")
@roles_required(*MEETING_ROLES)
def download(draft_id, job_id):
    draft = get_draft(draft_id)
    job = export_jobs.get_job(current_user, draft, job_id)
    path = export_jobs.job_file(job)
    response = send_file(path, mimetype=exports.MIMETYPES[job["format"]], max_age=0)
    response.headers.update(attachment_headers(job["filename"], job["ascii_filename"]))
    return response
