"""Drafts, contact points and opinions: create, correct, publish and submit.

Operations flush and write organizer actions to the audit log; they never commit. A resident's
opinion is not an organizer action and is not logged: it is its own record.
"""

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import DateTime, Integer, bindparam, delete, select
from sqlalchemy import text as sql_text
from sqlalchemy.exc import IntegrityError

from voting.audit.operations import actor_label, record
from voting.consultations import documents, splitter
from voting.consultations.models import (
    MAX_OPINION_CHARS,
    TRACKING_CODE_LENGTH,
    Article,
    Channel,
    ContactPoint,
    ContactPointKind,
    Draft,
    DraftSection,
    DraftState,
    Opinion,
    SubmitterType,
    masked_text_for,
)
from voting.errors import Conflict, DomainError, Invalid, NotFound
from voting.extensions import db
from voting.timeutil import utcnow

DEFAULT_COMMENT_DAYS = 30  # DOMAIN.md D: at least 30 days; CONSULTATION_COMMENT_DAYS overrides
MAX_TITLE = 200
MAX_EXPLANATION = 20_000
MAX_SOURCE_CHARS = 1_000_000
MAX_ARTICLES = 2000
MAX_PARAGRAPH_CHARS = 20_000
MAX_POINT_NAME = 200
MAX_ADDRESS = 300
MAX_CONTACT_NAME = 100
MAX_IDEMPOTENCY_KEY = 64
POINT_CODE_LENGTH = 8
# Codes people read off paper or type: no 0/O or 1/I/L look-alikes.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_PHONE = re.compile(r"^\+?[0-9]{5,20}$")

_DOCUMENT_MESSAGES = {
    "too_large": _l("The file is too large (at most 10 MB)."),
    "old_word": _l("This is an old Word (.doc) or password-protected file. Save it as .docx and upload it again."),
    "unsupported_type": _l("Upload the draft as a .docx or .txt file."),
    "not_docx": _l("The file is not a readable .docx document."),
    "zip_bomb": _l("The file unpacks to far more than a draft could hold and was refused."),
    "bad_xml": _l("The .docx file is damaged or uses features that are not allowed."),
    "binary": _l("The file is not a text file."),
    "unknown_encoding": _l("The text file's encoding was not recognised. Save it as UTF-8 and upload it again."),
}


# Random bytes to symbols; the top bytes (256 % 31 of them) are dropped so every symbol is equally likely.
_CODE_TABLE = bytes(ord(CODE_ALPHABET[b % len(CODE_ALPHABET)]) for b in range(256))
_UNEVEN = bytes(range(256 - 256 % len(CODE_ALPHABET), 256))


def new_code(length):
    """Return a random code of ``length`` symbols from CODE_ALPHABET."""
    # One call for the random bytes: a secrets.choice() per symbol cost a tenth of a submission.
    symbols = b""
    while len(symbols) < length:
        symbols += secrets.token_bytes(length + 8).translate(_CODE_TABLE, _UNEVEN)
    return symbols[:length].decode("ascii")


def normalize_code(code):
    """Fold a typed or scanned code: full-width letters, case, spaces and dashes do not matter."""
    folded = unicodedata.normalize("NFKC", code or "").upper()
    return "".join(ch for ch in folded if ch.isascii() and ch.isalnum())


# -- drafts ----------------------------------------------------------------------------------------


def get_draft(draft_id):
    draft = db.session.get(Draft, draft_id)
    if draft is None:
        raise NotFound(_l("No such draft."), code="draft_not_found")
    return draft


def _clean_title(title):
    title = " ".join((title or "").split())
    if not 1 <= len(title) <= MAX_TITLE:
        raise Invalid(_l("A title of 1 to 200 characters is required."), code="invalid_title")
    return title


def _clean_explanation(explanation):
    explanation = (explanation or "").strip()
    if len(explanation) > MAX_EXPLANATION:
        raise Invalid(
            _l("The explanation is longer than %(max)s characters.", max=MAX_EXPLANATION), code="invalid_explanation"
        )
    return explanation


