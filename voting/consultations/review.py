"""The organizer's review of opinions: list and filter, merge duplicates, handle, undo.

Operations flush and write every change of an opinion's status to the audit log; they never
commit. Status changes are guarded UPDATEs (``... WHERE status = <expected>``) so that two
organizers working on the same opinions at once get a clear refusal, never a half-made merge.

Merging keeps one level: the opinions merged into a target never have opinions merged into
them. Merging an opinion that others were merged into brings those others along to the new
target. A target's ``people_count`` is its own people plus those of everything merged into it,
so the tallies add up ``people_count`` over the opinions that are not merged; unmerging gives
the people back. Residents whose opinion was merged see the target's handling on the tracking
page (voting.consultations.public_views follows ``merged_into_id``).
"""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import selectinload

from voting.audit.operations import actor_label, record
from voting.consultations import duplicates
from voting.consultations.models import (
    HANDLED,
    Article,
    Channel,
    ContactPoint,
    Draft,
    DraftState,
    Opinion,
    OpinionStatus,
    SubmitterType,
)
from voting.errors import Conflict, Invalid, NotFound
from voting.extensions import db
from voting.timeutil import utcnow

MAX_HANDLING_CHARS = 5000
MAX_SEARCH_CHARS = 100
MAX_PAGE_SIZE = 500
MAX_MERGE_SOURCES = 100_000
GENERAL = "general"  # the article filter's value for opinions on the whole draft
_CHUNK = 500  # ids per IN (...) list

OUTCOMES = {
    "adopted": OpinionStatus.ADOPTED,
    "partly_adopted": OpinionStatus.PARTLY_ADOPTED,
    "not_adopted": OpinionStatus.NOT_ADOPTED,
    "采纳": OpinionStatus.ADOPTED,
    "部分采纳": OpinionStatus.PARTLY_ADOPTED,
    "未采纳": OpinionStatus.NOT_ADOPTED,
}
STATUS_FILTERS = {*(str(s) for s in OpinionStatus), "open", "handled"}
ORDERS = ("oldest", "newest", "people")

CHANNEL_LABELS = {
    Channel.POSTER: _l("Contact-point poster"),
    Channel.LINK: _l("Public link"),
    Channel.DEPUTY: _l("Deputy"),
    Channel.IMPORT: _l("Meeting sheet"),
}
SUBMITTER_LABELS = {
    SubmitterType.RESIDENT: _l("Resident"),
    SubmitterType.DEPUTY: _l("Deputy"),
    SubmitterType.STAFF: _l("Contact-point staff"),
}


def _chunks(values, size=_CHUNK):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def get_opinion(opinion_id):
    """Return the opinion with ``opinion_id`` or raise NotFound."""
    opinion = db.session.get(Opinion, opinion_id) if isinstance(opinion_id, int) else None
    if opinion is None:
        raise NotFound(_l("No such opinion."), code="opinion_not_found")
    return opinion


# -- listing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the organizer narrowed the list to; None leaves a filter out."""

    article: int | str | None = None  # an article id, or GENERAL for the whole-draft opinions
    status: str | None = None  # an OpinionStatus, "open" (received) or "handled"
    point_id: int | None = None  # a contact point and every point below it
    channel: str | None = None
    submitter_type: str | None = None
    search: str | None = None  # part of the text


