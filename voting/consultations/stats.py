"""The tallies of a draft's consultation: opinions and people per draft, article, contact point, channel
and kind of submitter, and the adoption rate (DOMAIN.md D).

What the figures mean (the statistics page and ``getDraftStats`` say the same):

- **opinions**: every opinion received, one per submission, merged ones included. Each is
  counted where it came in: its article, its contact point, its channel, its kind of submitter.
- **people**: how many people raised the opinions. An opinion merged into another hands its
  people to the item it was merged into (``people_count`` of that item counts them all), so
  people are summed over the items that are not merged: each merged group counts once, with
  everyone in it. A group's people count at its item's article and source, which keeps every
  breakdown adding up to the draft's total.
- **items**: the opinions not merged into another: what the organizers review, decide and report.
- **reported**: the items with a decision (adopted, partly adopted, not adopted), i.e. the rows
  of the 意见建议汇总表 reported upward with their handling. Items still waiting for a decision
  are **pending** and are not in the rate, so the rate does not fall while review goes on.
- **adoption rate** = (adopted + partly adopted) / reported, over items (a merged group is one
  item however many people raised it); None while nothing is reported.

Speed: three GROUP BY queries, each read from one covering index of ``opinion`` (see
models.py), about 300,000 index entries each for the largest drafts; everything else is
arithmetic on a few hundred rows. The pure functions (``heat_level``, ``roll_up``,
``adoption``) take plain values and need no app.
"""

import math
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from voting.accounts.models import MEETING_ROLES
from voting.consultations import splitter
from voting.consultations.models import (
    Article,
    Channel,
    ContactPoint,
    DraftSection,
    Opinion,
    OpinionStatus,
    SubmitterType,
)
from voting.extensions import db

HEAT_LEVELS = 5

CHANNEL_LABELS = {
    Channel.POSTER: _l("Contact point's QR poster"),
    Channel.LINK: _l("Public link"),
    Channel.DEPUTY: _l("Deputy's phone"),
    Channel.IMPORT: _l("Entered by contact-point staff"),
}
SUBMITTER_LABELS = {
    SubmitterType.RESIDENT: _l("Resident"),
    SubmitterType.DEPUTY: _l("Deputy"),
    SubmitterType.STAFF: _l("Gathered by staff"),
}
ADOPTED = frozenset({OpinionStatus.ADOPTED, OpinionStatus.PARTLY_ADOPTED})


@dataclass
class Count:
    """Opinions received and the people behind them (see the module's definitions)."""

    opinions: int = 0
    people: int = 0

    def add(self, status, opinions, people):
        self.opinions += opinions
        if status != OpinionStatus.MERGED:
            self.people += people or 0

    def __iadd__(self, other):
        self.opinions += other.opinions
        self.people += other.people
        return self


@dataclass
class Adoption:
    adopted: int = 0
    partly_adopted: int = 0
    not_adopted: int = 0
    pending: int = 0  # items still "received"

    @property
    def reported(self):
        return self.adopted + self.partly_adopted + self.not_adopted

    @property
    def rate(self):
        """(adopted + partly adopted) / reported, or None while nothing is reported."""
        return (self.adopted + self.partly_adopted) / self.reported if self.reported else None


@dataclass
class ArticleStat:
    article_id: int
    label: str  # 第十二条
    title: str | None
    section_id: int | None
    count: Count
    level: int = 0  # heat, 0 (none) to HEAT_LEVELS


@dataclass
class SectionGroup:
    """Consecutive articles under one heading, for the heat map."""

    label: str  # 第二章 业主大会, or "" before the first heading
    section_id: int | None = None
    articles: list = field(default_factory=list)


@dataclass
class PointStat:
    point_id: int
    name: str
    kind: str
    depth: int
    active: bool
    own: Count  # opinions attributed to this point itself
    total: Count  # this point and every point below it