def _clean_deadline(deadline, now):
    if not isinstance(deadline, datetime):
        raise Invalid(_l("Give the deadline for comments as a date and time."), code="invalid_deadline")
    if deadline.tzinfo is not None:  # stored as naive UTC
        deadline = deadline.astimezone(UTC).replace(tzinfo=None)
    if deadline <= now:
        raise Invalid(_l("The deadline for comments must be in the future."), code="invalid_deadline")
    return deadline


def _clean_source(text):
    if not isinstance(text, str) or not text.strip():
        raise Invalid(_l("Paste the text of the draft or upload it as a file."), code="empty_draft")
    if len(text) > MAX_SOURCE_CHARS:
        raise Invalid(_l("The draft is longer than %(max)s characters.", max=MAX_SOURCE_CHARS), code="draft_too_long")
    return text


def default_deadline(now=None):
    """Return the default end of the comment period: CONSULTATION_COMMENT_DAYS (30) days from now."""
    days = current_app.config.get("CONSULTATION_COMMENT_DAYS", DEFAULT_COMMENT_DAYS)
    return (now or utcnow()) + timedelta(days=days)


def read_upload(filename, data):
    """Return the text of an uploaded .docx or .txt draft, or raise Invalid naming the problem."""
    try:
        return documents.read_document(filename, data)
    except documents.DocumentError as error:
        raise Invalid(_DOCUMENT_MESSAGES[error.code], code=f"document_{error.code}") from None


