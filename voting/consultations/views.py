"""Organizer pages for legislative consultation: drafts (create, correct the split, publish, close),
the contact-point network and its QR posters.

Contact-point staff may look at everything here and print posters; changes need an organizer.
"""

import re

from flask import Blueprint, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from voting.accounts.models import MEETING_ROLES, Role
from voting.auth import roles_required
from voting.consultations import corrections, operations, points, posters
from voting.consultations.forms import (
    ArticleForm,
    DraftDetailsForm,
    DraftForm,
    HeadingForm,
    PointForm,
    TextForm,
    date_of_deadline,
    deadline_from_date,
)
from voting.consultations.models import (
    Article,
    ContactPointKind,
    Draft,
    DraftState,
    Opinion,
)
from voting.consultations.splitter import Article as SplitArticle
from voting.consultations.splitter import Heading as SplitHeading
from voting.consultations.splitter import chinese_number
from voting.errors import Conflict, DomainError, Invalid, NotFound
from voting.extensions import db
from voting.urls import public_url

bp = Blueprint("consultations", __name__)

# Contact-point staff read drafts and print their posters; organizers change things.
READ_ROLES = (*MEETING_ROLES, Role.CONTACT_STAFF)


def _can_edit():
    return current_user.has_role(*MEETING_ROLES)


# -- resident links ------------------------------------------------------------------------------


def point_url(point):
    """Where a contact point's poster leads: the residents' list of drafts, attributed to the point."""
    return public_url("public_consult.index", p=point.code)


def draft_url(draft, point=None):
    """Where a draft's poster leads: the draft itself, attributed to ``point`` when given."""
    if point is None:
        return public_url("public_consult.draft", draft_id=draft.id)
    return public_url("public_consult.draft", draft_id=draft.id, p=point.code)


# -- drafts: list and create ---------------------------------------------------------------------


@bp.get("/consultations")
@roles_required(*READ_ROLES)
def index():
    drafts = db.session.scalars(select(Draft).order_by(Draft.created_at.desc(), Draft.id.desc())).all()
    opinions = dict(db.session.execute(select(Opinion.draft_id, func.count()).group_by(Opinion.draft_id)).all())
    articles = dict(db.session.execute(select(Article.draft_id, func.count()).group_by(Article.draft_id)).all())
    return render_template(
        "consultations/draft_index.html",
        drafts=drafts,
        opinions=opinions,
        articles=articles,
        can_edit=_can_edit(),
    )


# Which field of the form an operation's refusal belongs to, by its code.
_DRAFT_ERROR_FIELDS = {
    "invalid_title": "title",
    "invalid_deadline": "deadline",
    "invalid_explanation": "explanation",
    "empty_draft": "text",
    "draft_too_long": "text",
    "too_many_articles": "text",
}


def _show_error(form, error, fields):
    field = fields.get(error.code) or ("file" if error.code.startswith("document_") else None)
    if field is not None and field in form:
        form[field].errors = [*form[field].errors, str(error.message)]
    else:
        form.form_errors.append(str(error.message))


def _form_problem(form):
    """The form's errors as one refusal, for the upload script that reads JSON."""
    details = [
        {"field": name, "message": str(message)}
        for name, messages in form.errors.items()
        for message in messages
        if name is not None
    ]
    details += [{"message": str(message)} for message in form.form_errors]
    return Invalid(
        _("Check the form: %(problems)s", problems=" ".join(d["message"] for d in details)),
        code="invalid_form",
        details=details,
    )


