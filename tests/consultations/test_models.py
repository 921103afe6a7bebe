"""Consultation models: the database's own invariants and the guarded state transitions.

Every refusal here comes from the database (a CHECK, UNIQUE or FOREIGN KEY), so it holds for
any code path, on SQLite and on PostgreSQL alike.
"""

from datetime import timedelta

import pytest
from sqlalchemy import delete, inspect, select, text
from sqlalchemy.exc import IntegrityError

from voting.consultations.models import (
    MAX_OPINION_CHARS,
    Article,
    ContactPoint,
    Draft,
    DraftSection,
    DraftState,
    Opinion,
    OpinionContact,
    OpinionStatus,
)
from voting.errors import Conflict
from voting.extensions import db
from voting.timeutil import utcnow


@pytest.fixture
def draft(app):
    draft = Draft(title="杨浦区物业管理条例（草案）", deadline=utcnow() + timedelta(days=30))
    chapter = DraftSection(draft=draft, level=2, number=1, title="总则", position=0)
    Article(draft=draft, section=chapter, number=1, position=0, paragraphs=["为了规范物业管理活动，制定本条例。"])
    Article(draft=draft, section=chapter, number=1, suffix=1, title="定义", position=1, paragraphs=["甲。", "乙。"])
    db.session.add(draft)
    db.session.commit()
    return draft


@pytest.fixture
def points(app):
    district = ContactPoint(kind="district", name="杨浦区人大常委会基层立法联系点", code="D2345678")
    point = ContactPoint(kind="point", name="殷行街道联系点", code="P2345678", parent=district)
    db.session.add_all([district, point])
    db.session.commit()
    return district, point


def opinion(draft, **fields):
    fields.setdefault("text", "建议明确物业服务企业的公示义务。")
    fields.setdefault("tracking_code", f"T{len(fields['text'])}{fields.get('status', '')[:3]}ABCDEFG"[:10])
    return Opinion(draft=draft, **fields)


def refused(*objects):
    """Adding these objects must be refused by the database; nothing is left behind."""
    db.session.add_all(objects)
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


# -- drafts and their structure --------------------------------------------------------------------


def test_draft_keeps_its_structure_in_order(draft):
    db.session.expire_all()
    loaded = db.session.get(Draft, draft.id)
    assert [(a.number, a.suffix, a.title, a.paragraphs) for a in loaded.articles] == [
        (1, 0, None, ["为了规范物业管理活动，制定本条例。"]),
        (1, 1, "定义", ["甲。", "乙。"]),
    ]
    assert loaded.articles[0].section.title == "总则"
    assert loaded.state == DraftState.DRAFT and loaded.style == "article" and loaded.preamble == []


def test_headings_keep_their_notes_and_drafts_their_trailer(draft):
    assert draft.trailer == [] and draft.sections[0].notes == []  # by default
    draft.sections[0].notes = ["本章规定物业管理的一般要求。"]
    draft.trailer = ["附件：物业服务收费标准", "一、收费项目。"]
    db.session.commit()
    db.session.expire_all()
    loaded = db.session.get(Draft, draft.id)
    assert loaded.sections[0].notes == ["本章规定物业管理的一般要求。"]
    assert loaded.trailer == ["附件：物业服务收费标准", "一、收费项目。"]


def test_migration_0007_gives_stored_drafts_empty_notes_and_trailer(draft):
    from flask_migrate import downgrade, upgrade

    db.session.add(opinion(draft, article=draft.articles[0]))
    db.session.commit()
    draft_id = draft.id
    db.session.remove()
    downgrade(revision="0006")
    assert "trailer" not in {c["name"] for c in inspect(db.engine).get_columns("draft")}
    assert "notes" not in {c["name"] for c in inspect(db.engine).get_columns("draft_section")}
    # The columns go in place: no table is rebuilt, so nothing under the draft goes with it (SQLite's DROP
    # TABLE of a rebuilt draft or draft_section would delete or unlink its articles and opinions).
    counts = text(
        "SELECT (SELECT count(*) FROM draft_section), (SELECT count(*) FROM article WHERE section_id IS NOT NULL),"
        " (SELECT count(*) FROM opinion WHERE article_id IS NOT NULL)"
    )
    assert tuple(db.session.execute(counts).one()) == (1, 2, 1)
    db.session.remove()
    upgrade()
    db.session.remove()
    loaded = db.session.get(Draft, draft_id)
    assert loaded.trailer == [] and [s.notes for s in loaded.sections] == [[]]
    assert tuple(db.session.execute(counts).one()) == (1, 2, 1)
    for table, column in (("draft", "trailer"), ("draft_section", "notes")):
        found = {c["name"]: c for c in inspect(db.engine).get_columns(table)}[column]
        assert found["nullable"] is False, (table, column)
    # A row written without them, by SQL of its own, gets empty lists too.
    db.session.execute(text("INSERT INTO draft_section (draft_id, level, title, position) VALUES (:d, 2, '附则', 1)"),
                       {"d": draft_id})  # fmt: skip
    db.session.commit()
    db.session.expire_all()
    assert [s.notes for s in db.session.get(Draft, draft_id).sections] == [[], []]


