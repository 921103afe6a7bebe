"""Drafts put out for comment, their structure, the contact-point network and the opinions.

Shapes chosen for what the pages and the tallies read (DOMAIN.md D, issue 4):

- An article keeps its paragraphs (款) as one JSON list: the resident's page and the review
  screen always show an article whole, and nothing refers to a single paragraph.
- Opinions are counted per article, point and channel over 300,000 rows; covering indexes
  that start with ``draft_id`` let those GROUP BYs read the index alone.
- A submitter's name and phone live in ``opinion_contact``, one optional row per opinion with
  its own time, so the purge deletes rows there and exports never touch them by accident.
"""

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_babel import pgettext
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voting.errors import Conflict
from voting.extensions import db
from voting.timeutil import utcnow

MAX_OPINION_CHARS = 5000
TRACKING_CODE_LENGTH = 10


def format_tracking_code(code):
    """Group a tracking code for reading aloud and copying: ``K7QX2-MNP8R``."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def _in(column, values):
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


def _guard(kind, current, target, allowed):
    """Raise Conflict unless ``target`` may follow ``current``."""
    if target not in allowed[current]:
        raise Conflict(
            _l(
                "Cannot change the %(kind)s from “%(current)s” to “%(target)s”.",
                kind=kind,
                current=current.label,
                target=target.label,
            ),
            code="invalid_state",
        )


class DraftState(enum.StrEnum):
    DRAFT = "draft"  # being prepared: the split can still be corrected
    PUBLISHED = "published"  # open for comment until the deadline
    CLOSED = "closed"  # comment period over: read-only for residents

    @property
    def label(self):
        return {
            DraftState.DRAFT: _l("Being prepared"),
            DraftState.PUBLISHED: _l("Open for comment"),
            DraftState.CLOSED: _l("Closed for comment"),
        }[self]


_DRAFT_TRANSITIONS = {
    DraftState.DRAFT: {DraftState.PUBLISHED},
    DraftState.PUBLISHED: {DraftState.CLOSED},
    DraftState.CLOSED: set(),
}


class Draft(db.Model):
    """A draft law or regulation put out for comment (法律法规草案)."""

    __tablename__ = "draft"
    __table_args__ = (
        CheckConstraint(_in("state", DraftState), name="state_known"),
        CheckConstraint(_in("style", ("article", "point")), name="style_known"),
        CheckConstraint("length(title) > 0", name="title_present"),
        CheckConstraint("(state = 'draft') OR (published_at IS NOT NULL)", name="published_at_when_published"),
        CheckConstraint("(state = 'closed') = (closed_at IS NOT NULL)", name="closed_at_when_closed"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    explanation: Mapped[str] = mapped_column(Text, default="")  # 起草说明
    source_text: Mapped[str] = mapped_column(Text, default="")  # as pasted or read from the upload
    style: Mapped[str] = mapped_column(String(10), default="article")  # 第X条, or 一、 in a 决定
    preamble: Mapped[list] = mapped_column(JSON, default=list)
    # Paragraphs after the last article (an attached 说明 or 附件), shown to residents after the articles.
    # The server default filled the drafts stored before the column existed (migration 0007).
    trailer: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    state: Mapped[str] = mapped_column(String(10), default=DraftState.DRAFT)
    deadline: Mapped[datetime]  # naive UTC; comments are accepted before it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    sections: Mapped[list["DraftSection"]] = relationship(
        back_populates="draft", cascade="all, delete-orphan", order_by="DraftSection.position", passive_deletes=True
    )
    articles: Mapped[list["Article"]] = relationship(
        back_populates="draft", cascade="all, delete-orphan", order_by="Article.position", passive_deletes=True
    )

    def __init__(self, **fields):
        fields.setdefault("state", DraftState.DRAFT)
        super().__init__(**fields)

    @property
    def state_enum(self):
        return DraftState(self.state)

    def transition(self, target):
        """Move to ``target`` or raise Conflict if the current state does not allow it."""
        _guard(_l("draft"), DraftState(self.state), target, _DRAFT_TRANSITIONS)
        self.state = target

    def accepts_opinions(self, now=None):
        """Tell whether residents may comment now: published and before the deadline."""
        return self.state == DraftState.PUBLISHED and (now or utcnow()) < self.deadline


class SectionLevel(enum.IntEnum):
    PART = 1  # 编
    CHAPTER = 2  # 章
    SECTION = 3  # 节


class DraftSection(db.Model):
    """A part, chapter or section heading (编/章/节); ``parent`` builds the tree."""

    __tablename__ = "draft_section"
    __table_args__ = (
        UniqueConstraint("draft_id", "position", name="uq_draft_section_position"),
        CheckConstraint("level BETWEEN 1 AND 3", name="level_known"),
        CheckConstraint("number IS NULL OR number > 0", name="number_positive"),
        CheckConstraint("position >= 0", name="position_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("draft.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("draft_section.id", ondelete="CASCADE"))
    level: Mapped[int]
    number: Mapped[int | None]  # None for an unnumbered 总则/附则
    title: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[int]
    # Paragraphs between the heading and its first article (a chapter's opening sentence), shown under it.
    notes: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")

    draft: Mapped[Draft] = relationship(back_populates="sections")
    parent: Mapped["DraftSection | None"] = relationship(remote_side=[id])


class Article(db.Model):
    """An article (条) of a draft, its paragraphs (款) in order as a JSON list of strings."""

    __tablename__ = "article"
    __table_args__ = (
        UniqueConstraint("draft_id", "position", name="uq_article_position"),
        CheckConstraint("number > 0", name="number_positive"),
        CheckConstraint("suffix >= 0", name="suffix_not_negative"),
        CheckConstraint("position >= 0", name="position_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("draft.id", ondelete="CASCADE"))
    section_id: Mapped[int | None] = mapped_column(ForeignKey("draft_section.id", ondelete="SET NULL"))
    number: Mapped[int]
    suffix: Mapped[int] = mapped_column(default=0)  # 1 for 第十条之一
    title: Mapped[str | None] = mapped_column(String(200))
    position: Mapped[int]
    paragraphs: Mapped[list] = mapped_column(JSON, default=list)

    draft: Mapped[Draft] = relationship(back_populates="articles")
    section: Mapped[DraftSection | None] = relationship()


class ContactPointKind(enum.StrEnum):
    DISTRICT = "district"  # the district's contact point, the root of the network
    POINT = "point"  # 基层立法联系点
    COLLECTION = "collection"  # 采集点 under a contact point

    @property
    def label(self):
        return {
            ContactPointKind.DISTRICT: _l("District contact point"),
            ContactPointKind.POINT: _l("Contact point"),
            ContactPointKind.COLLECTION: _l("Collection point"),
        }[self]


class ContactPoint(db.Model):
    """A grassroots legislative contact point or collection point; ``code`` is printed on its poster."""

    __tablename__ = "contact_point"
    __table_args__ = (
        CheckConstraint(_in("kind", ContactPointKind), name="kind_known"),
        CheckConstraint("(kind = 'district') = (parent_id IS NULL)", name="root_is_district"),
        CheckConstraint("length(name) > 0", name="name_present"),
        UniqueConstraint("parent_id", "name", name="uq_contact_point_sibling_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("contact_point.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    code: Mapped[str] = mapped_column(String(16), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped["ContactPoint | None"] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list["ContactPoint"]] = relationship(back_populates="parent", order_by="ContactPoint.name")


class SubmitterType(enum.StrEnum):
    RESIDENT = "resident"
    DEPUTY = "deputy"
    STAFF = "staff"  # entered by contact-point staff from a meeting (征询会) or a sheet


class Channel(enum.StrEnum):
    POSTER = "poster"  # a contact point's QR poster
    LINK = "link"  # the public link
    DEPUTY = "deputy"  # a deputy's own phone
    IMPORT = "import"  # a staff import


class OpinionStatus(enum.StrEnum):
    RECEIVED = "received"
    MERGED = "merged"  # folded into another opinion, which carries its people count
    ADOPTED = "adopted"  # 采纳
    PARTLY_ADOPTED = "partly_adopted"  # 部分采纳
    NOT_ADOPTED = "not_adopted"  # 未采纳

    @property
    def label(self):
        # With their context: the plain "Adopted"/"Not adopted" are a ballot's 入选/未入选.
        return {
            OpinionStatus.RECEIVED: pgettext("opinion status", "Received"),
            OpinionStatus.MERGED: pgettext("opinion status", "Merged"),
            OpinionStatus.ADOPTED: pgettext("opinion status", "Adopted"),
            OpinionStatus.PARTLY_ADOPTED: pgettext("opinion status", "Partly adopted"),
            OpinionStatus.NOT_ADOPTED: pgettext("opinion status", "Not adopted"),
        }[self]

    @property
    def handled(self):
        return self in HANDLED


HANDLED = frozenset({OpinionStatus.ADOPTED, OpinionStatus.PARTLY_ADOPTED, OpinionStatus.NOT_ADOPTED})
# A decision can be revised, and a merge or a decision undone, back to received.
_OPINION_TRANSITIONS = {
    OpinionStatus.RECEIVED: {OpinionStatus.MERGED, *HANDLED},
    OpinionStatus.MERGED: {OpinionStatus.RECEIVED},
    **{status: {OpinionStatus.RECEIVED, *(HANDLED - {status})} for status in HANDLED},
}


def masked_text_for(text):
    """What goes in ``Opinion.masked_text``: the masked text, or None when there is nothing to mask."""
    from voting.consultations.masking import mask_personal_data

    masked = mask_personal_data(text)
    return masked if masked != text else None


class Opinion(db.Model):
    """An opinion (意见建议) on one article, or on the whole draft when ``article_id`` is NULL."""

    __tablename__ = "opinion"
    __table_args__ = (
        CheckConstraint(_in("submitter_type", SubmitterType), name="submitter_type_known"),
        CheckConstraint(_in("channel", Channel), name="channel_known"),
        CheckConstraint(_in("status", OpinionStatus), name="status_known"),
        CheckConstraint(f"length(text) > 0 AND length(text) <= {MAX_OPINION_CHARS}", name="text_length"),
        CheckConstraint("people_count >= 1", name="people_count_positive"),
        CheckConstraint("(status = 'merged') = (merged_into_id IS NOT NULL)", name="merged_into_when_merged"),
        CheckConstraint("merged_into_id IS NULL OR merged_into_id <> id", name="not_merged_into_itself"),
        CheckConstraint(
            f"(status IN ({', '.join(repr(str(s)) for s in sorted(HANDLED))})) = (handled_at IS NOT NULL)",
            name="handled_at_when_handled",
        ),
        CheckConstraint("deputy_id IS NULL OR submitter_type = 'deputy'", name="deputy_only_for_deputies"),
        UniqueConstraint("draft_id", "idempotency_key", name="uq_opinion_idempotency_key"),
        # The statistics page groups by these; each index covers its GROUP BY.
        Index("ix_opinion_draft_article", "draft_id", "article_id", "status", "people_count"),
        Index("ix_opinion_draft_point", "draft_id", "contact_point_id", "status", "people_count"),
        Index("ix_opinion_draft_channel", "draft_id", "channel", "submitter_type", "status", "people_count"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("draft.id", ondelete="CASCADE"))
    # No ON DELETE: an article that has opinions cannot be removed (only drafts without any are edited).
    article_id: Mapped[int | None] = mapped_column(ForeignKey("article.id"))
    text: Mapped[str] = mapped_column(Text)
    # The text with the phone, ID and account numbers in it masked (masking.py), kept when masking changed
    # it: what exports publish (coalesce(masked_text, text)), so 300,000 rows are not masked again on every
    # download. The text never changes once received; every insert fills this (masked_text_for()).
    masked_text: Mapped[str | None] = mapped_column(
        Text, default=lambda context: masked_text_for(context.get_current_parameters()["text"])
    )
    submitter_type: Mapped[str] = mapped_column(String(10), default=SubmitterType.RESIDENT)
    channel: Mapped[str] = mapped_column(String(10), default=Channel.LINK)
    # An unknown or retired point leaves the opinion unattributed, never lost.
    contact_point_id: Mapped[int | None] = mapped_column(ForeignKey("contact_point.id", ondelete="SET NULL"))
    deputy_id: Mapped[int | None] = mapped_column(ForeignKey("deputy.id", ondelete="SET NULL"))
    tracking_code: Mapped[str] = mapped_column(String(16), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=OpinionStatus.RECEIVED)
    # No ON DELETE: an opinion others were merged into cannot be removed on its own.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("opinion.id"), index=True)
    people_count: Mapped[int] = mapped_column(default=1)
    legal_text: Mapped[str | None] = mapped_column(Text)  # rewritten into legal wording by the organizer
    reason: Mapped[str | None] = mapped_column(Text)  # why adopted or not
    reply: Mapped[str | None] = mapped_column(Text)  # shown to the submitter on the tracking page
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    handled_at: Mapped[datetime | None]
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    draft: Mapped[Draft] = relationship()
    article: Mapped[Article | None] = relationship()
    contact_point: Mapped[ContactPoint | None] = relationship()
    contact: Mapped["OpinionContact | None"] = relationship(
        back_populates="opinion", cascade="all, delete-orphan", passive_deletes=True
    )

    def __init__(self, **fields):
        fields.setdefault("status", OpinionStatus.RECEIVED)
        super().__init__(**fields)

    @property
    def status_enum(self):
        return OpinionStatus(self.status)

    def transition(self, target):
        """Move to ``target`` or raise Conflict if the current status does not allow it."""
        _guard(_l("opinion"), OpinionStatus(self.status), target, _OPINION_TRANSITIONS)
        self.status = target


class OpinionContact(db.Model):
    """A submitter's optional contact details: personal data, purged after the retention period."""

    __tablename__ = "opinion_contact"
    __table_args__ = (CheckConstraint("name IS NOT NULL OR phone IS NOT NULL", name="something_to_keep"),)

    opinion_id: Mapped[int] = mapped_column(ForeignKey("opinion.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    opinion: Mapped[Opinion] = relationship(back_populates="contact")