@bp.route("/consultations/new", methods=["GET", "POST"])
@roles_required()
def new():
    """Create a draft from pasted text or an uploaded .docx/.txt; the upload script asks for JSON."""
    form = DraftForm()
    if request.method == "GET":
        return render_template("consultations/draft_new.html", form=form)
    wants_json = request.accept_mimetypes.best == "application/json"
    if form.validate_on_submit():
        upload = form.file.data
        try:
            text = form.text.data
            if upload is not None and upload.filename:
                text = operations.read_upload(upload.filename, upload.read())
            draft, warnings = operations.create_draft(
                current_user,
                text,
                title=form.title.data or None,
                explanation=form.explanation.data or "",
                deadline=deadline_from_date(form.deadline.data),
            )
        except DomainError as error:
            db.session.rollback()
            if wants_json:
                raise
            _show_error(form, error, _DRAFT_ERROR_FIELDS)
        else:
            db.session.commit()
            message = _(
                "The draft is split into %(articles)s articles. Check the split below, correct it where needed, "
                "then publish.",
                articles=len(draft.articles),
            )
            flash(message, "success")
            for note in _kept_text_notes(warnings):
                flash(note, "info")
            target = url_for("consultations.draft", draft_id=draft.id)
            if wants_json:
                return jsonify({"message": message, "draft_id": draft.id, "redirect": target})
            return redirect(target)
    if wants_json:
        raise _form_problem(form)
    return render_template("consultations/draft_new.html", form=form), 400


def _kept_text_notes(warnings):
    """Say where the split put text outside the articles (a heading's note, an attachment) and what the
    table of contents lists in vain: worth a look before publishing, since residents will read it."""
    for warning in warnings:
        message = _text_outside_articles(warning)
        if message is not None:
            yield message


def _text_outside_articles(warning):
    """The organizer's wording of a warning about text outside the articles, or None for other warnings."""
    quoted = re.search(r"“(.*)”", warning.message)
    if warning.code == "stray_text":
        return _(
            "Text after the heading “%(title)s” and before its first article is kept as a note under the "
            "heading, and residents will read it there. If it belongs to an article, move it there.",
            title=quoted[1] if quoted else "",
        )
    if warning.code == "toc_mismatch":
        return _("The table of contents lists “%(entry)s”, but the text has no such heading.",
                 entry=quoted[1] if quoted else "")  # fmt: skip
    if warning.code == "trailer":
        return _(
            "The text after the last article (%(start)s…) is kept as an attachment and shown to residents "
            "after the articles. If it should not be published, remove it from the text and split again.",
            start=warning.message.partition(": ")[2],
        )
    return None


# -- a draft: the split, corrections, publish, close -----------------------------------------------


def _data(draft):
    return operations.structure_of(draft).to_dict()


def _range(token):
    """Write the splitter's 第5–6条 or 第7条之1 the way legal texts do: 第五条至第六条, 第七条之一."""
    match = re.fullmatch(r"第(\d+)(?:–(\d+))?(条|章|节|编)(?:之(\d+))?", token)
    if not match:
        return token
    first, last, unit, suffix = match.groups()
    text = f"第{chinese_number(int(first))}{unit}"
    if last:
        text += f"至第{chinese_number(int(last))}{unit}"
    if suffix:
        text += f"之{chinese_number(int(suffix))}"
    return text


def _warning_message(warning, subject):
    """A warning of the splitter in the organizer's language; ``subject`` is the article or heading."""
    first = _range(warning.message.split(" ")[0] if warning.code.startswith("missing") else "")
    messages = {
        "no_articles": lambda: _(
            "No articles were found. Articles begin with 第一条, 第二条 and so on: check the text, "
            "or split it again from corrected text."
        ),
        "duplicate": lambda: _("%(label)s appears more than once.", label=subject),
        "missing": lambda: _("%(missing)s is missing before %(label)s.", missing=first, label=subject),
        "out_of_order": lambda: _("%(label)s is out of order.", label=subject),
        "empty": lambda: _("%(label)s has no text.", label=subject),
        "duplicate_heading": lambda: _("The heading %(label)s appears more than once.", label=subject),
        "heading_order": lambda: _("The heading %(label)s is out of order.", label=subject),
        "missing_heading": lambda: _(
            "%(missing)s is missing before the heading %(label)s.", missing=first, label=subject
        ),
    }
    make = messages.get(warning.code)
    if make:
        return make()
    outside = _text_outside_articles(warning)
    return outside if outside is not None else warning.message


