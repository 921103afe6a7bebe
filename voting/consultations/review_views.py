"""Organizer pages for reviewing a draft's opinions: by article, filtered lists, suggested
duplicates with a merge action, the handling form, and the staff's meeting-sheet import.

Organizers review; contact-point staff only import, into their own point. Personal data is
shown masked: phone numbers and ID numbers typed into an opinion, and the submitter's contact.
"""

from functools import wraps

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import RadioField, SelectChoice, SelectField, TextAreaField
from wtforms.validators import Length, Optional

from voting.accounts.models import MEETING_ROLES, Role
from voting.auth import roles_required
from voting.consultations import imports, review
from voting.consultations.masking import mask_personal_data, mask_phone
from voting.consultations.models import Channel, Draft, DraftState, OpinionStatus, SubmitterType
from voting.consultations.operations import get_draft, list_contact_points
from voting.consultations.opinion_sheet import MAX_SHEET_BYTES
from voting.consultations.splitter import Article as SplitArticle
from voting.errors import DomainError, Invalid
from voting.extensions import csrf, db

bp = Blueprint("opinion_review", __name__)

IMPORT_ROLES = (*MEETING_ROLES, Role.CONTACT_STAFF)
PAGE_SIZE = 50
GROUPS_SHOWN = 100
MEMBERS_SHOWN = 8
WHOLE_DRAFT_SUGGESTIONS = 20_000  # above this many opinions, suggestions are made one article at a time
# The example on the import page: the columns as staff write them, whatever the page's language.
SAMPLE_SHEET = (
    ("条款", "意见内容", "提出人", "联系电话", "人数"),
    ("第十二条", "建议将“三十日”改为“十五日”。", "王五", "13800138000", "3"),
    ("总体", "同意草案。", "", "", ""),
)
CSRF_MESSAGE = _l("This form has expired or was not sent from this site. Please reload the page and try again.")


class HandleForm(FlaskForm):
    outcome = RadioField(
        _l("Decision"),
        choices=[
            SelectChoice(OpinionStatus.ADOPTED.value, _l("Adopted (采纳)")),
            SelectChoice(OpinionStatus.PARTLY_ADOPTED.value, _l("Partly adopted (部分采纳)")),
            SelectChoice(OpinionStatus.NOT_ADOPTED.value, _l("Not adopted (未采纳)")),
        ],
    )
    reason = TextAreaField(
        _l("Reason"),
        validators=[Optional(), Length(max=review.MAX_HANDLING_CHARS)],
        description=_l("Required unless adopted. For the summary table (意见建议汇总表), not shown to the submitter."),
    )
    reply = TextAreaField(
        _l("Reply to the submitters"),
        validators=[Optional(), Length(max=review.MAX_HANDLING_CHARS)],
        description=_l("Shown on the tracking page to everyone whose opinion is part of this item."),
    )
    legal_text = TextAreaField(
        _l("In legal wording"),
        validators=[Optional(), Length(max=review.MAX_HANDLING_CHARS)],
        description=_l("The opinion rewritten as the article would read (optional)."),
    )


class ImportOpinionsForm(FlaskForm):
    point = SelectField(_l("Contact point"), coerce=int)
    file = FileField(
        _l("Sheet of opinions (.xlsx or .csv, at most 50 MB)"),
        description=_l("First row: 条款 (or 第几条) and 意见内容; optionally 提出人, 联系电话 and 人数. "
                       "Write the article as 第十二条 or 12, or 总体 for the whole draft."),
        render_kw={"accept": ".xlsx,.csv"},
    )  # fmt: skip


# -- helpers -------------------------------------------------------------------------------------


def _article_label(draft, article):
    if article is None:
        return _("Whole draft")
    return SplitArticle(article.number, article.suffix, style=draft.style).label


def _mask_name(name):
    """王五 -> 王*: enough to tell submitters apart on the screen, not to name them."""
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def _article_param(draft):
    """The article filter from the query string: an article id of this draft, GENERAL, or None."""
    value = request.args.get("article", "").strip()
    if value == review.GENERAL:
        return review.GENERAL
    if value.isdigit():
        article_id = int(value)
        if any(a.id == article_id for a in draft.articles):
            return article_id
    return None