def point_and_below(point_id):
    """Return the ids of a contact point and of every point below it (the network is small)."""
    children = {}
    for pid, parent in db.session.execute(select(ContactPoint.id, ContactPoint.parent_id)):
        children.setdefault(parent, []).append(pid)
    found, todo = [], [point_id]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _filtered(draft, filters):
    query = select(Opinion).where(Opinion.draft_id == draft.id)
    if filters.article == GENERAL:
        query = query.where(Opinion.article_id.is_(None))
    elif filters.article is not None:
        query = query.where(Opinion.article_id == filters.article)
    if filters.status == "open":
        query = query.where(Opinion.status == OpinionStatus.RECEIVED)
    elif filters.status == "handled":
        query = query.where(Opinion.status.in_(sorted(HANDLED)))
    elif filters.status:
        if filters.status not in STATUS_FILTERS:
            raise Invalid(_l("Unknown status."), code="invalid_status")
        query = query.where(Opinion.status == filters.status)
    if filters.point_id is not None:
        query = query.where(Opinion.contact_point_id.in_(point_and_below(filters.point_id)))
    if filters.channel:
        if filters.channel not in set(Channel):
            raise Invalid(_l("Unknown channel."), code="invalid_channel")
        query = query.where(Opinion.channel == filters.channel)
    if filters.submitter_type:
        if filters.submitter_type not in set(SubmitterType):
            raise Invalid(_l("Unknown kind of submitter."), code="invalid_submitter")
        query = query.where(Opinion.submitter_type == filters.submitter_type)
    search = (filters.search or "").strip()[:MAX_SEARCH_CHARS]
    if search:
        # A typed % or _ is part of the text, not a wildcard; the tracking code finds one opinion.
        query = query.where(or_(Opinion.text.contains(search, autoescape=True),
                                Opinion.tracking_code == search.replace("-", "").upper()))  # fmt: skip
    return query


def list_opinions(draft, filters=Filters(), *, offset=0, limit=50, order="oldest"):
    """Return (opinions, total) of ``draft`` matching ``filters``, a page of them in ``order``.

    ``order`` is "oldest" (as submitted, the default), "newest" or "people" (most people first).
    The opinions come with their contact details and contact point loaded.
    """
    if order not in ORDERS:
        raise Invalid(_l("Unknown order."), code="invalid_order")
    limit = max(1, min(int(limit), MAX_PAGE_SIZE))
    query: Select = _filtered(draft, filters)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    ordering = {
        "oldest": (Opinion.id,),
        "newest": (Opinion.id.desc(),),
        "people": (Opinion.people_count.desc(), Opinion.id),
    }[order]
    page = db.session.scalars(
        query.options(selectinload(Opinion.contact), selectinload(Opinion.contact_point), selectinload(Opinion.article))
        .order_by(*ordering)
        .offset(max(0, int(offset)))
        .limit(limit)
    ).all()
    return page, total


@dataclass(frozen=True)
class ArticleCount:
    article: Article | None  # None: opinions on the whole draft
    opinions: int  # not counting those merged into others
    people: int
    open: int  # still to be handled (received)
    merged: int


def article_counts(draft):
    """Return an ArticleCount for the whole draft and for every article, in the draft's order."""
    rows = db.session.execute(
        select(Opinion.article_id, Opinion.status, func.count(), func.sum(Opinion.people_count))
        .where(Opinion.draft_id == draft.id)
        .group_by(Opinion.article_id, Opinion.status)
    ).all()
    totals = {}
    for article_id, status, count, people in rows:
        t = totals.setdefault(article_id, [0, 0, 0, 0])
        if status == OpinionStatus.MERGED:
            t[3] += count
            continue
        t[0] += count
        t[1] += people or 0
        if status == OpinionStatus.RECEIVED:
            t[2] += count
    articles = db.session.scalars(select(Article).where(Article.draft_id == draft.id).order_by(Article.position))
    return [ArticleCount(article, *totals.get(article.id if article else None, (0, 0, 0, 0)))
            for article in [None, *articles]]  # fmt: skip


# -- merging -------------------------------------------------------------------------------------


def _lock(ids):
    """Lock the rows of ``ids`` in id order (PostgreSQL; SQLite has one writer) and return them by id."""
    rows = {}
    for chunk in _chunks(sorted(ids)):
        for row in db.session.execute(
            select(Opinion.id, Opinion.draft_id, Opinion.status, Opinion.merged_into_id, Opinion.people_count)
            .where(Opinion.id.in_(chunk))
            .order_by(Opinion.id)
            .with_for_update()
        ):
            rows[row.id] = row
    return rows


def _changed_meanwhile():
    return Conflict(
        _l("Someone changed these opinions at the same time. Reload the page and try again."), code="opinion_changed"
    )