def create_draft(actor, text, *, title=None, explanation="", deadline=None, now=None):
    """Split the draft's text into its structure and store it for correction; return (draft, warnings).

    The title defaults to the draft's own first line. A split with problems is stored all the
    same: the warnings tell the organizer what to correct before publishing.
    """
    now = now or utcnow()
    text = _clean_source(text)
    structure = splitter.split(text)
    draft = Draft(
        title=_clean_title(title or structure.title),
        explanation=_clean_explanation(explanation),
        source_text=text,
        deadline=_clean_deadline(deadline or default_deadline(now), now),
        created_at=now,
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(draft)
    _store_structure(draft, structure)
    db.session.flush()
    warnings = splitter.check(structure)
    record(
        actor_label(actor),
        "draft.create",
        "draft",
        draft.id,
        title=draft.title,
        articles=len(structure.articles),
        warnings=len(warnings),
    )
    return draft, warnings


def _store_structure(draft, structure):
    """Replace the draft's headings (with their notes), articles, preamble and trailer with a splitter.Structure's."""
    if len(structure.articles) > MAX_ARTICLES:
        raise Invalid(_l("A draft can have at most %(max)s articles.", max=MAX_ARTICLES), code="too_many_articles")
    if draft.id is not None:
        db.session.execute(delete(Article).where(Article.draft_id == draft.id))
        db.session.execute(delete(DraftSection).where(DraftSection.draft_id == draft.id))
        db.session.expire(draft, ["articles", "sections"])
    draft.style = structure.style
    draft.preamble = list(structure.preamble)
    draft.trailer = list(structure.trailer)
    sections = []
    for position, heading in enumerate(structure.headings):
        section = DraftSection(
            parent=sections[heading.parent] if heading.parent is not None else None,
            level=heading.level,
            number=heading.number,
            title=heading.title[:MAX_TITLE],
            position=position,
            notes=list(heading.notes),
        )
        draft.sections.append(section)  # appending cascades into the session; setting section.draft would not
        sections.append(section)
    for position, item in enumerate(structure.articles):
        draft.articles.append(
            Article(
                section=sections[item.heading] if item.heading is not None else None,
                number=item.number,
                suffix=item.suffix,
                title=item.title,
                position=position,
                paragraphs=list(item.paragraphs),
            )
        )


def structure_of(draft):
    """Return the stored draft as a splitter.Structure (for checks and the correction screen)."""
    sections = list(draft.sections)
    index = {section.id: i for i, section in enumerate(sections)}
    return splitter.Structure(
        title=draft.title,
        preamble=list(draft.preamble or []),
        headings=[
            splitter.Heading(s.level, s.number, s.title, index.get(s.parent_id), notes=list(s.notes or []))
            for s in sections
        ],
        articles=[
            splitter.Article(a.number, a.suffix, a.title, list(a.paragraphs), index.get(a.section_id), 0, draft.style)
            for a in draft.articles
        ],
        trailer=list(draft.trailer or []),
        style=draft.style,
    )


def _require_preparing(draft):
    if draft.state != DraftState.DRAFT:
        raise Conflict(_l("The draft has been published; its text can no longer be changed."), code="draft_published")


def update_draft(actor, draft, *, title=None, explanation=None, deadline=None, text=None, structure=None, now=None):
    """Change a draft's details, re-split a new text, or store the organizer's corrected split.

    ``structure`` is the corrected split in the shape of ``Structure.to_dict()`` (headings with
    level, number, title, parent and notes; articles with number, suffix, title, paragraphs and
    heading; the preamble and the trailer). Text and structure change only before publishing; the
    deadline can still be moved later while the draft is open. Return the warnings for the draft as
    it now stands.
    """
    now = now or utcnow()
    changed = {}
    if text is not None or structure is not None or title is not None or explanation is not None:
        _require_preparing(draft)
    if title is not None:
        draft.title = changed["title"] = _clean_title(title)
    if explanation is not None:
        draft.explanation = _clean_explanation(explanation)
        changed["explanation"] = len(draft.explanation)
    if deadline is not None:
        if draft.state == DraftState.CLOSED:
            raise Conflict(_l("The comment period is over."), code="draft_closed")
        draft.deadline = changed["deadline"] = _clean_deadline(deadline, now)
    if text is not None:
        draft.source_text = _clean_source(text)
        _store_structure(draft, splitter.split(draft.source_text))
        changed["text"] = len(draft.source_text)
    if structure is not None:
        _store_structure(draft, parse_structure(structure))
        changed["structure"] = True
    db.session.flush()
    db.session.expire(draft, ["articles", "sections"])
    if changed:
        record(actor_label(actor), "draft.update", "draft", draft.id, **changed)
    return splitter.check(structure_of(draft))


def _positive_int(value, what, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise Invalid(_l("Each %(what)s needs a positive whole number.", what=what), code="invalid_structure")
    return value


def _texts(value, not_text, too_long):
    """Return a list of paragraphs stripped, the empty ones dropped; raise ``not_text`` for anything but a list
    of strings and ``too_long`` for a paragraph longer than an article's may be (MAX_PARAGRAPH_CHARS)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise Invalid(not_text, code="invalid_structure")
    texts = [p.strip() for p in value if p.strip()]
    if any(len(p) > MAX_PARAGRAPH_CHARS for p in texts):
        raise Invalid(too_long, code="invalid_structure")
    return texts


def parse_structure(data):
    """Validate a corrected split sent by the organizer; return it as a splitter.Structure.

    Heading notes and the trailer are lists of paragraphs like an article's: text, each at most
    MAX_PARAGRAPH_CHARS long, empty ones dropped. Left out, they are empty.
    """
    if not isinstance(data, dict):
        raise Invalid(_l("The corrected structure is not in the expected form."), code="invalid_structure")
    headings, articles = data.get("headings") or [], data.get("articles") or []
    preamble = data.get("preamble") or []
    if not all(isinstance(x, list) for x in (headings, articles, preamble)):
        raise Invalid(_l("The corrected structure is not in the expected form."), code="invalid_structure")
    result = splitter.Structure(style=data.get("style") if data.get("style") in ("article", "point") else "article")
    result.preamble = [p.strip() for p in preamble if isinstance(p, str) and p.strip()]
    result.trailer = _texts(
        data.get("trailer"),
        _l("The corrected structure is not in the expected form."),
        _l("The text after the last article has a paragraph that is too long."),
    )
    for i, raw in enumerate(headings):
        if not isinstance(raw, dict) or raw.get("level") not in (1, 2, 3):
            raise Invalid(_l("Heading %(n)s has no valid level.", n=i + 1), code="invalid_structure")
        parent = raw.get("parent")
        if parent is not None and not (
            isinstance(parent, int) and 0 <= parent < i and result.headings[parent].level < raw["level"]
        ):
            raise Invalid(_l("Heading %(n)s has an impossible parent.", n=i + 1), code="invalid_structure")
        title = " ".join(str(raw.get("title") or "").split())
        if len(title) > MAX_TITLE:
            raise Invalid(_l("Heading %(n)s has a title that is too long.", n=i + 1), code="invalid_structure")
        number = _positive_int(raw.get("number"), _l("heading"), allow_none=True)
        notes = _texts(
            raw.get("notes"),
            _l("Heading %(n)s has notes that are not text.", n=i + 1),
            _l("Heading %(n)s has a note that is too long.", n=i + 1),
        )
        result.headings.append(splitter.Heading(raw["level"], number, title, parent, notes=notes))
    for i, raw in enumerate(articles):
        if not isinstance(raw, dict):
            raise Invalid(_l("The corrected structure is not in the expected form."), code="invalid_structure")
        paragraphs = raw.get("paragraphs") or []
        if not isinstance(paragraphs, list) or not all(isinstance(p, str) for p in paragraphs):
            raise Invalid(_l("Article %(n)s has paragraphs that are not text.", n=i + 1), code="invalid_structure")
        paragraphs = [p.strip() for p in paragraphs if p.strip()]
        if any(len(p) > MAX_PARAGRAPH_CHARS for p in paragraphs):
            raise Invalid(_l("Article %(n)s has a paragraph that is too long.", n=i + 1), code="invalid_structure")
        heading = raw.get("heading")
        if heading is not None and not (isinstance(heading, int) and 0 <= heading < len(result.headings)):
            raise Invalid(_l("Article %(n)s stands under a heading that does not exist.", n=i + 1),
                          code="invalid_structure")  # fmt: skip
        title = " ".join(str(raw.get("title") or "").split())[:MAX_TITLE] or None
        suffix = raw.get("suffix") or 0
        if isinstance(suffix, bool) or not isinstance(suffix, int) or suffix < 0:
            raise Invalid(_l("Article %(n)s has an invalid 之X number.", n=i + 1), code="invalid_structure")
        number = _positive_int(raw.get("number"), _l("article"))
        result.articles.append(splitter.Article(number, suffix, title, paragraphs, heading, 0, result.style))
    return result


def publish_draft(actor, draft, now=None):
    """Open the draft for comment: it needs articles, unique article numbers and a future deadline."""
    now = now or utcnow()
    _require_preparing(draft)
    if not draft.articles:
        raise Invalid(_l("The draft has no articles to comment on."), code="no_articles")
    seen = set()
    for article in draft.articles:
        key = (article.number, article.suffix)
        label = splitter.Article(article.number, article.suffix, style=draft.style).label
        if key in seen:
            message = _l("%(label)s appears twice. Correct the split first.", label=label)
            raise Invalid(message, code="duplicate_article")
        seen.add(key)
        if not article.paragraphs:
            message = _l("%(label)s has no text. Correct the split first.", label=label)
            raise Invalid(message, code="empty_article")
    if draft.deadline <= now:
        raise Invalid(_l("The deadline for comments must be in the future."), code="invalid_deadline")
    draft.transition(DraftState.PUBLISHED)
    draft.published_at = now
    db.session.flush()
    record(actor_label(actor), "draft.publish", "draft", draft.id, deadline=draft.deadline)
    return draft


def close_draft(actor, draft, now=None):
    """End the comment period before (or at) its deadline; the draft becomes read-only."""
    draft.transition(DraftState.CLOSED)
    draft.closed_at = now or utcnow()
    db.session.flush()
    record(actor_label(actor), "draft.close", "draft", draft.id)
    return draft


# -- contact points --------------------------------------------------------------------------------

_PARENT_KIND = {
    ContactPointKind.DISTRICT: None,
    ContactPointKind.POINT: ContactPointKind.DISTRICT,
    ContactPointKind.COLLECTION: ContactPointKind.POINT,
}


def create_contact_point(actor, name, kind, parent=None, address=""):
    """Add a point to the network (district point -> contact points -> collection points).

    The point gets a random public code for its poster's QR link. The names of points under
    one parent are unique.
    """
    try:
        kind = ContactPointKind(kind)
    except ValueError:
        raise Invalid(_l("Unknown kind of contact point."), code="invalid_kind") from None
    name = " ".join((name or "").split())
    if not 1 <= len(name) <= MAX_POINT_NAME:
        raise Invalid(_l("A name of 1 to 200 characters is required."), code="invalid_name")
    address = " ".join((address or "").split())
    if len(address) > MAX_ADDRESS:
        raise Invalid(_l("The address is longer than %(max)s characters.", max=MAX_ADDRESS), code="invalid_address")
    expected = _PARENT_KIND[kind]
    if (parent is None) != (expected is None) or (parent is not None and parent.kind != expected):
        message = {
            ContactPointKind.DISTRICT: _l("The district contact point stands at the top of the network."),
            ContactPointKind.POINT: _l("A contact point belongs under the district contact point."),
            ContactPointKind.COLLECTION: _l("A collection point belongs under a contact point."),
        }[kind]
        raise Invalid(message, code="invalid_parent")
    if parent is not None:
        db.session.flush()  # the parent's id
    point = ContactPoint(
        kind=kind, name=name, address=address, parent_id=parent.id if parent else None, code=new_code(POINT_CODE_LENGTH)
    )
    try:
        with db.session.begin_nested():
            db.session.add(point)
    except IntegrityError:
        raise Conflict(
            _l("There is already a point called “%(name)s” here.", name=name), code="duplicate_point"
        ) from None
    record(actor_label(actor), "contact_point.create", "contact_point", point.id, name=name, kind=str(kind),
           parent_id=point.parent_id)  # fmt: skip
    return point


def list_contact_points():
    """Return every contact point, parents before their children, siblings by name."""
    points = db.session.scalars(select(ContactPoint).order_by(ContactPoint.name)).all()
    children = {}
    for point in points:
        children.setdefault(point.parent_id, []).append(point)
    ordered = []

    def walk(parent_id):
        for point in children.get(parent_id, []):
            ordered.append(point)
            walk(point.id)

    walk(None)
    return ordered


def point_for_code(code):
    """Return the active contact point a poster code names, or None for an unknown or forged code."""
    code = normalize_code(code)
    if not code or len(code) > 16:
        return None
    return db.session.scalar(select(ContactPoint).where(ContactPoint.code == code, ContactPoint.active.is_(True)))


# -- opinions --------------------------------------------------------------------------------------


def _clean_opinion_text(text):
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip()
    if not text:
        raise Invalid(_l("Write your opinion before sending it."), code="opinion_empty")
    if len(text) > MAX_OPINION_CHARS:
        raise Invalid(
            _l(
                "An opinion can be at most %(max)s characters long; this one has %(count)s. "
                "Shorten it or send it in parts.",
                max=MAX_OPINION_CHARS,
                count=len(text),
            ),
            code="opinion_too_long",
        )
    return text


def _clean_contact(name, phone):
    name = " ".join((name or "").split()) or None
    if name and len(name) > MAX_CONTACT_NAME:
        raise Invalid(_l("The name is longer than %(max)s characters.", max=MAX_CONTACT_NAME), code="invalid_name")
    if phone:
        phone = re.sub(r"[\s\-()（）]", "", unicodedata.normalize("NFKC", phone))
        if not _PHONE.match(phone):
            raise Invalid(_l("The phone number is not valid."), code="invalid_phone")
    return name, phone or None


def _clean_idempotency_key(key):
    if key is not None and not (0 < len(key) <= MAX_IDEMPOTENCY_KEY and key.isascii() and key.isprintable()):
        raise Invalid(_l("The idempotency key must be 1 to 64 printable ASCII characters."), code="invalid_key")
    return key


def _clean_submitter(submitter_type, deputy, point_code, channel):
    """Return (submitter type, channel) or raise Invalid naming what is wrong."""
    try:
        submitter_type = SubmitterType(submitter_type)
    except ValueError:
        raise Invalid(_l("Unknown kind of submitter."), code="invalid_submitter") from None
    if (submitter_type == SubmitterType.DEPUTY) != (deputy is not None):
        raise Invalid(_l("Only a deputy submits as a deputy."), code="invalid_submitter")
    if channel is None:
        channel = Channel.DEPUTY if deputy is not None else Channel.POSTER if point_code else Channel.LINK
    try:
        channel = Channel(channel)
    except ValueError:
        raise Invalid(_l("Unknown channel."), code="invalid_channel") from None
    return submitter_type, channel


@dataclass(frozen=True, slots=True)
class SubmittedOpinion:
    """What the sender of an opinion is told: its id, tracking code and where it went."""

    id: int
    tracking_code: str
    draft_id: int
    article_id: int | None
    submitter_type: str
    channel: str
    contact_point_id: int | None


# The fast path of a submission is this one statement: it checks that the draft is open for
# comment and that the article is one of its articles, attributes the poster's code to its point
# (an unknown, forged or retired code leaves the point empty and the opinion kept), and stores the
# opinion; a retry with a known idempotency key inserts nothing. Why nothing was inserted is looked
# up only then (_explain_unsent). Written once as SQL both databases read alike; the casts tell
# PostgreSQL the types of parameters that may be NULL.
_INSERT_OPINION = sql_text(
    """
    INSERT INTO opinion (draft_id, article_id, text, masked_text, submitter_type, channel, contact_point_id,
                         deputy_id, tracking_code, idempotency_key, status, people_count, created_at)
    SELECT draft.id, CAST(:article_id AS INTEGER), CAST(:text AS TEXT), CAST(:masked_text AS TEXT),
           CAST(:submitter_type AS VARCHAR(10)),
           CAST(:channel AS VARCHAR(10)),
           (SELECT contact_point.id FROM contact_point
             WHERE contact_point.code = CAST(:point_code AS VARCHAR(16)) AND contact_point.active),
           CAST(:deputy_id AS INTEGER), CAST(:tracking_code AS VARCHAR(16)), CAST(:idempotency_key AS VARCHAR(64)),
           'received', 1, :now
    FROM draft
    WHERE draft.id = :draft_id AND draft.state = 'published' AND draft.deadline > :now
      AND (CAST(:article_id AS INTEGER) IS NULL OR EXISTS (
           SELECT 1 FROM article WHERE article.id = CAST(:article_id AS INTEGER) AND article.draft_id = draft.id))
    ON CONFLICT (draft_id, idempotency_key) DO NOTHING
    RETURNING id, contact_point_id
    """
).bindparams(bindparam("now", type_=DateTime()), bindparam("draft_id", type_=Integer()))
_INSERT_CONTACT = sql_text(
    "INSERT INTO opinion_contact (opinion_id, name, phone, created_at) VALUES (:opinion_id, :name, :phone, :now)"
).bindparams(bindparam("now", type_=DateTime()))
_EARLIER_OPINION = sql_text(
    "SELECT id, tracking_code, draft_id, article_id, submitter_type, channel, contact_point_id FROM opinion "
    "WHERE draft_id = :draft_id AND idempotency_key = :idempotency_key"
)


def _check_open(draft_id, article_id, now):
    """Raise what a submission to this draft and article would be told, if anything."""
    row = db.session.execute(select(Draft.state, Draft.deadline).where(Draft.id == draft_id)).first()
    if row is None or row.state == DraftState.DRAFT:
        raise NotFound(_l("No such draft."), code="draft_not_found")
    if not (row.state == DraftState.PUBLISHED and now < row.deadline):
        raise Conflict(_l("The comment period for this draft is over."), code="draft_closed")
    if article_id is None:
        return
    found = None
    if isinstance(article_id, int) and not isinstance(article_id, bool) and 0 < article_id < 2**31:
        found = db.session.scalar(select(Article.draft_id).where(Article.id == article_id))
    if found != draft_id:
        raise NotFound(_l("This draft has no such article."), code="article_not_found")


def record_opinion(
    draft,
    text,
    *,
    article_id=None,
    point_code=None,
    channel=None,
    submitter_type=SubmitterType.RESIDENT,
    deputy=None,
    contact_name=None,
    contact_phone=None,
    idempotency_key=None,
    now=None,
):
    """Store an opinion on an article (or on the whole draft when ``article_id`` is None) in one INSERT.

    ``draft`` is the Draft or its id: nothing is loaded. Return (SubmittedOpinion, repeated):
    ``repeated`` is True when an earlier submission with the same idempotency key is returned
    instead of a new one (a double tap, a retried request). An unknown or forged contact-point
    code keeps the opinion, attributed to no point. Contact details, when given, go to their own
    table. The checks and their messages are those of ``submit_opinion``, in the same order.

    When the session is in a transaction (or holds changes), the opinion joins it and is committed
    with it; otherwise it is committed at once, in a transaction of its own.
    """
    now = now or utcnow()
    draft_id = draft if isinstance(draft, int) else draft.id
    try:
        idempotency_key = _clean_idempotency_key(idempotency_key)
        text = _clean_opinion_text(text)
    except DomainError:
        _check_open(draft_id, None, now)  # a closed or missing draft is what the sender hears first
        raise
    try:
        if article_id is not None and (isinstance(article_id, bool) or not isinstance(article_id, int)):
            raise NotFound(_l("This draft has no such article."), code="article_not_found")
        submitter_type, channel = _clean_submitter(submitter_type, deputy, point_code, channel)
        name, phone = _clean_contact(contact_name, contact_phone)
    except DomainError:
        _check_open(draft_id, article_id, now)
        raise
    code = normalize_code(point_code) if point_code else ""
    params = {
        "draft_id": draft_id,
        "article_id": article_id if article_id is None or 0 < article_id < 2**31 else 0,
        "text": text,
        "masked_text": masked_text_for(text),
        "submitter_type": submitter_type.value,
        "channel": channel.value,
        "point_code": code if 0 < len(code) <= 16 else None,
        "deputy_id": deputy.id if deputy is not None else None,
        "tracking_code": new_code(TRACKING_CODE_LENGTH),
        "idempotency_key": idempotency_key,
        "now": now,
    }
    session = db.session()
    try:
        if session.in_transaction() or session.new or session.dirty or session.deleted:
            session.flush()  # what the caller changed in this session (a closed draft, a retired point) counts
            # On the session's connection, in its transaction, without the ORM's per-statement work.
            row = _insert_opinion(session.connection(), params, name, phone)
        else:
            # Nothing of the caller's to join (a resident's submission): a transaction of its own,
            # committed at once, without the session's bookkeeping (0.04 ms of 0.6 in the app).
            with db.engine.begin() as connection:
                row = _insert_opinion(connection, params, name, phone)
    except IntegrityError:
        # A tracking-code collision, about 1 in 10^14: nothing was stored; the resident may simply resend.
        session.rollback()
        raise Conflict(_l("Your opinion could not be saved. Please send it again."), code="opinion_retry") from None
    if row is None:
        return _explain_unsent(draft_id, article_id, idempotency_key, now), True
    submitted = SubmittedOpinion(
        row.id, params["tracking_code"], draft_id, article_id, params["submitter_type"], params["channel"],
        row.contact_point_id,
    )  # fmt: skip
    return submitted, False


def _insert_opinion(connection, params, name, phone):
    """Insert the opinion and its contact details; return its (id, contact_point_id), or None if refused."""
    row = connection.execute(_INSERT_OPINION, params).first()
    if row is not None and (name or phone):
        connection.execute(_INSERT_CONTACT, {"opinion_id": row.id, "name": name, "phone": phone, "now": params["now"]})
    return row


def _explain_unsent(draft_id, article_id, idempotency_key, now):
    """Nothing was inserted: raise why, or return the earlier opinion sent with this idempotency key."""
    _check_open(draft_id, article_id, now)
    row = None
    if idempotency_key is not None:
        row = db.session.execute(_EARLIER_OPINION, {"draft_id": draft_id, "idempotency_key": idempotency_key}).first()
    if row is None:  # the draft closed, or the earlier opinion went, between the two statements
        raise Conflict(_l("Your opinion could not be saved. Please send it again."), code="opinion_retry")
    return SubmittedOpinion(*row)


def submit_opinion(draft, text, **options):
    """Record an opinion on an article (or on the whole draft when ``article_id`` is None).

    Return (opinion, repeated): ``repeated`` is True when an earlier submission with the same
    idempotency key is returned instead of a new one (a double tap, a retried request). An
    unknown or forged contact-point code keeps the opinion, attributed to no point. The options
    are those of ``record_opinion``, which stores it; this loads the stored Opinion.
    """
    submitted, repeated = record_opinion(draft, text, **options)
    return db.session.get(Opinion, submitted.id), repeated


def get_opinion_by_tracking_code(code):
    """Return the opinion a tracking code names, or raise NotFound."""
    code = normalize_code(code)
    opinion = None
    if len(code) == TRACKING_CODE_LENGTH:
        opinion = db.session.scalar(select(Opinion).where(Opinion.tracking_code == code))
    if opinion is None:
        raise NotFound(_l("No opinion has this tracking code. Check the code and try again."), code="opinion_not_found")
    return opinion