def _int_param(name):
    value = request.args.get(name, "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


def _points():
    depth, rows = {}, []
    for point in list_contact_points():
        depth[point.id] = depth.get(point.parent_id, -1) + 1
        rows.append((point, "\u3000" * depth[point.id] + point.name))
    return rows


def _reviewed_draft(draft_id):
    draft = get_draft(draft_id)
    if draft.state == DraftState.DRAFT:
        raise Invalid(_l("The draft has not been published; there are no opinions to review yet."),
                      code="draft_not_published")  # fmt: skip
    return draft


@bp.app_template_filter("masked")
def masked_filter(text):
    return mask_personal_data(text)


def _shared_context(draft):
    return {
        "draft": draft,
        "article_label": lambda article: _article_label(draft, article),
        "mask_phone": mask_phone,
        "mask_name": _mask_name,
        "status_labels": {s.value: s.label for s in OpinionStatus},
        "channel_labels": {str(k): v for k, v in review.CHANNEL_LABELS.items()},
        "submitter_labels": {str(k): v for k, v in review.SUBMITTER_LABELS.items()},
    }


# -- by article ----------------------------------------------------------------------------------


@bp.get("/consultations/drafts/<int:draft_id>/review")
@roles_required()
def index(draft_id):
    """The draft's articles with their opinion counts: where to start reviewing."""
    draft = _reviewed_draft(draft_id)
    counts = review.article_counts(draft)
    most = max((c.opinions for c in counts), default=0)
    return render_template("consultations/review_index.html", counts=counts, most=most,
                           total=sum(c.opinions for c in counts), open=sum(c.open for c in counts),
                           **_shared_context(draft))  # fmt: skip


@bp.get("/consultations/drafts/<int:draft_id>/review/opinions")
@roles_required()
def opinions(draft_id):
    draft = _reviewed_draft(draft_id)
    page = max(_int_param("page") or 1, 1)
    filters = review.Filters(
        article=_article_param(draft),
        status=request.args.get("status") if request.args.get("status") in review.STATUS_FILTERS else None,
        point_id=_int_param("point"),
        channel=request.args.get("channel") if request.args.get("channel") in set(Channel) else None,
        submitter_type=request.args.get("submitter") if request.args.get("submitter") in set(SubmitterType) else None,
        search=request.args.get("q", "").strip()[: review.MAX_SEARCH_CHARS] or None,
    )
    order = request.args.get("order") if request.args.get("order") in review.ORDERS else "oldest"
    rows, total = review.list_opinions(draft, filters, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE, order=order)
    article = next((a for a in draft.articles if a.id == filters.article), None)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "consultations/review_list.html",
        rows=rows,
        total=total,
        page=page,
        page_size=PAGE_SIZE,
        filters=filters,
        order=order,
        article=article,
        args=args,
        points=_points(),
        **_shared_context(draft),
    )


# -- duplicates and merging ----------------------------------------------------------------------


@bp.get("/consultations/drafts/<int:draft_id>/review/duplicates")
@roles_required()
def duplicates(draft_id):
    draft = _reviewed_draft(draft_id)
    counts = review.article_counts(draft)
    whole_draft_allowed = sum(c.opinions for c in counts) <= WHOLE_DRAFT_SUGGESTIONS
    article = _article_param(draft)
    chosen = article is not None or (request.args.get("article") == "all" and whole_draft_allowed)
    found = None
    if chosen:
        found = review.suggest_duplicates(draft, article=article, limit=GROUPS_SHOWN, members_shown=MEMBERS_SHOWN)
    articles = {a.id: a for a in draft.articles}
    return render_template(
        "consultations/review_duplicates.html",
        counts=counts,
        article=article,
        chosen=chosen,
        found=found,
        articles=articles,
        whole_draft_allowed=whole_draft_allowed,
        group_sources=review.group_sources,
        members_shown=MEMBERS_SHOWN,
        **_shared_context(draft),
    )


def _ids(value):
    parts = [p for p in (value or "").replace("，", ",").split(",") if p.strip()]
    if not parts or not all(p.strip().isdigit() and len(p.strip()) < 10 for p in parts):
        raise Invalid(_l("Choose the opinions to merge."), code="nothing_to_merge")
    return [int(p) for p in parts]


def _back(draft, fallback):
    target = request.form.get("next", "")
    prefix = f"/consultations/drafts/{draft.id}/review"
    # Only back to one of this draft's review pages: never an address from outside.
    if target.startswith(prefix) and "//" not in target and "\\" not in target:
        return target
    return fallback


@bp.post("/consultations/drafts/<int:draft_id>/review/merge")
@roles_required()
def merge(draft_id):
    draft = _reviewed_draft(draft_id)
    target = review.get_opinion(_int_value(request.form.get("target")))
    if target.draft_id != draft.id:
        raise Invalid(_l("The opinion belongs to another draft."), code="other_draft")
    result = review.merge_opinions(current_user, target, _ids(request.form.get("sources")))
    db.session.commit()
    flash(_("%(merged)s opinions merged into opinion %(id)s, now raised by %(people)s people.",
            merged=result["merged"] + result["moved"], id=target.id, people=result["people"]), "success")  # fmt: skip
    return redirect(_back(draft, url_for(".duplicates", draft_id=draft.id)))


def _int_value(value):
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


# -- one opinion ---------------------------------------------------------------------------------


