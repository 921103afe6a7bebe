"""The resident's side of a consultation: read a draft on a phone, leave an opinion, follow it up.

Phone first (360 px, WeChat's in-app browser), large type, Chinese first, and complete without
JavaScript: static/js/consult.js only counts characters as one types and copies the tracking
code. No account is needed.

- Attribution: a contact point's QR poster opens ``/c?p=CODE``. The code travels in every link
  these pages build and in the opinion form's hidden field (not in a cookie alone, which the
  in-app browser may drop), so an opinion reached through the poster is attributed to its
  point. An unknown or forged code is carried along all the same: the opinion is kept and
  attributed to no point (``operations.submit_opinion``).
- Deputies: a phone bound to a deputy (``current_deputy_device``) submits as that deputy.
- Double taps: the form carries a random nonce; with the text it makes the idempotency key, so
  a second tap returns the first opinion's tracking code instead of a second opinion, while a
  changed text sent from the same (back-button) page is a new opinion.
- Rate limits: per client, not per address, since a neighbourhood meeting shares one network.
  A client is the bound phone or an anonymous random cookie set on the first visit; a
  generous per-address ceiling is the backstop for a script that throws its cookies away.
"""

import hashlib
import math
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, g, jsonify, render_template, request, url_for
from flask_babel import format_date, format_time, get_locale, ngettext, pgettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import defer, load_only
from werkzeug.exceptions import RequestEntityTooLarge, TooManyRequests
from wtforms import HiddenField, StringField, TextAreaField

from voting.auth import current_deputy_device
from voting.consultations import operations, splitter
from voting.consultations.masking import mask_personal_data
from voting.consultations.models import (
    MAX_OPINION_CHARS,
    Article,
    Draft,
    DraftState,
    Opinion,
    OpinionStatus,
    SubmitterType,
    format_tracking_code,
)
from voting.errors import DomainError, Invalid, NotFound, wants_json
from voting.extensions import db, limiter
from voting.timeutil import utcnow

bp = Blueprint("public_consult", __name__, url_prefix="/c")

# A form with the longest opinion (5,000 characters, URL-encoded at 9 bytes each) is about 45 KB;
# anything past this is refused before it is read, with a message rather than the upload limit's.
MAX_OPINION_BODY = 512 * 1024
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
CLIENT_COOKIE_DAYS = 365
CLOSED_DRAFTS_LISTED = 20
MERGE_HOPS = 10  # how far the tracking page follows "merged into" to the item that was handled

_FIELD_OF_ERROR = {
    "opinion_empty": "text",
    "opinion_too_long": "text",
    "invalid_name": "contact_name",
    "invalid_phone": "contact_phone",
}


# -- who is asking, and how often ------------------------------------------------------------------


def client_id():
    """Return this browser's anonymous client id (a random cookie), or None before it has one."""
    value = request.cookies.get(current_app.config["CLIENT_COOKIE_NAME"], "")
    return value if CLIENT_ID.match(value) else None


def client_key(device=None, header=None):
    """Name the client for the per-client limit and the idempotency key; None if it names no one."""
    if device is not None:
        return f"device:{device.id}"
    if header and CLIENT_ID.match(header):
        return f"client:{header}"
    known = client_id()
    return f"client:{known}" if known else None


class OpinionRateLimited(DomainError):
    """429: this client (or, as a backstop, its network address) sent too many opinions."""

    status = 429
    code = "rate_limited"

    def __init__(self, retry_after):
        retry_after = max(1, int(retry_after or 60))
        minutes = math.ceil(retry_after / 60)
        super().__init__(
            _l(
                "You have sent many opinions in a short time. Please wait %(minutes)s min and send again; "
                "the opinions you already sent are saved.",
                minutes=minutes,
            )
        )
        self.retry_after = retry_after


def check_opinion_rate(key):
    """Count one submission for client ``key`` and for the address; raise OpinionRateLimited when over."""
    config = current_app.config
    if not config.get("RATELIMIT_ENABLED", True):
        return
    try:
        if key is not None:
            limiter.hit(config["RATELIMIT_OPINION"], "opinion.client", key, headers=False)
        address = f"addr:{request.remote_addr}"
        limiter.hit(config["RATELIMIT_OPINION_ADDRESS"], "opinion.address", address, headers=False)
    except TooManyRequests as error:
        raise OpinionRateLimited(getattr(error, "retry_after", None)) from None