@dataclass
class DraftStats:
    draft_id: int
    scope: list | None  # the contact points the figures are limited to, or None for all
    total: Count
    items: int
    merged: int  # opinions merged into another
    adoption: Adoption
    whole_draft: Count  # opinions on the draft as a whole, not on one article
    articles: list  # ArticleStat in draft order
    sections: list  # SectionGroup in draft order
    points: list  # PointStat, parents before children
    unattributed: Count  # no contact point (the public link, a deputy, an unknown poster code)
    channels: list  # (Channel, Count)
    submitters: list  # (SubmitterType, Count)

    @property
    def max_article_opinions(self):
        return max((a.count.opinions for a in self.articles), default=0)

    @property
    def busiest_articles(self):
        """The ten articles with the most opinions, most first."""
        ranked = sorted((a for a in self.articles if a.count.opinions), key=lambda a: -a.count.opinions)
        return ranked[:10]


# -- pure rules ----------------------------------------------------------------------------------


def heat_level(count, maximum, levels=HEAT_LEVELS):
    """Place ``count`` on a scale of 1..levels against the busiest article's ``maximum`` (0 for none).

    The scale is logarithmic: a mass campaign on one article would otherwise paint every other
    article the palest colour, and the map would show nothing but the campaign.
    """
    if count <= 0 or maximum <= 0:
        return 0
    if maximum == 1:
        return levels
    return min(levels, 1 + int((levels - 1) * math.log(count) / math.log(maximum) + 1e-9))


def roll_up(points, own):
    """Return point id -> Count of the point and everything below it.

    ``points`` are (id, parent_id) pairs, parents before children (``list_contact_points`` order);
    ``own`` maps point id -> Count of the opinions attributed to the point itself.
    """
    total = {point_id: Count() for point_id, _ in points}
    parent = dict(points)
    for point_id, _ in reversed(points):  # children before parents
        total[point_id] += own.get(point_id, Count())
        up = parent.get(point_id)
        if up in total:
            total[up] += total[point_id]
    return total


def adoption(items_by_status):
    """Return the Adoption of a draft from status -> number of items."""
    return Adoption(
        adopted=items_by_status.get(OpinionStatus.ADOPTED, 0),
        partly_adopted=items_by_status.get(OpinionStatus.PARTLY_ADOPTED, 0),
        not_adopted=items_by_status.get(OpinionStatus.NOT_ADOPTED, 0),
        pending=items_by_status.get(OpinionStatus.RECEIVED, 0),
    )


def article_label(number, suffix, style="article"):
    """第十二条 (or 十二、 in a 决定), as the draft itself numbers it."""
    return splitter.Article(number, suffix, style=style).label


# -- reading the database ------------------------------------------------------------------------


def _grouped(draft_id, scope, *columns):
    """Count opinions and sum people per ``columns`` and status, from the index that covers them."""
    query = (
        select(*columns, Opinion.status, func.count(), func.sum(Opinion.people_count))
        .where(Opinion.draft_id == draft_id)
        .group_by(*columns, Opinion.status)
    )
    if scope is not None:
        query = query.where(Opinion.contact_point_id.in_(scope))
    return db.session.execute(query).all()


def draft_stats(draft, scope=None):
    """Tally a draft's opinions; ``scope``: contact point ids to limit the figures to (a point's staff).

    A point's staff pass their point and the points below it (``points.subtree``).
    """
    scope = sorted(scope) if scope is not None else None
    total, items_by_status, merged = Count(), {}, 0
    per_article, whole = {}, Count()
    for article_id, status, opinions, people in _grouped(draft.id, scope, Opinion.article_id):
        bucket = whole if article_id is None else per_article.setdefault(article_id, Count())
        bucket.add(status, opinions, people)
        total.add(status, opinions, people)
        if status == OpinionStatus.MERGED:
            merged += opinions
        else:
            items_by_status[status] = items_by_status.get(status, 0) + opinions

    own, unattributed = {}, Count()
    for point_id, status, opinions, people in _grouped(draft.id, scope, Opinion.contact_point_id):
        (unattributed if point_id is None else own.setdefault(point_id, Count())).add(status, opinions, people)

    per_channel, per_submitter = {}, {}
    for channel, submitter, status, opinions, people in _grouped(
        draft.id, scope, Opinion.channel, Opinion.submitter_type
    ):
        per_channel.setdefault(channel, Count()).add(status, opinions, people)
        per_submitter.setdefault(submitter, Count()).add(status, opinions, people)

    articles, sections = _articles(draft, per_article)
    return DraftStats(
        draft_id=draft.id,
        scope=scope,
        total=total,
        items=sum(items_by_status.values()),
        merged=merged,
        adoption=adoption(items_by_status),
        whole_draft=whole,
        articles=articles,
        sections=sections,
        points=_points(own, scope),
        unattributed=unattributed,
        channels=[(channel, per_channel.get(channel, Count())) for channel in Channel],
        submitters=[(kind, per_submitter.get(kind, Count())) for kind in SubmitterType],
    )