def _article_label(data, article):
    return SplitArticle(article["number"], article["suffix"], style=data["style"]).label


def _heading_label(heading):
    return heading["label"] or heading["title"]


def split_warnings(draft, data=None):
    """The splitter's warnings for the stored split in the reader's language, each with what it is about:
    ``{"code", "message", "kind": "article"|"heading"|None, "position", "anchor"}``."""
    data = data or _data(draft)
    found = []
    for warning, kind, index in corrections.anchored_warnings(operations.structure_of(draft)):
        if kind == "article":
            subject = _article_label(data, data["articles"][index])
        elif kind == "heading":
            subject = _heading_label(data["headings"][index])
        else:
            subject = ""
        found.append(
            {
                "code": warning.code,
                "message": _warning_message(warning, subject),
                "kind": kind,
                "position": index,
                "anchor": f"{kind}-{index}" if kind else None,
            }
        )
    return found


def _rows(data):
    """Headings and articles in reading order: a heading comes right before its first article."""
    rows, shown = [], 0
    headings = data["headings"]
    for i, article in enumerate(data["articles"]):
        target = article["heading"]
        while target is not None and shown <= target:
            rows.append(("heading", shown, headings[shown]))
            shown += 1
        rows.append(("article", i, article))
    rows.extend(("heading", j, headings[j]) for j in range(shown, len(headings)))
    return rows


def _draft_page(draft, error=None, status=200):
    data = _data(draft)
    opinion_counts = {}
    total = 0
    if draft.state != DraftState.DRAFT:
        rows = db.session.execute(
            select(Opinion.article_id, func.count()).where(Opinion.draft_id == draft.id).group_by(Opinion.article_id)
        ).all()
        opinion_counts = dict(rows)
        total = sum(opinion_counts.values())
    ids = [a.id for a in draft.articles]
    warnings = split_warnings(draft, data) if draft.state == DraftState.DRAFT else []
    flagged = {}
    for warning in warnings:
        if warning["anchor"]:
            flagged.setdefault(warning["anchor"], []).append(warning["message"])
    page = render_template(
        "consultations/draft_detail.html",
        draft=draft,
        data=data,
        rows=_rows(data),
        labels=[_article_label(data, a) for a in data["articles"]],
        article_ids=ids,
        warnings=warnings,
        flagged=flagged,
        version=corrections.fingerprint(data),
        error=error,
        can_edit=_can_edit(),
        opinion_counts=opinion_counts,
        opinion_total=total,
        points=[(p, "\u3000" * depth + p.name) for p, depth in points.tree() if p.active]
        if draft.state == DraftState.PUBLISHED
        else [],
        resident_link=draft_url(draft) if draft.state != DraftState.DRAFT else None,
    )
    return page, status


@bp.get("/consultations/drafts/<int:draft_id>")
@roles_required(*READ_ROLES)
def draft(draft_id):
    return _draft_page(operations.get_draft(draft_id))


def _refused(draft_id, error):
    """Show the draft again with the refusal; nothing was changed."""
    db.session.rollback()
    return _draft_page(operations.get_draft(draft_id), str(error.message), error.status)


def _check_version(draft, version):
    """Refuse a correction made on a page showing an older split than the stored one."""
    data = _data(draft)
    if version != corrections.fingerprint(data):
        raise Conflict(
            _(
                "The draft was changed in the meantime, perhaps in another window. Your correction was not "
                "saved: check the draft as it is now and correct it again."
            ),
            code="stale_split",
        )
    return data


def _store(draft, data):
    """Store a corrected split through the operation; return the number of warnings left."""
    return len(operations.update_draft(current_user, draft, structure=data))


def _saved(draft, anchor=None):
    db.session.commit()
    flash(_("Saved. The split below shows the correction."), "success")
    return redirect(url_for("consultations.draft", draft_id=draft.id) + (f"#{anchor}" if anchor else ""))