@bp.route("/consultations/opinions/<int:opinion_id>", methods=["GET", "POST"])
@roles_required()
def opinion(opinion_id):
    item = review.get_opinion(opinion_id)
    draft = db.session.get(Draft, item.draft_id)
    form = HandleForm(obj=item if request.method == "GET" else None)
    if request.method == "GET" and item.status_enum.handled:
        form.outcome.data = item.status
    error = None
    if form.validate_on_submit():
        try:
            review.handle_opinion(current_user, item, form.outcome.data, form.reason.data, form.reply.data,
                                  form.legal_text.data)  # fmt: skip
        except DomainError as refusal:
            db.session.rollback()
            if refusal.code == "reason_required":  # next to the box to fill in, which is marked invalid
                form.reason.errors = [*form.reason.errors, refusal.message]
            else:
                error = refusal
        else:
            db.session.commit()
            flash(_("Decision saved."), "success")
            return redirect(url_for(".opinion", opinion_id=item.id))
    merged, merged_total = review.merged_into(item)
    status = 400 if request.method == "POST" else 200
    return render_template("consultations/review_opinion.html", opinion=item, form=form, error=error, merged=merged,
                           merged_total=merged_total, target=db.session.get(type(item), item.merged_into_id)
                           if item.merged_into_id else None, **_shared_context(draft)), status  # fmt: skip


@bp.post("/consultations/opinions/<int:opinion_id>/unmerge")
@roles_required()
def unmerge(opinion_id):
    item = review.get_opinion(opinion_id)
    target_id = item.merged_into_id
    review.unmerge_opinion(current_user, item)
    db.session.commit()
    flash(_("Opinion %(id)s is a separate item again.", id=item.id), "success")
    back = request.form.get("back")
    return redirect(url_for(".opinion", opinion_id=target_id if back == "target" and target_id else item.id))


@bp.post("/consultations/opinions/<int:opinion_id>/reopen")
@roles_required()
def reopen(opinion_id):
    item = review.reopen_opinion(current_user, review.get_opinion(opinion_id))
    db.session.commit()
    flash(_("The decision was withdrawn; the opinion is open again."), "success")
    return redirect(url_for(".opinion", opinion_id=item.id))


# -- importing a meeting's sheet -----------------------------------------------------------------


def _import_form(points):
    form = ImportOpinionsForm()
    form.point.choices = [SelectChoice(p.id, label) for p, label in points]
    return form


def _too_large():
    return Invalid(_l("The file is larger than %(mb)s MB. Split it into several files.",
                      mb=MAX_SHEET_BYTES // (1024 * 1024)), code="sheet_too_large", status=413)  # fmt: skip


def _sheet_upload(view):
    """Let a POST carry a 50 MB sheet, and check its CSRF token first, as the global check does for other forms.

    The global check is exempted for this view: it would read the body under the service's 10 MB limit.
    """

    @wraps(view)
    def wrapper(*args, **kwargs):
        if request.method == "POST":
            request.max_content_length = MAX_SHEET_BYTES + 1024 * 1024
            if current_app.config.get("WTF_CSRF_ENABLED", True):
                try:
                    csrf.protect()
                except RequestEntityTooLarge:
                    raise _too_large() from None
        return view(*args, **kwargs)

    return wrapper


@bp.route("/consultations/drafts/<int:draft_id>/import-opinions", methods=["GET", "POST"])
@csrf.exempt
@_sheet_upload
@roles_required(*IMPORT_ROLES)
def import_opinions(draft_id):
    draft = get_draft(draft_id)
    allowed = {p.id for p in imports.points_for_import(current_user)}
    points = [(p, label) for p, label in _points() if p.id in allowed]
    wants_json = request.accept_mimetypes.best == "application/json"
    context = {"draft": draft, "points": points, "max_mb": MAX_SHEET_BYTES // (1024 * 1024), "sample": SAMPLE_SHEET}
    if request.method == "GET":
        return render_template("consultations/review_import.html", form=_import_form(points), **context)
    try:
        form = _import_form(points)
    except RequestEntityTooLarge:
        raise _too_large() from None
    if not form.validate_on_submit():
        token = getattr(form, "csrf_token", None)
        if token is not None and token.errors:
            raise Invalid(CSRF_MESSAGE, code="csrf_failed")
        raise Invalid(_l("Choose the contact point the opinions were gathered at."), code="point_required")
    upload = form.file.data
    if upload is None or not getattr(upload, "filename", ""):
        raise Invalid(_l("Choose a file to upload."), code="file_required")
    point = next(p for p, _label in points if p.id == form.point.data)
    try:
        result = imports.import_opinions(current_user, draft, point, upload.filename, upload.read())
    except DomainError as error:
        if wants_json:
            raise
        db.session.rollback()
        return render_template("consultations/review_import.html", form=form, error=error,
                               **context), error.status  # fmt: skip
    db.session.commit()
    message = _("Imported %(opinions)s opinions raised by %(people)s people into %(point)s.",
                opinions=result["opinions"], people=result["people"], point=point.name)  # fmt: skip
    can_review = current_user.has_role(*MEETING_ROLES)
    after = url_for(".opinions", draft_id=draft.id, point=point.id) if can_review else None
    if wants_json:
        return jsonify({"message": message, **result, "redirect": after})
    flash(message, "success")
    return redirect(after or url_for(".import_opinions", draft_id=draft.id))