def test_draft_moves_forward_only(draft):
    assert Draft(title="新草案").state_enum == DraftState.DRAFT  # before any flush
    with pytest.raises(Conflict) as caught:
        draft.transition(DraftState.CLOSED)
    assert caught.value.code == "invalid_state"
    draft.transition(DraftState.PUBLISHED)
    draft.published_at = utcnow()
    for target in (DraftState.DRAFT, DraftState.PUBLISHED):
        with pytest.raises(Conflict):
            draft.transition(target)
    draft.transition(DraftState.CLOSED)
    draft.closed_at = utcnow()
    db.session.commit()
    with pytest.raises(Conflict):
        draft.transition(DraftState.PUBLISHED)
    assert db.session.get(Draft, draft.id).state == "closed"


def test_accepts_opinions_only_while_published_and_before_the_deadline(draft):
    now = utcnow()
    assert not draft.accepts_opinions(now)
    draft.transition(DraftState.PUBLISHED)
    assert draft.accepts_opinions(now)
    assert not draft.accepts_opinions(draft.deadline)
    assert not draft.accepts_opinions(draft.deadline + timedelta(seconds=1))


@pytest.mark.parametrize(
    "fields",
    [
        {"state": "archived"},
        {"title": ""},
        {"style": "chapter"},
        {"state": "published"},  # without published_at
        {"state": "closed", "published_at": utcnow()},  # without closed_at
        {"closed_at": utcnow()},  # closed_at on an open draft
    ],
    ids=[
        "unknown-state",
        "empty-title",
        "unknown-style",
        "published-without-time",
        "closed-without-time",
        "closed-time-while-open",
    ],  # fmt: skip
)
def test_draft_constraints(app, fields):
    refused(Draft(**{"title": "草案", "deadline": utcnow(), **fields}))


@pytest.mark.parametrize(
    "make",
    [
        lambda d: Article(draft=d, number=0, position=5),
        lambda d: Article(draft=d, number=2, suffix=-1, position=5),
        lambda d: Article(draft=d, number=2, position=0),  # position taken
        lambda d: DraftSection(draft=d, level=4, title="款", position=5),
        lambda d: DraftSection(draft=d, level=2, number=0, title="零", position=5),
        lambda d: DraftSection(draft=d, level=2, title="附则", position=0),  # position taken
    ],
    ids=["article-zero", "negative-suffix", "article-position", "level-4", "chapter-zero", "section-position"],
)
def test_structure_constraints(draft, make):
    refused(make(draft))


# -- contact points --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "district", "parent": "point"},
        {"kind": "point"},  # a point needs a parent
        {"kind": "collection", "parent": "point", "code": "P2345678"},  # code taken
        {"kind": "point", "parent": "district", "name": "殷行街道联系点"},  # sibling with that name
        {"kind": "street", "parent": "point"},
        {"kind": "collection", "parent": "point", "name": ""},
    ],
    ids=["district-with-parent", "point-without-parent", "code-taken", "sibling-name", "unknown-kind", "no-name"],
)
def test_contact_point_constraints(points, fields):
    district, point = points
    fields = {"name": "新采集点", "code": "C9999999", **fields}
    if "parent" in fields:
        fields["parent"] = {"district": district, "point": point}[fields["parent"]]
    refused(ContactPoint(**fields))


def test_contact_point_tree_and_removal_keeps_opinions(draft, points):
    district, point = points
    collection = ContactPoint(kind="collection", name="某小区采集点", code="C2345678", parent=point)
    kept = opinion(draft, contact_point=collection, channel="poster")
    db.session.add_all([collection, kept])
    db.session.commit()
    assert [c.name for c in district.children] == ["殷行街道联系点"]
    assert [c.name for c in point.children] == ["某小区采集点"]
    with pytest.raises(IntegrityError):  # a point with points under it cannot go
        db.session.execute(delete(ContactPoint).where(ContactPoint.id == point.id))
    db.session.rollback()
    db.session.execute(delete(ContactPoint).where(ContactPoint.id == collection.id))
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Opinion, kept.id).contact_point_id is None  # kept, attributed to no point


# -- opinions --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"text": ""},
        {"text": "长" * (MAX_OPINION_CHARS + 1)},
        {"status": "merged"},  # merged into nothing
        {"status": "adopted"},  # handled without a time
        {"status": "received", "handled_at": utcnow()},
        {"status": "pending"},
        {"channel": "wechat"},
        {"submitter_type": "robot"},
        {"people_count": 0},
    ],
    ids=[
        "empty",
        "too-long",
        "merged-into-nothing",
        "handled-without-time",
        "time-without-handling",
        "unknown-status",
        "unknown-channel",
        "unknown-submitter",
        "no-people",
    ],  # fmt: skip
)
def test_opinion_constraints(draft, fields):
    refused(opinion(draft, **fields))