def _require_preparing(draft):
    if draft.state != DraftState.DRAFT:
        raise Conflict(_("The draft has been published; its text can no longer be changed."), code="draft_published")


@bp.route("/consultations/drafts/<int:draft_id>/details", methods=["GET", "POST"])
@roles_required()
def details(draft_id):
    """Title, deadline and explanation; after publishing only the deadline can move."""
    draft = operations.get_draft(draft_id)
    if draft.state == DraftState.CLOSED:
        return _refused(draft_id, Conflict(_("The comment period is over."), code="draft_closed"))
    form = DraftDetailsForm(obj=draft)
    preparing = draft.state == DraftState.DRAFT
    if request.method == "GET":
        form.deadline.data = date_of_deadline(draft.deadline)
    elif form.validate_on_submit():
        changes = {"deadline": deadline_from_date(form.deadline.data)}
        if preparing:
            changes.update(title=form.title.data, explanation=form.explanation.data or "")
        try:
            operations.update_draft(current_user, draft, **changes)
        except DomainError as error:
            db.session.rollback()
            _show_error(form, error, _DRAFT_ERROR_FIELDS)
        else:
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("consultations.draft", draft_id=draft.id))
    status = 400 if request.method == "POST" else 200
    return render_template("consultations/draft_details.html", form=form, draft=draft, preparing=preparing), status


@bp.route("/consultations/drafts/<int:draft_id>/articles/<int:position>", methods=["GET", "POST"])
@roles_required()
def edit_article(draft_id, position):
    """Correct one article: its number, 之X, title, text (paragraphs) and the heading it stands under."""
    draft = operations.get_draft(draft_id)
    if draft.state != DraftState.DRAFT:
        return _refused(draft_id, Conflict(_("The draft has been published; its text can no longer be changed."),
                                           code="draft_published"))  # fmt: skip
    data = _data(draft)
    if not 0 <= position < len(data["articles"]):
        raise NotFound(_("This draft has no such article."), code="article_not_found")
    article = data["articles"][position]
    form = ArticleForm()
    form.set_headings(data)
    stale = None
    if request.method == "GET":
        _fill_article_form(form, data, article)
    elif form.validate_on_submit():
        try:
            _check_version(draft, form.version.data)
            paragraphs = corrections.paragraphs_from_text(form.text.data)
            heading = form.heading.data if form.heading.data >= 0 else None
            corrected = corrections.edit_article(
                data,
                position,
                number=form.number.data,
                suffix=form.suffix.data or 0,
                title=form.title.data.strip(),
                paragraphs=paragraphs,
                heading=heading,
            )
            _store(draft, corrected)
        except corrections.CorrectionError:
            form.heading.errors = [*form.heading.errors, _("Choose a heading of this draft.")]
        except DomainError as error:
            db.session.rollback()
            if error.code == "stale_split":
                stale = str(error.message)
                form.version.data = corrections.fingerprint(data)
            else:
                form.form_errors.append(str(error.message))
        else:
            return _saved(draft, f"article-{position}")
    status = 200 if request.method == "GET" else (409 if stale else 400)
    return render_template(
        "consultations/draft_article.html",
        form=form,
        draft=draft,
        position=position,
        label=_article_label(data, article),
        article=article,
        stale=stale,
    ), status


def _fill_article_form(form, data, article):
    form.version.data = corrections.fingerprint(data)
    form.number.data = article["number"]
    form.suffix.data = article["suffix"]
    form.title.data = article["title"] or ""
    form.text.data = corrections.text_from_paragraphs(article["paragraphs"])
    form.heading.data = article["heading"] if article["heading"] is not None else -1


