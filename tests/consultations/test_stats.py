"""A draft's tallies: opinions and people per draft, article, contact point, channel and submitter, merged
opinions counted once, the adoption rate, the heat scale, and the covering indexes behind them."""

from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import text

from voting.consultations import operations as ops
from voting.consultations import stats
from voting.consultations.models import Channel, Opinion, OpinionStatus, SubmitterType
from voting.extensions import db

DRAFT = Path(__file__).parent / "drafts" / "01_district_regulation.txt"


def merge(target, *others):
    """Fold ``others`` into ``target`` as the review does: the target carries their people."""
    for other in others:
        other.transition(OpinionStatus.MERGED)
        other.merged_into_id = target.id
        target.people_count += other.people_count


def decide(opinion, status):
    opinion.transition(status)
    opinion.handled_at = opinion.created_at


@pytest.fixture
def consultation(app, organizer, make_deputies):
    """A published draft with seven opinions through every channel; two merged, three decided.

    article 1: o1 (poster, collection point C1), o2 and o3 (C1) merged into o1, adopted;
               o4 (public link), not adopted
    article 2: o5 (poster, point P2), partly adopted; o6 (staff import at P1, five people), pending
    whole draft: o7 (a deputy), pending
    """
    district = ops.create_contact_point(organizer, "区联系点", "district")
    p1 = ops.create_contact_point(organizer, "殷行街道联系点", "point", district)
    c1 = ops.create_contact_point(organizer, "开鲁新村采集点", "collection", p1)
    p2 = ops.create_contact_point(organizer, "五角场街道联系点", "point", district)
    draft, _ = ops.create_draft(organizer, DRAFT.read_text(encoding="utf-8"))
    ops.publish_draft(organizer, draft)
    (deputy,) = make_deputies(1)
    db.session.commit()
    a1, a2, a3 = (a.id for a in draft.articles[:3])

    def submit(text, article=None, **kwargs):
        opinion, _ = ops.submit_opinion(draft, text, article_id=article, **kwargs)
        return opinion

    o1, o2, o3 = (submit(f"建议{i}", a1, point_code=c1.code) for i in range(3))
    o4 = submit("不同意", a1)
    o5 = submit("部分修改", a2, point_code=p2.code)
    o6 = submit("征询会意见", a2, point_code=p1.code, channel=Channel.IMPORT, submitter_type=SubmitterType.STAFF)
    o6.people_count = 5
    o7 = submit("总体赞成", deputy=deputy, submitter_type=SubmitterType.DEPUTY)
    db.session.flush()
    merge(o1, o2, o3)
    decide(o1, OpinionStatus.ADOPTED)
    decide(o4, OpinionStatus.NOT_ADOPTED)
    decide(o5, OpinionStatus.PARTLY_ADOPTED)
    db.session.commit()
    return SimpleNamespace(
        draft=draft,
        district=district,
        p1=p1,
        c1=c1,
        p2=p2,
        articles=(a1, a2, a3),
        opinions=(o1, o2, o3, o4, o5, o6, o7),
    )


def test_draft_totals_count_merged_opinions_once(consultation):
    figures = stats.draft_stats(consultation.draft)
    assert (figures.total.opinions, figures.total.people) == (7, 11)  # o1 carries o2 and o3: 3 + 1 + 1 + 5 + 1
    assert figures.items == 5 and figures.merged == 2


def test_adoption_rate_is_adopted_and_partly_over_reported(consultation):
    a = stats.draft_stats(consultation.draft).adoption
    assert (a.adopted, a.partly_adopted, a.not_adopted, a.pending) == (1, 1, 1, 2)
    assert a.reported == 3
    assert a.rate == pytest.approx(2 / 3)


def test_per_article_and_whole_draft(consultation):
    figures = stats.draft_stats(consultation.draft)
    a1, a2, a3 = consultation.articles
    by_id = {a.article_id: a for a in figures.articles}
    assert [a.article_id for a in figures.articles] == [a.id for a in consultation.draft.articles]
    assert (by_id[a1].count.opinions, by_id[a1].count.people) == (4, 4)
    assert (by_id[a2].count.opinions, by_id[a2].count.people) == (2, 6)
    assert (by_id[a3].count.opinions, by_id[a3].count.people) == (0, 0)
    assert (figures.whole_draft.opinions, figures.whole_draft.people) == (1, 1)
    assert by_id[a1].label == "第一条"
    # The heat map: the busiest article is the darkest, an article without opinions has none.
    assert (by_id[a1].level, by_id[a2].level, by_id[a3].level) == (5, 3, 0)
    assert figures.max_article_opinions == 4
    assert [a.article_id for a in figures.busiest_articles] == [a1, a2]
    # Articles are grouped under their chapters, in the draft's order.
    assert figures.sections[0].label.startswith("第一章")
    assert sum(len(group.articles) for group in figures.sections) == len(figures.articles)


def test_per_contact_point_rolls_up_the_subtree(consultation):
    figures = stats.draft_stats(consultation.draft)
    points = {p.point_id: p for p in figures.points}
    c = consultation
    assert [p.point_id for p in figures.points][:1] == [c.district.id]  # parents first
    assert (points[c.c1.id].own.opinions, points[c.c1.id].own.people) == (3, 3)
    assert (points[c.p1.id].own.opinions, points[c.p1.id].own.people) == (1, 5)
    assert (points[c.p1.id].total.opinions, points[c.p1.id].total.people) == (4, 8)
    assert (points[c.p2.id].total.opinions, points[c.p2.id].total.people) == (1, 1)
    assert (points[c.district.id].own.opinions, points[c.district.id].total.opinions) == (0, 5)
    assert points[c.district.id].total.people == 9
    assert (figures.unattributed.opinions, figures.unattributed.people) == (2, 2)
    assert [points[p].depth for p in (c.district.id, c.p1.id, c.c1.id)] == [0, 1, 2]