def _oversized():
    return DomainError(
        _l(
            "This opinion is far too long to be sent: an opinion can be at most %(max)s characters. "
            "Go back, shorten it or split it, and send it again.",
            max=MAX_OPINION_CHARS,
        ),
        code="opinion_too_long",
        status=413,
    )


def refuse_oversized_body():
    """Refuse a request body far larger than any opinion (413) before it is read."""
    request.max_content_length = MAX_OPINION_BODY
    if (request.content_length or 0) > MAX_OPINION_BODY:
        raise _oversized()


def idempotency_key(client, raw, *parts):
    """Derive the stored idempotency key: a retry counts as the same only from the same client.

    Without a client id the address stands in. ``parts`` (the article and text of a web form)
    make a changed text sent from the same page a new opinion.
    """
    if raw is None:
        return None
    who = client or f"addr:{request.remote_addr}"
    digest = hashlib.sha256("\x1f".join([who, raw, *map(str, parts)]).encode()).hexdigest()
    return "k" + digest[:40]


def _refusal(error):
    """Show a refusal: JSON to the API and scripts, a page of ours to people, Retry-After when limited."""
    db.session.rollback()
    if wants_json():
        response = jsonify(error.to_dict())
    else:
        response = current_app.make_response(
            render_template(
                "consultations/public_message.html",
                title=_("Cannot send the opinion") if error.status in (413, 429) else _("Cannot do that"),
                message=str(error.message),
                draft=g.get("consult_draft"),
                p=_point_code(),
            )
        )
    response.status_code = error.status
    if isinstance(error, OpinionRateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


bp.register_error_handler(DomainError, _refusal)
# The API (another blueprint) raises it too; the app-wide DomainError handler would drop Retry-After.
bp.record_once(lambda state: state.app.register_error_handler(OpinionRateLimited, _refusal))


@bp.errorhandler(RequestEntityTooLarge)
def _body_too_large(error):
    """A body past MAX_OPINION_BODY found while reading it (sent without a length)."""
    return _refusal(_oversized())


@bp.errorhandler(CSRFError)
def _form_expired(error):
    """A form whose token is missing or stale: nothing is stored; the opinion form comes back filled in."""
    db.session.rollback()
    if request.endpoint == "public_consult.opinion":
        try:
            context = _form_context()
        except DomainError:
            context = None
        if context is not None and context["draft"].accepts_opinions():
            form = OpinionForm(formdata=request.form)
            form.nonce.data = secrets.token_urlsafe(16)
            form.form_errors.append(
                _(
                    "This form has expired or was not sent from this site. "
                    "Check your opinion below and tap “Send” again."
                )
            )
            return _render_form(form, **context), 400
    return _refusal(
        Invalid(
            _l("This form has expired or was not sent from this site. Please reload the page and try again."),
            code="csrf_failed",
        )
    )


@bp.after_request
def _remember_client(response):
    """Give a browser on these pages its anonymous client id on its first visit (HttpOnly)."""
    if client_id() is not None:
        return response
    response.set_cookie(
        current_app.config["CLIENT_COOKIE_NAME"],
        secrets.token_urlsafe(16),
        max_age=CLIENT_COOKIE_DAYS * 24 * 3600,
        httponly=True,
        samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
    return response


# -- what the pages show ---------------------------------------------------------------------------


def _point_code():
    """The poster's code from ?p= or the form, folded as printed codes are; "" when there is none."""
    return operations.normalize_code(request.values.get("p", ""))[:16]


def _public_draft(draft_id):
    """A draft residents may see: published or closed; one still being prepared does not exist."""
    # Not the pasted source: up to a megabyte that these pages never show.
    draft = db.session.get(Draft, draft_id, options=[defer(Draft.source_text)])
    if draft is None or draft.state == DraftState.DRAFT:
        raise NotFound(_l("No such draft."), code="draft_not_found")
    g.consult_draft = draft
    return draft


def _article(draft, value):
    """The article ``?article=`` names, None for the whole draft; refuse one of another draft."""
    if value in (None, ""):
        return None
    value = str(value)
    article = db.session.get(Article, int(value)) if value.isascii() and value.isdecimal() and len(value) < 10 else None
    if article is None or article.draft_id != draft.id:
        raise NotFound(_l("This draft has no such article."), code="article_not_found")
    return article


def article_label(article, style="article"):
    label = splitter.Article(article.number, article.suffix, style=style).label
    return f"{label} 【{article.title}】" if article.title else label


def _heading_label(section):
    label = splitter.Heading(section.level, section.number, section.title).label
    return f"{label} {section.title}".strip()


def deadline_text(moment):
    """The deadline as people say it: a local midnight is 24:00 of the day before."""
    local = moment.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"]))
    if (local.hour, local.minute, local.second) == (0, 0, 0):
        day = (local - timedelta(days=1)).replace(tzinfo=None)
        return f"{format_date(day, 'long', rebase=False)} 24:00"
    return f"{format_date(moment, 'long')} {format_time(moment, 'HH:mm')}"


def days_left(draft, now=None):
    """Whole days of comment left, rounded up (0 once closed)."""
    if not draft.accepts_opinions(now):
        return 0
    return math.ceil((draft.deadline - (now or utcnow())).total_seconds() / 86400)


def consult_url(endpoint, p=None, **values):
    """url_for() on this blueprint that keeps the poster's code ``p`` when there is one."""
    return url_for(f"public_consult.{endpoint}", **values, **({"p": p} if p else {}))


@bp.context_processor
def _helpers():
    return {
        "deadline_text": deadline_text,
        "days_left": days_left,
        "article_label": article_label,
        "max_opinion_chars": MAX_OPINION_CHARS,
        "consult_url": consult_url,
    }


@dataclass
class TocNode:
    """A heading in the table of contents with the articles right under it and its sub-headings."""

    label: str
    articles: list = field(default_factory=list)
    children: list = field(default_factory=list)


def _outline(draft):
    """Return (toc, body): the heading tree for the contents, and the page's sequence in document order.

    ``body`` is a list of ("heading", level, label, notes) and ("article", Article) entries, each heading
    just before the first article under it.
    """
    sections = {s.id: s for s in draft.sections}
    nodes = {s.id: TocNode(_heading_label(s)) for s in draft.sections}
    top = TocNode("")
    for section in draft.sections:
        parent = nodes.get(section.parent_id, top) if section.parent_id else top
        parent.children.append(nodes[section.id])
    body, shown = [], set()
    for article in draft.articles:
        nodes.get(article.section_id, top).articles.append(article)
        chain, section = [], sections.get(article.section_id)
        while section is not None and section.id not in shown:
            chain.append(section)
            section = sections.get(section.parent_id)
        for section in reversed(chain):
            shown.add(section.id)
            body.append(("heading", section.level, _heading_label(section), section.notes or []))
        body.append(("article", article))
    return top, body


# -- pages -----------------------------------------------------------------------------------------


@bp.get("")
def index():
    """The drafts open for comment (and those closed lately), reached by link or a poster's QR code."""
    p = _point_code()
    now = utcnow()
    drafts = db.session.scalars(
        select(Draft)
        .options(load_only(Draft.title, Draft.state, Draft.deadline, Draft.closed_at))
        .where(Draft.state != DraftState.DRAFT)
        .order_by(Draft.deadline.desc(), Draft.id.desc())
    ).all()
    open_drafts = sorted((d for d in drafts if d.accepts_opinions(now)), key=lambda d: (d.deadline, d.id))
    closed = [d for d in drafts if not d.accepts_opinions(now)][:CLOSED_DRAFTS_LISTED]
    return render_template(
        "consultations/public_index.html",
        p=p,
        point=operations.point_for_code(p) if p else None,
        open_drafts=open_drafts,
        closed_drafts=closed,
        device=current_deputy_device(),
    )


# The rendered contents and articles of drafts, per worker process: (draft id, published at, language, open
# for comment, with a poster's code, script root) -> HTML. A draft's text cannot change once published
# (operations.update_draft), and closing it changes the key, so nothing has to be invalidated.
_DRAFT_TEXTS = OrderedDict()
DRAFT_TEXTS_KEPT = 32
_POSTER_SLOT = "POSTERCODESLOT"  # rendered where the poster's code goes, then replaced by the code


def _draft_text(draft, p, open_now):
    """The draft's contents and articles as HTML: rendered once, then kept (most of the page's work)."""
    key = (draft.id, draft.published_at, str(get_locale()), open_now, bool(p), request.script_root)
    html = _DRAFT_TEXTS.get(key)
    if html is None:
        toc, body = _outline(draft)
        html = render_template("consultations/public_draft_text.html", draft=draft, toc=toc, body=body,
                               article_count=len(draft.articles), open_now=open_now,
                               p=_POSTER_SLOT if p else "")  # fmt: skip
        _DRAFT_TEXTS[key] = html
        while len(_DRAFT_TEXTS) > DRAFT_TEXTS_KEPT:
            _DRAFT_TEXTS.popitem(last=False)
    # The template's output, escaped by Jinja; a poster's code is letters and digits (_point_code).
    return Markup(html.replace(f"p={_POSTER_SLOT}", f"p={p}") if p else html)  # noqa: S704


@bp.get("/drafts/<int:draft_id>")
def draft(draft_id):
    """The draft article by article: contents, 起草说明, and a "提意见" link under each article."""
    draft = _public_draft(draft_id)
    p = _point_code()
    open_now = draft.accepts_opinions()
    return render_template(
        "consultations/public_draft.html",
        draft=draft,
        p=p,
        point=operations.point_for_code(p) if p else None,
        draft_text=_draft_text(draft, p, open_now),
        open_now=open_now,
        device=current_deputy_device(),
    )


class OpinionForm(FlaskForm):
    """An opinion; the operation checks the text and contact details and says what is wrong."""

    class Meta:
        csrf = False  # CSRFProtect checks every POST; the template renders its token

    text = TextAreaField(_l("Your opinion"))
    contact_name = StringField(_l("Name (optional)"), render_kw={"autocomplete": "name", "maxlength": 100})
    contact_phone = StringField(
        _l("Phone number (optional)"), render_kw={"autocomplete": "tel", "inputmode": "tel", "maxlength": 32}
    )
    nonce = HiddenField()
    p = HiddenField()


def _render_form(form, draft, article, p, device):
    response = current_app.make_response(
        render_template(
            "consultations/public_opinion.html",
            form=form,
            draft=draft,
            article=article,
            p=p,
            point=operations.point_for_code(p) if p else None,
            device=device,
            collector=current_app.config.get("CONSULTATION_COLLECTOR")
            or _("the office of the People's Congress Standing Committee"),
            retention_days=current_app.config.get("CONSULTATION_CONTACT_RETENTION_DAYS"),
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _form_context():
    """The draft, article, poster code and deputy's phone of the opinion form at this URL."""
    draft = _public_draft(request.view_args["draft_id"])
    article = _article(draft, request.args.get("article"))
    return {"draft": draft, "article": article, "p": _point_code(), "device": current_deputy_device()}


@bp.route("/drafts/<int:draft_id>/opinion", methods=["GET", "POST"])
def opinion(draft_id):
    """Write an opinion on one article (?article=) or on the whole draft, and get a tracking code."""
    context = _form_context()
    draft, article, p, device = context["draft"], context["article"], context["p"], context["device"]
    if not draft.accepts_opinions():
        return render_template("consultations/public_message.html", title=_("The comment period is over"),
                               message=_closed_message(draft), draft=draft, p=p), 409  # fmt: skip
    form = OpinionForm()
    if request.method == "GET":
        form.p.data = p
        form.nonce.data = secrets.token_urlsafe(16)
        return _render_form(form, draft, article, p, device)

    refuse_oversized_body()
    key = client_key(device)
    check_opinion_rate(key)
    nonce = form.nonce.data if NONCE.match(form.nonce.data or "") else None
    text = form.text.data or ""
    try:
        opinion, repeated = operations.submit_opinion(
            draft,
            text,
            article_id=article.id if article else None,
            point_code=p or None,
            submitter_type=SubmitterType.DEPUTY if device else SubmitterType.RESIDENT,
            deputy=device.deputy if device else None,
            contact_name=None if device else form.contact_name.data,
            contact_phone=None if device else form.contact_phone.data,
            idempotency_key=idempotency_key(key, nonce, article.id if article else "", text.strip()) if nonce else None,
        )
    except DomainError as error:
        name = _FIELD_OF_ERROR.get(error.code)
        if name is None:
            raise
        db.session.rollback()
        getattr(form, name).errors = [str(error.message)]
        return _render_form(form, draft, article, p, device), error.status
    db.session.commit()
    response = current_app.make_response(
        render_template(
            "consultations/public_sent.html",
            draft=draft,
            article=article,
            p=p,
            opinion=opinion,
            repeated=repeated,
            device=device,
            code=format_tracking_code(opinion.tracking_code),
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _closed_message(draft):
    return _(
        "The comment period for this draft ended on %(deadline)s. You can still read the draft, and follow up "
        "an opinion you sent with its tracking code.",
        deadline=deadline_text(draft.closed_at if draft.closed_at and draft.closed_at < draft.deadline
                               else draft.deadline),
    )  # fmt: skip


@dataclass
class Tracked:
    """What the tracking page may show of an opinion: no name, phone or deputy, text masked."""

    code: str
    draft: Draft
    article: Article | None
    submitted_at: object
    text: str
    status: OpinionStatus
    merged: bool
    people_count: int
    reply: str | None
    handled_at: object


def tracked(opinion):
    """Follow a merged opinion to the item that carries its handling; mask what is published."""
    item, merged = opinion, False
    for _hop in range(MERGE_HOPS):
        if item.status != OpinionStatus.MERGED or item.merged_into_id is None:
            break
        merged = True
        item = db.session.get(Opinion, item.merged_into_id)
    return Tracked(
        code=format_tracking_code(opinion.tracking_code),
        draft=opinion.draft,
        article=opinion.article,
        submitted_at=opinion.created_at,
        text=mask_personal_data(opinion.text),
        status=OpinionStatus(item.status),
        merged=merged,
        people_count=item.people_count,
        reply=mask_personal_data(item.reply) if item.status_enum.handled else None,
        handled_at=item.handled_at if item.status_enum.handled else None,
    )


@bp.get("/track")
def track():
    """Look an opinion up by its tracking code: status in plain words and the organizer's reply."""
    code = request.args.get("code", "")
    p = _point_code()
    result, error, status = None, None, 200
    if code.strip():
        try:
            result = tracked(operations.get_opinion_by_tracking_code(code))
        except NotFound as refusal:
            error, status = str(refusal.message), 404
        else:
            # The draft's own link keeps the poster's code only if the page was opened with it.
            g.consult_draft = result.draft
    response = current_app.make_response(
        (render_template("consultations/public_track.html", code=code.strip()[:40], result=result, error=error,
                         p=p, status_text=status_text), status)
    )  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    return response


def status_label(status):
    """An opinion's status in the words its sender reads (the same words as the exports)."""
    return {
        OpinionStatus.RECEIVED: pgettext("opinion status", "Received"),
        OpinionStatus.MERGED: pgettext("opinion status", "Merged"),
        OpinionStatus.ADOPTED: pgettext("opinion status", "Adopted"),
        OpinionStatus.PARTLY_ADOPTED: pgettext("opinion status", "Partly adopted"),
        OpinionStatus.NOT_ADOPTED: pgettext("opinion status", "Not adopted"),
    }[OpinionStatus(status)]


def status_text(result):
    """(headline, explanation) of an opinion's status for the person who sent it."""
    status = result.status
    if status in (OpinionStatus.RECEIVED, OpinionStatus.MERGED):  # MERGED: a chain too long to follow
        headline, text = status_label(OpinionStatus.RECEIVED), _("Your opinion has been received and is being studied.")
    elif status == OpinionStatus.ADOPTED:
        headline, text = status_label(status), _("Your opinion was adopted.")
    elif status == OpinionStatus.PARTLY_ADOPTED:
        headline, text = status_label(status), _("Your opinion was partly adopted.")
    else:
        headline, text = status_label(status), _("After study, your opinion was not adopted.")
    if result.merged:
        text = " ".join(
            [
                ngettext(
                    "It was studied together with opinions that say the same; %(num)s person raised it.",
                    "It was studied together with opinions that say the same; %(num)s people raised it.",
                    result.people_count,
                ),
                text,
            ]
        )
    return headline, text