@bp.route("/consultations/drafts/<int:draft_id>/headings/<int:position>", methods=["GET", "POST"])
@roles_required()
def edit_heading(draft_id, position):
    """Correct one heading (编/章/节): its level, number and title."""
    draft = operations.get_draft(draft_id)
    if draft.state != DraftState.DRAFT:
        return _refused(draft_id, Conflict(_("The draft has been published; its text can no longer be changed."),
                                           code="draft_published"))  # fmt: skip
    data = _data(draft)
    if not 0 <= position < len(data["headings"]):
        raise NotFound(_("This draft has no such heading."), code="heading_not_found")
    heading = data["headings"][position]
    form = HeadingForm()
    stale = None
    if request.method == "GET":
        form.version.data = corrections.fingerprint(data)
        form.level.data, form.number.data, form.title.data = heading["level"], heading["number"], heading["title"]
    elif form.validate_on_submit():
        try:
            _check_version(draft, form.version.data)
            corrected = corrections.edit_heading(
                data, position, level=form.level.data, number=form.number.data, title=form.title.data
            )
            _store(draft, corrected)
        except DomainError as error:
            db.session.rollback()
            if error.code == "stale_split":
                stale = str(error.message)
                form.version.data = corrections.fingerprint(data)
            else:
                form.form_errors.append(str(error.message))
        else:
            return _saved(draft, f"heading-{position}")
    status = 200 if request.method == "GET" else (409 if stale else 400)
    return render_template(
        "consultations/draft_heading.html",
        form=form,
        draft=draft,
        position=position,
        label=_heading_label(heading),
        stale=stale,
    ), status


_RESTRUCTURE = re.compile(r"^(merge|split|remove-heading):(\d{1,6})(?::(\d{1,6}))?$")


@bp.post("/consultations/drafts/<int:draft_id>/restructure")
@roles_required()
def restructure(draft_id):
    """Merge an article into the one before it, split one at a paragraph, or drop a heading.

    The correction page's buttons all post here with ``op`` = merge:<article>,
    split:<article>:<paragraph> or remove-heading:<heading>.
    """
    draft = operations.get_draft(draft_id)
    match = _RESTRUCTURE.match(request.form.get("op", ""))
    try:
        _require_preparing(draft)
        if match is None:
            raise Invalid(_("Unknown correction."), code="invalid_correction")
        action, first, second = match[1], int(match[2]), match[3]
        data = _check_version(draft, request.form.get("version", ""))
        if action == "merge":
            corrected, anchor = corrections.merge_into_previous(data, first), f"article-{max(first - 1, 0)}"
        elif action == "split":
            corrected, anchor = corrections.split_article(data, first, int(second or 0)), f"article-{first + 1}"
        else:
            corrected, anchor = corrections.remove_heading(data, first), None
        _store(draft, corrected)
    except corrections.CorrectionError:
        return _refused(draft_id, Invalid(_("This correction does not apply to the draft as it is now."),
                                          code="invalid_correction"))  # fmt: skip
    except DomainError as error:
        return _refused(draft_id, error)
    return _saved(draft, anchor)


@bp.route("/consultations/drafts/<int:draft_id>/text", methods=["GET", "POST"])
@roles_required()
def replace_text(draft_id):
    """Replace the draft's text and split it again (before publishing)."""
    draft = operations.get_draft(draft_id)
    if draft.state != DraftState.DRAFT:
        return _refused(draft_id, Conflict(_("The draft has been published; its text can no longer be changed."),
                                           code="draft_published"))  # fmt: skip
    form = TextForm()
    stale = None
    if request.method == "GET":
        form.version.data = corrections.fingerprint(_data(draft))
        form.text.data = draft.source_text
    elif form.validate_on_submit():
        try:
            _check_version(draft, form.version.data)
            left = len(operations.update_draft(current_user, draft, text=form.text.data))
        except DomainError as error:
            db.session.rollback()
            if error.code == "stale_split":
                stale = str(error.message)
                form.version.data = corrections.fingerprint(_data(draft))
            else:
                form.text.errors = [*form.text.errors, str(error.message)]
        else:
            db.session.commit()
            flash(_("The text is split again: %(count)s articles.", count=len(draft.articles)), "success")
            if left:
                flash(_("Some things still need a look: see the list at the top."), "info")
            return redirect(url_for("consultations.draft", draft_id=draft.id))
    status = 200 if request.method == "GET" else (409 if stale else 400)
    return render_template("consultations/draft_text.html", form=form, draft=draft, stale=stale), status