def test_opinion_text_at_the_limit_is_stored(draft):
    db.session.add(opinion(draft, text="长" * MAX_OPINION_CHARS))
    db.session.commit()
    assert db.session.scalar(select(Opinion.text)) == "长" * MAX_OPINION_CHARS


def test_tracking_codes_and_idempotency_keys_are_unique(draft):
    db.session.add(opinion(draft, tracking_code="ABCDEFGHJK", idempotency_key="phone-1"))
    db.session.commit()
    refused(opinion(draft, tracking_code="ABCDEFGHJK"))
    refused(opinion(draft, tracking_code="ABCDEFGHJM", idempotency_key="phone-1"))
    db.session.add(opinion(draft, tracking_code="ABCDEFGHJN"))  # no key: any number of them
    db.session.add(opinion(draft, tracking_code="ABCDEFGHJP"))
    db.session.commit()
    assert db.session.scalar(select(db.func.count()).select_from(Opinion)) == 3


def test_deputy_is_named_only_on_deputies_opinions(draft, make_deputies):
    (deputy,) = make_deputies(1)
    refused(opinion(draft, deputy_id=deputy.id, submitter_type="resident"))
    db.session.add(opinion(draft, deputy_id=deputy.id, submitter_type="deputy", channel="deputy"))
    db.session.commit()


def test_merging_and_handling_are_consistent(draft):
    target = opinion(draft, tracking_code="TARGET0001")
    other = opinion(draft, tracking_code="OTHER00001")
    db.session.add_all([target, other])
    db.session.commit()
    target_id = target.id
    other.transition(OpinionStatus.MERGED)
    other.merged_into_id = target_id  # one UPDATE sets both
    target.people_count = 2
    db.session.commit()
    target.merged_into_id = target.id  # merged into itself
    target.status = OpinionStatus.MERGED
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(IntegrityError):  # the target of a merge cannot be deleted on its own
        db.session.execute(delete(Opinion).where(Opinion.id == target.id))
    db.session.rollback()


def test_opinion_status_transitions(draft):
    item = opinion(draft)
    assert item.status_enum == OpinionStatus.RECEIVED  # before any flush
    with pytest.raises(Conflict):
        item.transition(OpinionStatus.RECEIVED)
    item.transition(OpinionStatus.ADOPTED)
    assert item.status_enum.handled
    item.transition(OpinionStatus.PARTLY_ADOPTED)  # a decision may be revised
    with pytest.raises(Conflict):
        item.transition(OpinionStatus.MERGED)  # a handled opinion is reopened before it is merged
    item.transition(OpinionStatus.RECEIVED)
    item.transition(OpinionStatus.MERGED)
    for target in (OpinionStatus.ADOPTED, OpinionStatus.NOT_ADOPTED, OpinionStatus.MERGED):
        with pytest.raises(Conflict):
            item.transition(target)
    item.transition(OpinionStatus.RECEIVED)  # unmerged


def test_article_with_opinions_cannot_be_deleted(draft):
    db.session.add(opinion(draft, article=draft.articles[0]))
    db.session.commit()
    with pytest.raises(IntegrityError):
        db.session.execute(delete(Article).where(Article.id == draft.articles[0].id))
    db.session.rollback()


def test_contact_details_need_something_and_go_with_their_opinion(draft):
    item = opinion(draft)
    db.session.add(item)
    db.session.commit()
    refused(OpinionContact(opinion_id=item.id))
    item.contact = OpinionContact(name="张三", phone="13812345678")
    db.session.commit()
    assert db.session.get(OpinionContact, item.id).phone == "13812345678"


def test_deleting_a_draft_removes_everything_under_it(draft):
    target = opinion(draft, tracking_code="TARGET0001", article=draft.articles[1])
    db.session.add(target)
    db.session.flush()
    merged = opinion(draft, tracking_code="MERGED0001", status="merged", merged_into_id=target.id)
    merged.contact = OpinionContact(phone="13812345678")
    db.session.add(merged)
    db.session.commit()
    db.session.execute(delete(Draft).where(Draft.id == draft.id))
    db.session.commit()
    for model in (Draft, DraftSection, Article, Opinion, OpinionContact):
        assert db.session.scalar(select(db.func.count()).select_from(model)) == 0, model


def test_statistics_read_covering_indexes(draft):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    queries = {
        "ix_opinion_draft_article": "SELECT article_id, status, count(*), sum(people_count) FROM opinion "
        "WHERE draft_id = 1 GROUP BY article_id, status",
        "ix_opinion_draft_point": "SELECT contact_point_id, count(*), sum(people_count) FROM opinion "
        "WHERE draft_id = 1 GROUP BY contact_point_id",
        "ix_opinion_draft_channel": "SELECT channel, submitter_type, count(*), sum(people_count) FROM opinion "
        "WHERE draft_id = 1 GROUP BY channel, submitter_type",
    }
    for index, query in queries.items():
        plan = " ".join(row[-1] for row in db.session.execute(text("EXPLAIN QUERY PLAN " + query)))
        assert f"USING COVERING INDEX {index}" in plan, plan