def _articles(draft, per_article):
    """The draft's articles in order with their counts and heat, grouped under their headings."""
    rows = db.session.execute(
        select(Article.id, Article.number, Article.suffix, Article.title, Article.section_id)
        .where(Article.draft_id == draft.id)
        .order_by(Article.position)
    ).all()
    headings = {
        s.id: s
        for s in db.session.execute(
            select(DraftSection.id, DraftSection.level, DraftSection.number, DraftSection.title).where(
                DraftSection.draft_id == draft.id
            )
        )
    }
    articles = [
        ArticleStat(row.id, article_label(row.number, row.suffix, draft.style), row.title, row.section_id,
                    per_article.get(row.id, Count()))
        for row in rows
    ]  # fmt: skip
    maximum = max((a.count.opinions for a in articles), default=0)
    sections = []
    for article in articles:
        article.level = heat_level(article.count.opinions, maximum)
        if not sections or sections[-1].section_id != article.section_id:
            heading = headings.get(article.section_id)
            label = ""
            if heading is not None:
                label = " ".join(
                    part for part in (splitter.Heading(heading.level, heading.number, "").label, heading.title) if part
                )
            sections.append(SectionGroup(label, article.section_id))
        sections[-1].articles.append(article)
    return articles, sections


def _points(own, scope):
    """Every contact point (or those in ``scope``) with its own and rolled-up counts, parents first."""
    from voting.consultations.operations import list_contact_points

    points = list_contact_points()
    depth = {}
    for point in points:
        depth[point.id] = depth.get(point.parent_id, -1) + 1
    totals = roll_up([(p.id, p.parent_id) for p in points], own)
    shown = [p for p in points if scope is None or p.id in scope]
    return [PointStat(p.id, p.name, p.kind, depth[p.id], p.active, own.get(p.id, Count()), totals[p.id]) for p in shown]


def scope_for(user):
    """The contact points a user's figures are limited to: a point's staff see their point and those below it.

    Accounts without a point (organizers, administrators, staff not tied to a point) see everything.
    """
    point_id = getattr(user, "contact_point_id", None)
    if point_id is None or user.role in MEETING_ROLES:
        return None
    from voting.consultations.points import subtree

    point = db.session.get(ContactPoint, point_id)
    if point is None:
        return []
    return [p.id for p in subtree(point)]


def as_dict(stats):
    """The figures as plain JSON-ready values (the API's getDraftStats)."""

    def count(c):
        return {"opinions": c.opinions, "people": c.people}

    a = stats.adoption
    return {
        "draft_id": stats.draft_id,
        "scope": stats.scope,
        "opinions": stats.total.opinions,
        "people": stats.total.people,
        "items": stats.items,
        "merged": stats.merged,
        "adoption": {
            "adopted": a.adopted,
            "partly_adopted": a.partly_adopted,
            "not_adopted": a.not_adopted,
            "pending": a.pending,
            "reported": a.reported,
            "rate": None if a.rate is None else round(a.rate, 4),
        },
        "whole_draft": count(stats.whole_draft),
        "articles": [
            {"article_id": x.article_id, "label": x.label, "title": x.title, "heat": x.level, **count(x.count)}
            for x in stats.articles
        ],
        "contact_points": [
            {
                "contact_point_id": p.point_id,
                "name": p.name,
                "kind": p.kind,
                "depth": p.depth,
                "own": count(p.own),
                "total": count(p.total),
            }
            for p in stats.points
        ],  # fmt: skip
        "unattributed": count(stats.unattributed),
        "channels": [{"channel": str(k), **count(c)} for k, c in stats.channels],
        "submitter_types": [{"submitter_type": str(k), **count(c)} for k, c in stats.submitters],
    }