@bp.post("/consultations/drafts/<int:draft_id>/publish")
@roles_required()
def publish(draft_id):
    draft = operations.get_draft(draft_id)
    try:
        operations.publish_draft(current_user, draft)
    except DomainError as error:
        return _refused(draft_id, error)
    db.session.commit()
    flash(
        _(
            "The draft is published: residents can comment until %(deadline)s. Print the posters for the "
            "contact points below.",
            deadline=_deadline_text(draft.deadline),
        ),
        "success",
    )
    return redirect(url_for("consultations.draft", draft_id=draft.id))


def _deadline_text(deadline):
    return date_of_deadline(deadline).isoformat()


@bp.route("/consultations/drafts/<int:draft_id>/close", methods=["GET", "POST"])
@roles_required()
def close(draft_id):
    """Ask before ending the comment period (GET shows the question); closing cannot be undone."""
    draft = operations.get_draft(draft_id)
    if request.method == "GET" or request.form.get("confirm") != "yes":
        page = render_template("consultations/draft_close.html", draft=draft)
        return page, 200 if draft.state == DraftState.PUBLISHED else 409
    try:
        operations.close_draft(current_user, draft)
    except DomainError as error:
        return _refused(draft_id, error)
    db.session.commit()
    flash(_("The comment period is closed. Residents can still read the draft but not comment."), "success")
    return redirect(url_for("consultations.draft", draft_id=draft.id))


# -- posters ---------------------------------------------------------------------------------------


def _poster_labels():
    return {
        "heading": _("Have your say on draft laws"),
        "instructions": _(
            "Scan the QR code with your phone (WeChat's scanner works), read the draft article by article and "
            "send your opinion. No account needed; you get a code to follow what becomes of it."
        ),
        "code": _("Contact point code %(code)s"),
    }


def _pdf(data, filename):
    response = make_response(data)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f"inline; filename={filename}"
    return response


def _point_poster(point, draft=None):
    return {
        "url": draft_url(draft, point) if draft is not None else point_url(point),
        "name": point.name,
        "kind": str(ContactPointKind(point.kind).label),
        "code": point.code,
        "subtitle": draft.title if draft is not None else "",
    }


@bp.get("/consultations/drafts/<int:draft_id>/poster.pdf")
@roles_required(*READ_ROLES)
def draft_poster(draft_id):
    """A poster for one draft: for a contact point (``point``, and ``all=1`` for every point below), or none."""
    draft = operations.get_draft(draft_id)
    if draft.state == DraftState.DRAFT:
        raise Conflict(_("Publish the draft before printing its posters."), code="draft_not_published")
    point_id = request.args.get("point", type=int)
    if point_id:
        point = points.get_contact_point(point_id)
        chosen = points.subtree(point) if request.args.get("all") == "1" else [point]
        items = [_point_poster(p, draft) for p in chosen if p.active]
        if not items:
            raise Conflict(_("This contact point is retired: bring it back before printing its poster."),
                           code="point_inactive")  # fmt: skip
    else:
        items = [{"url": draft_url(draft), "name": "", "kind": "", "code": "", "subtitle": draft.title}]
    pdf = posters.build_posters(items, title=draft.title, labels=_poster_labels())
    return _pdf(pdf, f"draft-{draft.id}-posters.pdf")


# -- contact points ---------------------------------------------------------------------------------


@bp.get("/consultations/points")
@roles_required(*READ_ROLES)
def point_tree():
    rows = points.tree()
    children = {}
    for point, _depth in rows:
        children.setdefault(point.parent_id, []).append(point)
    return render_template(
        "consultations/points_index.html",
        roots=children.get(None, []),
        children=children,
        count=len(rows),
        kind_labels={kind.value: kind.label for kind in ContactPointKind},
        can_edit=_can_edit(),
        form=PointForm(),
    )