def merge_opinions(actor, target, sources):
    """Merge the ``sources`` (opinions or ids) into ``target``; return {"merged", "people"}.

    The sources must belong to the target's draft and still be received; the target may be
    received or already handled (a late duplicate joins the decided item), but not itself
    merged. Opinions merged into a source move to the target with it.
    """
    source_ids = {getattr(s, "id", s) for s in sources}
    if not source_ids:
        raise Invalid(_l("Choose the opinions to merge."), code="nothing_to_merge")
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in source_ids):
        raise Invalid(_l("Opinions are named by their numbers."), code="invalid_opinion")
    if target.id in source_ids:
        raise Invalid(_l("An opinion cannot be merged into itself."), code="merge_into_itself")
    if len(source_ids) > MAX_MERGE_SOURCES:
        raise Invalid(_l("At most %(max)s opinions can be merged at once.", max=MAX_MERGE_SOURCES),
                      code="too_many_sources")  # fmt: skip
    rows = _lock(source_ids | {target.id})
    target_row = rows.get(target.id)
    if target_row is None:
        raise NotFound(_l("No such opinion."), code="opinion_not_found")
    if target_row.status == OpinionStatus.MERGED:
        raise Conflict(
            _l("Opinion %(id)s is itself merged into opinion %(into)s; merge into that one.", id=target.id,
               into=target_row.merged_into_id),
            code="target_merged",
        )  # fmt: skip
    missing = sorted(source_ids - rows.keys())
    if missing:
        raise NotFound(_l("There is no opinion %(id)s.", id=missing[0]), code="opinion_not_found")
    for source_id in sorted(source_ids):
        row = rows[source_id]
        if row.draft_id != target_row.draft_id:
            raise Invalid(_l("Opinion %(id)s belongs to another draft.", id=source_id), code="other_draft")
        if row.status == OpinionStatus.MERGED:
            raise Conflict(
                _l("Opinion %(id)s is already merged into opinion %(into)s. Unmerge it first.", id=source_id,
                   into=row.merged_into_id),
                code="already_merged",
            )  # fmt: skip
        if row.status != OpinionStatus.RECEIVED:
            raise Conflict(
                _l("Opinion %(id)s has already been handled. Reopen it before merging it.", id=source_id),
                code="already_handled",
            )
    # Opinions merged into a source come along: the target gets them directly (one level).
    children = {}
    for chunk in _chunks(source_ids):
        for row in db.session.execute(
            select(Opinion.id, Opinion.merged_into_id, Opinion.people_count)
            .where(Opinion.merged_into_id.in_(chunk), Opinion.status == OpinionStatus.MERGED)
            .order_by(Opinion.id)
            .with_for_update()
        ):
            children.setdefault(row.merged_into_id, []).append(row)
    people = sum(rows[i].people_count for i in source_ids)
    moved = 0
    for chunk in _chunks(source_ids):
        moved += db.session.execute(
            update(Opinion)
            .where(Opinion.merged_into_id.in_(chunk), Opinion.status == OpinionStatus.MERGED)
            .values(merged_into_id=target.id)
            .execution_options(synchronize_session=False)
        ).rowcount
    if moved != sum(len(c) for c in children.values()):
        raise _changed_meanwhile()
    # A source keeps only its own people once those merged into it have moved on.
    own = {i: rows[i].people_count - sum(c.people_count for c in children.get(i, [])) for i in source_ids}
    changed = 0
    plain = [i for i in source_ids if i not in children]
    for chunk in _chunks(plain):
        changed += db.session.execute(
            update(Opinion)
            .where(Opinion.id.in_(chunk), Opinion.status == OpinionStatus.RECEIVED)
            .values(status=OpinionStatus.MERGED, merged_into_id=target.id)
            .execution_options(synchronize_session=False)
        ).rowcount
    for source_id in children:
        changed += db.session.execute(
            update(Opinion)
            .where(Opinion.id == source_id, Opinion.status == OpinionStatus.RECEIVED)
            .values(status=OpinionStatus.MERGED, merged_into_id=target.id, people_count=own[source_id])
            .execution_options(synchronize_session=False)
        ).rowcount
    if changed != len(source_ids):
        raise _changed_meanwhile()
    changed = db.session.execute(
        update(Opinion)
        .where(Opinion.id == target.id, Opinion.status != OpinionStatus.MERGED)
        .values(people_count=Opinion.people_count + people)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise _changed_meanwhile()
    db.session.flush()
    db.session.expire_all()
    record(actor_label(actor), "opinion.merge", "opinion", target.id, draft_id=target_row.draft_id,
           sources=sorted(source_ids), moved=moved, people=people)  # fmt: skip
    return {"merged": len(source_ids), "moved": moved, "people": db.session.get(Opinion, target.id).people_count}


def unmerge_opinion(actor, opinion):
    """Take a merged opinion out of the item it was merged into; it is received again, with its people."""
    if opinion.status != OpinionStatus.MERGED:
        raise Conflict(_l("Opinion %(id)s is not merged into another.", id=opinion.id), code="not_merged")
    target_id, people = opinion.merged_into_id, opinion.people_count
    rows = _lock([opinion.id, target_id])
    if rows.get(opinion.id) is None or rows[opinion.id].merged_into_id != target_id:
        raise _changed_meanwhile()
    changed = db.session.execute(
        update(Opinion)
        .where(Opinion.id == opinion.id, Opinion.status == OpinionStatus.MERGED, Opinion.merged_into_id == target_id)
        .values(status=OpinionStatus.RECEIVED, merged_into_id=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    changed += db.session.execute(
        update(Opinion)
        .where(Opinion.id == target_id, Opinion.people_count > people)
        .values(people_count=Opinion.people_count - people)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 2:
        raise _changed_meanwhile()
    db.session.flush()
    db.session.expire_all()
    record(actor_label(actor), "opinion.unmerge", "opinion", opinion.id, target=target_id, people=people)
    return db.session.get(Opinion, opinion.id)


# -- handling ------------------------------------------------------------------------------------


def _clean_text(value, label):
    value = (value or "").replace("\r\n", "\n").replace("\x00", "").strip()
    if len(value) > MAX_HANDLING_CHARS:
        raise Invalid(_l("%(field)s is longer than %(max)s characters.", field=label, max=MAX_HANDLING_CHARS),
                      code="too_long")  # fmt: skip
    return value or None


def parse_outcome(outcome):
    """Return the OpinionStatus for 采纳/部分采纳/未采纳 (or adopted, partly_adopted, not_adopted)."""
    status = OUTCOMES.get(str(outcome or "").strip())
    if status is None:
        raise Invalid(_l("Choose adopted, partly adopted or not adopted."), code="invalid_outcome")
    return status


def handle_opinion(actor, opinion, outcome, reason=None, reply=None, legal_text=None, now=None):
    """Decide an opinion: 采纳/部分采纳/未采纳 with the reason, the reply to its submitters and legal wording.

    A reason is required unless the opinion is adopted. A decision can be revised; a merged
    opinion is decided through the item it was merged into.
    """
    status = parse_outcome(outcome)
    if opinion.status == OpinionStatus.MERGED:
        raise Conflict(
            _l("Opinion %(id)s is merged into opinion %(into)s; handle that one.", id=opinion.id,
               into=opinion.merged_into_id),
            code="opinion_merged",
        )  # fmt: skip
    reason = _clean_text(reason, _l("The reason"))
    reply = _clean_text(reply, _l("The reply"))
    legal_text = _clean_text(legal_text, _l("The legal wording"))
    if reason is None and status != OpinionStatus.ADOPTED:
        raise Invalid(_l("Give the reason why the opinion is not (fully) adopted."), code="reason_required")
    draft_state = db.session.scalar(select(Draft.state).where(Draft.id == opinion.draft_id))
    if draft_state == DraftState.DRAFT:
        raise Conflict(_l("The draft has not been published."), code="draft_not_published")
    previous = OpinionStatus(opinion.status)
    if previous != status:
        # The model's rules, checked on a stand-in: the change itself is the guarded UPDATE below.
        Opinion(status=previous).transition(status)
    changed = db.session.execute(
        update(Opinion)
        .where(Opinion.id == opinion.id, Opinion.status == previous)
        .values(status=status, reason=reason, reply=reply, legal_text=legal_text, handled_at=now or utcnow(),
                handled_by_id=getattr(actor, "id", None))
        .execution_options(synchronize_session=False)
    ).rowcount  # fmt: skip
    if changed != 1:
        raise _changed_meanwhile()
    db.session.flush()
    db.session.expire(opinion)
    record(actor_label(actor), "opinion.handle", "opinion", opinion.id, outcome=str(status),
           previous=str(previous), reason=reason, reply=reply, legal_text=legal_text)  # fmt: skip
    return opinion


def reopen_opinion(actor, opinion):
    """Undo a decision: the opinion is received again (its texts are kept for the next decision)."""
    if opinion.status not in HANDLED:
        raise Conflict(_l("Opinion %(id)s has not been handled.", id=opinion.id), code="not_handled")
    previous = opinion.status
    changed = db.session.execute(
        update(Opinion)
        .where(Opinion.id == opinion.id, Opinion.status == previous)
        .values(status=OpinionStatus.RECEIVED, handled_at=None, handled_by_id=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise _changed_meanwhile()
    db.session.flush()
    db.session.expire(opinion)
    record(actor_label(actor), "opinion.reopen", "opinion", opinion.id, previous=str(previous))
    return opinion


def merged_into(opinion, limit=200):
    """Return (opinions merged into ``opinion``, how many there are), the first ``limit`` of them by id."""
    query = select(Opinion).where(Opinion.merged_into_id == opinion.id, Opinion.status == OpinionStatus.MERGED)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    return db.session.scalars(query.order_by(Opinion.id).limit(limit)).all(), total


# -- duplicates ----------------------------------------------------------------------------------


@dataclass
class Suggestions:
    groups: list  # duplicates.Group, largest first
    opinions: dict  # id -> Opinion, for the members shown (see ``suggest_duplicates``)
    compared: int  # opinions looked at


def suggest_duplicates(draft, article=None, threshold=duplicates.DEFAULT_THRESHOLD, limit=None, members_shown=None):
    """Suggest groups of duplicate opinions of ``draft`` (one article, GENERAL, or all when None).

    Opinions already merged are left out; handled ones take part and become their group's
    representative. The first ``limit`` groups are returned, and for each the opinions of its
    first ``members_shown`` members (None: all) are loaded for display.
    """
    if not isinstance(threshold, int | float) or not 50 <= threshold <= 100:
        raise Invalid(_l("The similarity threshold must be between 50 and 100."), code="invalid_threshold")
    query = select(Opinion.id, Opinion.article_id, Opinion.text, Opinion.people_count, Opinion.status).where(
        Opinion.draft_id == draft.id, Opinion.status != OpinionStatus.MERGED
    )
    if article == GENERAL:
        query = query.where(Opinion.article_id.is_(None))
    elif article is not None:
        query = query.where(Opinion.article_id == article)
    items = [
        duplicates.Item(id=row.id, text=row.text, article=row.article_id, people=row.people_count,
                        preferred=row.status in HANDLED)
        for row in db.session.execute(query.execution_options(yield_per=20_000))
    ]  # fmt: skip
    groups = duplicates.suggest(items, threshold=threshold)
    if limit is not None:
        groups = groups[:limit]
    wanted = [m.id for g in groups for m in (g.members if members_shown is None else g.members[:members_shown])]
    opinions = {}
    for chunk in _chunks(wanted):
        for opinion in db.session.scalars(
            select(Opinion).where(Opinion.id.in_(chunk)).options(selectinload(Opinion.contact_point))
        ):
            opinions[opinion.id] = opinion
    return Suggestions(groups=groups, opinions=opinions, compared=len(items))


def group_sources(group):
    """The ids a "merge this group" action sends: every member but the representative and those handled."""
    return [m.id for m in group.members if m.id != group.representative and not m.handled]