def test_per_channel_and_submitter(consultation):
    figures = stats.draft_stats(consultation.draft)
    channels = {k: (v.opinions, v.people) for k, v in figures.channels}
    assert channels == {Channel.POSTER: (4, 4), Channel.LINK: (1, 1), Channel.DEPUTY: (1, 1), Channel.IMPORT: (1, 5)}
    submitters = {k: (v.opinions, v.people) for k, v in figures.submitters}
    assert submitters == {SubmitterType.RESIDENT: (5, 5), SubmitterType.STAFF: (1, 5), SubmitterType.DEPUTY: (1, 1)}
    # Every breakdown adds up to the draft's totals.
    assert sum(v[1] for v in channels.values()) == figures.total.people
    assert sum(v[0] for v in submitters.values()) == figures.total.opinions


def test_a_points_staff_see_their_subtree_only(consultation):
    c = consultation
    staff = SimpleNamespace(role="contact_staff", contact_point_id=c.p1.id)
    scope = stats.scope_for(staff)
    assert sorted(scope) == sorted([c.p1.id, c.c1.id])
    figures = stats.draft_stats(c.draft, scope)
    assert (figures.total.opinions, figures.total.people) == (4, 8)
    assert [p.point_id for p in figures.points] == [c.p1.id, c.c1.id]
    assert figures.unattributed.opinions == 0
    # Organizers, and staff not tied to a point, see everything.
    assert stats.scope_for(SimpleNamespace(role="organizer", contact_point_id=c.p1.id)) is None
    assert stats.scope_for(SimpleNamespace(role="contact_staff")) is None


def test_reopening_a_merge_gives_the_people_back(consultation):
    o1, o2, *_ = consultation.opinions
    o2.transition(OpinionStatus.RECEIVED)
    o2.merged_into_id = None
    o1.people_count -= 1
    db.session.commit()
    figures = stats.draft_stats(consultation.draft)
    assert (figures.total.opinions, figures.total.people, figures.items, figures.merged) == (7, 11, 6, 1)
    assert figures.adoption.pending == 3


def test_an_empty_draft(app, organizer):
    draft, _ = ops.create_draft(organizer, DRAFT.read_text(encoding="utf-8"))
    db.session.commit()
    figures = stats.draft_stats(draft)
    assert (figures.total.opinions, figures.items, figures.adoption.rate) == (0, 0, None)
    assert {a.level for a in figures.articles} == {0}
    assert stats.as_dict(figures)["adoption"]["rate"] is None


def test_as_dict_matches_the_figures(consultation):
    data = stats.as_dict(stats.draft_stats(consultation.draft))
    assert (data["opinions"], data["people"], data["items"], data["merged"]) == (7, 11, 5, 2)
    assert data["adoption"]["rate"] == pytest.approx(0.6667, abs=1e-4)
    assert {c["channel"]: c["opinions"] for c in data["channels"]}["poster"] == 4


@pytest.mark.parametrize(
    ("count", "maximum", "level"),
    [(0, 10, 0), (1, 1, 5), (1, 1000, 1), (1000, 1000, 5), (31, 1000, 2), (999, 1000, 4), (5, 0, 0), (2, 4, 3)],
)
def test_heat_level_is_logarithmic(count, maximum, level):
    assert stats.heat_level(count, maximum) == level


def test_roll_up_sums_children_into_parents():
    own = {2: stats.Count(3, 4), 3: stats.Count(1, 1), 4: stats.Count(2, 2)}
    totals = stats.roll_up([(1, None), (2, 1), (3, 2), (4, 1)], own)
    assert (totals[1].opinions, totals[1].people) == (6, 7)
    assert (totals[2].opinions, totals[3].opinions, totals[4].opinions) == (4, 1, 2)


def test_statistics_read_covering_indexes(consultation):
    """The three GROUP BYs behind the page read only their covering index (SQLite) or use it (PostgreSQL)."""
    from sqlalchemy.dialects import postgresql, sqlite

    from voting.consultations.models import Opinion as O

    draft_id = consultation.draft.id
    queries = {
        "ix_opinion_draft_article": [O.article_id],
        "ix_opinion_draft_point": [O.contact_point_id],
        "ix_opinion_draft_channel": [O.channel, O.submitter_type],
    }
    dialect = db.engine.dialect.name
    for index, columns in queries.items():
        from sqlalchemy import func, select

        query = (
            select(*columns, O.status, func.count(), func.sum(O.people_count))
            .where(O.draft_id == draft_id)
            .group_by(*columns, O.status)
        )
        compiled = query.compile(
            dialect=sqlite.dialect() if dialect == "sqlite" else postgresql.dialect(),
            compile_kwargs={"literal_binds": True},
        )
        if dialect == "sqlite":
            plan = " ".join(row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
            assert f"USING COVERING INDEX {index}" in plan, plan
        else:
            db.session.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table would be scanned
            plan = " ".join(row[0] for row in db.session.execute(text(f"EXPLAIN {compiled}")))
            assert f"Index Only Scan using {index}" in plan, plan
            db.session.rollback()


def test_unknown_opinion_statuses_are_not_people(consultation):
    """A merged opinion's own people_count never adds to the people (the item it joined has them)."""
    o1, o2, *_ = consultation.opinions
    o2.people_count = 50  # whatever it says, it is inside o1 now
    db.session.commit()
    assert stats.draft_stats(consultation.draft).total.people == 11
    assert db.session.get(Opinion, o2.id).status == OpinionStatus.MERGED