_CHILD_KIND = {
    None: ContactPointKind.DISTRICT,
    ContactPointKind.DISTRICT: ContactPointKind.POINT,
    ContactPointKind.POINT: ContactPointKind.COLLECTION,
}


@bp.route("/consultations/points/new", methods=["GET", "POST"])
@roles_required()
def new_point():
    """Add the district point (no ``parent``), a contact point under it, or a collection point under one."""
    parent_id = request.values.get("parent", type=int)
    parent = points.get_contact_point(parent_id) if parent_id else None
    kind = _CHILD_KIND.get(ContactPointKind(parent.kind) if parent else None)
    if kind is None:
        raise Invalid(_("A collection point has no points below it."), code="invalid_parent")
    form = PointForm()
    if form.validate_on_submit():
        try:
            point = operations.create_contact_point(current_user, form.name.data, kind, parent, form.address.data)
        except DomainError as error:
            db.session.rollback()
            _show_error(form, error, {"invalid_name": "name", "duplicate_point": "name", "invalid_address": "address"})
        else:
            db.session.commit()
            flash(_("“%(name)s” is added. Its poster is ready to print.", name=point.name), "success")
            return redirect(url_for("consultations.point_tree") + f"#point-{point.id}")
    status = 400 if request.method == "POST" else 200
    return render_template("consultations/points_new.html", form=form, parent=parent, kind=kind.label), status


@bp.route("/consultations/points/<int:point_id>", methods=["GET", "POST"])
@roles_required()
def edit_point(point_id):
    """Rename a point or change its address."""
    point = points.get_contact_point(point_id)
    form = PointForm(obj=point)
    if form.validate_on_submit():
        try:
            points.update_contact_point(current_user, point, name=form.name.data, address=form.address.data or "")
        except DomainError as error:
            db.session.rollback()
            _show_error(form, error, {"invalid_name": "name", "duplicate_point": "name", "invalid_address": "address"})
        else:
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("consultations.point_tree") + f"#point-{point.id}")
    status = 400 if request.method == "POST" else 200
    return render_template("consultations/points_edit.html", form=form, point=point), status


@bp.post("/consultations/points/<int:point_id>/active")
@roles_required()
def point_active(point_id):
    """Retire a point (and every point below it), or bring it back."""
    point = points.get_contact_point(point_id)
    active = request.form.get("active") == "1"
    try:
        changed = points.set_contact_point_active(current_user, point, active)
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(url_for("consultations.point_tree") + f"#point-{point.id}")
    db.session.commit()
    if active:
        flash(_("“%(name)s” is in use again.", name=point.name), "success")
    elif changed:
        flash(
            _(
                "“%(name)s” is retired (%(count)s points in all). Opinions sent through its posters are kept, "
                "attributed to no point.",
                name=point.name,
                count=len(changed),
            ),
            "success",
        )
    return redirect(url_for("consultations.point_tree") + f"#point-{point.id}")


@bp.get("/consultations/points/<int:point_id>/poster.pdf")
@roles_required(*READ_ROLES)
def point_poster(point_id):
    """The point's QR poster; with ``all=1`` one PDF with the posters of every active point below it too."""
    point = points.get_contact_point(point_id)
    chosen = points.subtree(point) if request.args.get("all") == "1" else [point]
    items = [_point_poster(p) for p in chosen if p.active]
    if not items:
        raise Conflict(_("This contact point is retired: bring it back before printing its poster."),
                       code="point_inactive")  # fmt: skip
    pdf = posters.build_posters(items, title=point.name, labels=_poster_labels())
    return _pdf(pdf, f"contact-point-{point.code}{'-all' if len(items) > 1 else ''}.pdf")


def heading_text(heading):
    """A heading as the pages show it: 第二章 物业服务, or just 总则."""
    return " ".join(filter(None, [SplitHeading(heading["level"], heading["number"], "").label, heading["title"]]))


@bp.context_processor
def _template_helpers():
    return {"heading_text": heading_text}
