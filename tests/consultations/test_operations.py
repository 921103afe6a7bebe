"""Consultation operations: drafts from text and uploads, correcting the split, publishing,
the contact-point network and submitting opinions, with every refusal it promises."""

import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from voting.audit.models import AuditEntry
from voting.consultations import operations as ops
from voting.consultations.models import (
    MAX_OPINION_CHARS,
    Article,
    ContactPoint,
    DraftState,
    Opinion,
    OpinionContact,
    format_tracking_code,
)
from voting.errors import Conflict, Invalid, NotFound
from voting.extensions import db
from voting.timeutil import utcnow

DRAFTS = Path(__file__).parent / "drafts"
# A chapter's opening sentence between 第二章 and 第二条, and an attachment after the last article. (An
# opening sentence under 第一章, before any article, is read as the preamble.)
NOTED = """某某区物业管理规定
第一章 总则
第一条 为了规范物业管理，制定本规定。
第二章 物业服务
本章规定物业服务的一般要求。
第二条 物业服务企业应当公示收费标准。
第三条 本规定自2025年1月1日起施行。
附件：物业服务收费标准
一、收费项目。
"""
NOTE = "本章规定物业服务的一般要求。"
TRAILER = ["附件：物业服务收费标准", "一、收费项目。"]


def draft_text(name):
    return (DRAFTS / name).read_text(encoding="utf-8")


def actions():
    """The audit log's actions after the fixtures' own (creating the organizer)."""
    logged = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    return [action for action in logged if not action.startswith("user.")]


def refused(error, code, call, *args, **kwargs):
    with pytest.raises(error) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value.message
    return caught.value


@pytest.fixture
def published(app, organizer):
    """A published draft (01_district_regulation.txt) open for 30 days."""
    draft, _ = ops.create_draft(organizer, draft_text("01_district_regulation.txt"))
    ops.publish_draft(organizer, draft)
    db.session.commit()
    return draft


@pytest.fixture
def network(app, organizer):
    district = ops.create_contact_point(organizer, "杨浦区人大常委会基层立法联系点", "district")
    point = ops.create_contact_point(organizer, "殷行街道基层立法联系点", "point", district, address="殷行路1号")
    collection = ops.create_contact_point(organizer, "开鲁新村采集点", "collection", point)
    db.session.commit()
    return district, point, collection


# -- drafts ----------------------------------------------------------------------------------------


def test_create_draft_splits_and_stores_the_structure(app, organizer):
    now = utcnow()
    draft, warnings = ops.create_draft(
        organizer, draft_text("01_district_regulation.txt"), explanation=" 起草说明 ", now=now
    )
    db.session.commit()
    db.session.expire_all()
    assert warnings == []
    assert draft.title == "上海市杨浦区住宅小区物业管理若干规定（草案征求意见稿）"
    assert draft.explanation == "起草说明" and draft.state == DraftState.DRAFT
    assert draft.deadline == now + timedelta(days=30)
    assert draft.preamble == ["（2024年9月10日杨浦区人民代表大会常务委员会主任会议讨论通过，向社会公开征求意见）"]
    assert [s.title for s in draft.sections] == ["总则", "业主、业主大会和业主委员会", "物业服务", "法律责任", "附则"]
    assert [a.number for a in draft.articles] == list(range(1, 14))
    assert draft.articles[8].paragraphs[1] == "违反前款规定的，由区房屋管理部门责令改正，给予警告。"
    assert draft.articles[12].section.title == "附则"
    assert draft.source_text == draft_text("01_district_regulation.txt")
    assert actions() == ["draft.create"]


def test_create_draft_keeps_parts_chapters_and_sections_as_a_tree(app, organizer):
    draft, _ = ops.create_draft(organizer, draft_text("08_over_one_hundred_articles.txt"))
    db.session.commit()
    sections = {s.title: s for s in draft.sections}
    assert sections["饮用水水源保护"].parent.title == "水污染防治"
    assert sections["水污染防治"].parent.title == "污染防治"
    assert sections["污染防治"].parent is None
    assert len(draft.articles) == 210


def test_explicit_title_and_deadline_win(app, organizer):
    deadline = datetime(2099, 1, 31, 16, 0, tzinfo=UTC)
    draft, _ = ops.create_draft(organizer, "第一条 施行。", title="  某某 规定 ", deadline=deadline)
    assert draft.title == "某某 规定" and draft.deadline == datetime(2099, 1, 31, 16, 0)


@pytest.mark.parametrize(
    "text, kwargs, code",
    [
        ("", {}, "empty_draft"),
        (" \n\u3000\n ", {}, "empty_draft"),
        ("第一条" + "长" * ops.MAX_SOURCE_CHARS, {}, "draft_too_long"),
        ("第一条 施行。", {}, "invalid_title"),  # no title line, none given
        ("第一条 施行。", {"title": "题" * 201}, "invalid_title"),
        ("第一条 施行。", {"title": "某规定", "deadline": utcnow() - timedelta(minutes=1)}, "invalid_deadline"),
        ("第一条 施行。", {"title": "某规定", "deadline": "2099-01-01"}, "invalid_deadline"),
        ("第一条 施行。", {"title": "某规定", "explanation": "说" * 20_001}, "invalid_explanation"),
    ],
    ids=["empty", "whitespace", "too-long", "no-title", "long-title", "past-deadline", "deadline-text", "long-expl"],
)
def test_create_draft_refuses_bad_input_and_changes_nothing(app, organizer, text, kwargs, code):
    refused(Invalid, code, ops.create_draft, organizer, text, **kwargs)
    db.session.rollback()
    assert actions() == []


def test_draft_without_articles_is_kept_for_correction_but_cannot_be_published(app, organizer):
    draft, warnings = ops.create_draft(organizer, "某某规定\n这是一段没有条文的文字。")
    assert [w.code for w in warnings] == ["no_articles"]
    refused(Invalid, "no_articles", ops.publish_draft, organizer, draft)


def _docx(lines):
    buffer = io.BytesIO()
    body = "".join(f"<w:p><w:r><w:t>{line}</w:t></w:r></w:p>" for line in lines)
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "word/document.xml",
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            f"<w:body>{body}</w:body></w:document>",
        )
    return buffer.getvalue()


def test_create_draft_from_uploads(app, organizer):
    text = ops.read_upload("草案.docx", _docx(["某某规定（草案）", "第一条 为了规范。", "第二条 施行。"]))
    draft, _ = ops.create_draft(organizer, text)
    assert (draft.title, [a.paragraphs for a in draft.articles]) == ("某某规定（草案）", [["为了规范。"], ["施行。"]])
    gbk = ops.read_upload("草案.txt", "某某办法\n第一条 为了规范。".encode("gbk"))
    assert gbk == "某某办法\n第一条 为了规范。"


@pytest.mark.parametrize(
    "filename, data, code",
    [
        ("草案.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), "document_old_word"),
        ("草案.pdf", b"%PDF-1.4", "document_unsupported_type"),
        ("草案.docx", b"PK\x03\x04 broken", "document_not_docx"),
    ],
)
def test_unreadable_uploads_get_a_clear_message(app, filename, data, code):
    error = refused(Invalid, code, ops.read_upload, filename, data)
    assert str(error.message)  # a sentence, not a code


def test_the_organizer_corrects_the_split_before_publishing(app, organizer):
    draft, warnings = ops.create_draft(organizer, draft_text("14_numbering_problems.txt"))
    assert "duplicate 第4条" in [w.message for w in warnings]
    refused(Invalid, "duplicate_article", ops.publish_draft, organizer, draft)
    corrected = ops.structure_of(draft).to_dict()
    corrected["headings"][1]["number"] = 2  # 第三章 was a typo for 第二章
    articles = corrected["articles"]
    articles[2]["number"], articles[3]["number"], articles[4]["number"] = 3, 4, 5  # 第四条 twice, then 第三条
    articles[4]["heading"] = 1
    articles[5]["number"] = 6
    articles[6]["paragraphs"] = ["河道蓝线由区水务部门会同区规划资源部门划定。"]
    articles[7]["suffix"] = 1
    warnings = ops.update_draft(organizer, draft, structure=corrected)
    assert [w.message for w in warnings] == []
    db.session.commit()
    db.session.expire_all()
    assert [(a.number, a.suffix) for a in draft.articles] == [(1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0), (7, 0),
                                                               (7, 1), (8, 0)]  # fmt: skip
    assert draft.articles[4].section.title == "河道保护"
    ops.publish_draft(organizer, draft)
    assert actions() == ["draft.create", "draft.update", "draft.publish"]


def test_update_with_new_text_splits_again(app, organizer):
    draft, _ = ops.create_draft(organizer, "某规定\n第一条 甲。")
    warnings = ops.update_draft(organizer, draft, text="某规定\n第一条 甲。\n第三条 丙。")
    assert [w.message for w in warnings] == ["第2条 missing"]
    assert [a.number for a in draft.articles] == [1, 3] and draft.source_text.endswith("丙。")


def test_heading_notes_and_the_trailer_are_stored_and_survive_a_correction(app, organizer):
    draft, warnings = ops.create_draft(organizer, NOTED)
    assert [w.code for w in warnings] == ["stray_text", "trailer"]
    db.session.commit()
    db.session.expire_all()
    assert [s.notes for s in draft.sections] == [[], [NOTE]]
    assert draft.trailer == TRAILER
    structure = ops.structure_of(draft)
    assert [h.notes for h in structure.headings] == [[], [NOTE]] and structure.trailer == TRAILER

    corrected = structure.to_dict()
    corrected["articles"][1]["title"] = "收费公示"
    ops.update_draft(organizer, draft, structure=corrected)
    db.session.commit()
    db.session.expire_all()
    assert draft.articles[1].title == "收费公示"
    assert ops.structure_of(draft).to_dict() == corrected  # notes and trailer included

    # A new text brings its own: here a changed note and no attachment.
    ops.update_draft(organizer, draft, text=NOTED.replace("本章规定", "本章明确").partition("附件")[0])
    db.session.commit()
    db.session.expire_all()
    assert [s.notes for s in draft.sections] == [[], ["本章明确物业服务的一般要求。"]] and draft.trailer == []


def test_corrected_notes_and_trailer_are_stripped_and_empty_ones_dropped(app, organizer):
    draft, _ = ops.create_draft(organizer, "某规定\n第一条 甲。")
    structure = {
        "headings": [{"level": 2, "number": 1, "title": "总则", "notes": [" 本章说明。 ", "  "]}],
        "articles": [{"number": 1, "paragraphs": ["甲。"], "heading": 0}],
        "trailer": ["", " 附件：表格 "],
    }
    ops.update_draft(organizer, draft, structure=structure)
    db.session.commit()
    db.session.expire_all()
    assert draft.sections[0].notes == ["本章说明。"] and draft.trailer == ["附件：表格"]
    ops.update_draft(organizer, draft, structure={"headings": [{"level": 2, "title": "总则"}], "articles": []})
    assert draft.sections[0].notes == [] and draft.trailer == []  # left out: none


@pytest.mark.parametrize(
    "structure",
    [
        "not a dict",
        {"articles": "第一条"},
        {"headings": [{"level": 4, "title": "款"}]},
        {"headings": [{"level": 2, "title": "章", "parent": 0}]},  # its own parent
        {"headings": [{"level": 3, "title": "节"}, {"level": 2, "title": "章", "parent": 0}]},  # under a lower level
        {"articles": [{"number": 1, "paragraphs": ["甲。"], "heading": 0}]},  # no such heading
        {"articles": [{"number": 0, "paragraphs": ["甲。"]}]},
        {"articles": [{"number": True, "paragraphs": ["甲。"]}]},
        {"articles": [{"number": "一", "paragraphs": ["甲。"]}]},
        {"articles": [{"number": 1, "suffix": -1, "paragraphs": ["甲。"]}]},
        {"articles": [{"number": 1, "paragraphs": "甲。"}]},
        {"articles": [{"number": 1, "paragraphs": [1]}]},
        {"articles": [{"number": 1, "paragraphs": ["长" * (ops.MAX_PARAGRAPH_CHARS + 1)]}]},
        {"headings": [{"level": 2, "title": "章", "notes": "本章说明。"}]},
        {"headings": [{"level": 2, "title": "章", "notes": [None]}]},
        {"headings": [{"level": 2, "title": "章", "notes": ["长" * (ops.MAX_PARAGRAPH_CHARS + 1)]}]},
        {"trailer": "附件"},
        {"trailer": [["附件"]]},
        {"trailer": ["长" * (ops.MAX_PARAGRAPH_CHARS + 1)]},
    ],
)
def test_corrected_structure_is_validated(app, organizer, structure):
    draft, _ = ops.create_draft(organizer, "某规定\n第一条 甲。")
    refused(Invalid, "invalid_structure", ops.update_draft, organizer, draft, structure=structure)


def test_published_draft_text_is_frozen_but_its_deadline_can_move(app, organizer, published):
    refused(Conflict, "draft_published", ops.update_draft, organizer, published, text="第一条 甲。")
    refused(Conflict, "draft_published", ops.update_draft, organizer, published, structure={"articles": []})
    refused(Conflict, "draft_published", ops.update_draft, organizer, published, title="新标题")
    later = published.deadline + timedelta(days=7)
    ops.update_draft(organizer, published, deadline=later)
    assert published.deadline == later
    refused(Invalid, "invalid_deadline", ops.update_draft, organizer, published, deadline=utcnow() - timedelta(days=1))


def test_publish_checks_and_guards(app, organizer):
    draft, _ = ops.create_draft(organizer, "某规定\n第一条【目的】\n第二条 施行。")
    refused(Invalid, "empty_article", ops.publish_draft, organizer, draft)
    ops.update_draft(organizer, draft, text="某规定\n第一条 甲。\n第二条 施行。")
    refused(Invalid, "invalid_deadline", ops.publish_draft, organizer, draft, now=draft.deadline)
    ops.publish_draft(organizer, draft)
    assert draft.state == DraftState.PUBLISHED and draft.published_at is not None
    refused(Conflict, "draft_published", ops.publish_draft, organizer, draft)
    ops.close_draft(organizer, draft)
    refused(Conflict, "invalid_state", ops.close_draft, organizer, draft)
    db.session.commit()
    assert actions()[-2:] == ["draft.publish", "draft.close"]


# -- contact points --------------------------------------------------------------------------------


def test_contact_point_network(network):
    district, point, collection = network
    assert [p.name for p in ops.list_contact_points()] == [district.name, point.name, collection.name]
    assert point.parent_id == district.id and collection.parent_id == point.id and point.address == "殷行路1号"
    codes = {p.code for p in network}
    assert len(codes) == 3 and all(len(c) == 8 and set(c) <= set(ops.CODE_ALPHABET) for c in codes)
    assert actions() == ["contact_point.create"] * 3


@pytest.mark.parametrize(
    "name, kind, parent, code",
    [
        ("新联系点", "street", None, "invalid_kind"),
        ("", "point", "district", "invalid_name"),
        ("新联系点", "point", None, "invalid_parent"),
        ("新联系点", "point", "point", "invalid_parent"),
        ("新采集点", "collection", "district", "invalid_parent"),
        ("第二个区级联系点", "district", "district", "invalid_parent"),
    ],
)
def test_contact_point_rules(organizer, network, name, kind, parent, code):
    district, point, _ = network
    parent = {"district": district, "point": point, None: None}[parent]
    refused(Invalid, code, ops.create_contact_point, organizer, name, kind, parent)


def test_sibling_names_are_unique_and_the_session_survives(organizer, network):
    district, point, _ = network
    refused(Conflict, "duplicate_point", ops.create_contact_point, organizer, "开鲁新村采集点", "collection", point)
    elsewhere = ops.create_contact_point(organizer, "长白街道联系点", "point", district)
    other = ops.create_contact_point(organizer, "开鲁新村采集点", "collection", elsewhere)
    db.session.commit()
    assert other.id is not None and db.session.scalar(select(func.count()).select_from(ContactPoint)) == 5


# -- opinions --------------------------------------------------------------------------------------


def test_submit_an_opinion_on_an_article(published):
    article = published.articles[2]
    opinion, repeated = ops.submit_opinion(
        published, "  建议增加业主委员会的公示义务。\r\n第二行  ", article_id=article.id
    )
    db.session.commit()
    assert not repeated
    assert (opinion.text, opinion.article_id, opinion.status, opinion.channel, opinion.submitter_type) == (
        "建议增加业主委员会的公示义务。\n第二行", article.id, "received", "link", "resident",
    )  # fmt: skip
    assert len(opinion.tracking_code) == 10 and set(opinion.tracking_code) <= set(ops.CODE_ALPHABET)
    assert opinion.contact is None and opinion.people_count == 1
    found = ops.get_opinion_by_tracking_code(format_tracking_code(opinion.tracking_code).lower())
    assert found.id == opinion.id
    assert actions() == ["draft.create", "draft.publish"]  # a resident's submission is not an organizer action


def test_opinion_on_the_whole_draft(published):
    opinion, _ = ops.submit_opinion(published, "总体赞成。")
    assert opinion.article_id is None


def test_poster_codes_attribute_opinions_and_unknown_codes_keep_them(published, network):
    _, point, collection = network
    typed = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in collection.code.lower())  # full-width
    by_poster, _ = ops.submit_opinion(published, "意见一。", point_code=typed)
    forged, _ = ops.submit_opinion(published, "意见二。", point_code="FORGED99")
    point.active = False
    retired, _ = ops.submit_opinion(published, "意见三。", point_code=point.code)
    db.session.commit()
    assert (by_poster.contact_point_id, by_poster.channel) == (collection.id, "poster")
    assert (forged.contact_point_id, forged.channel) == (None, "poster")  # kept, attributed to no point
    assert retired.contact_point_id is None
    assert db.session.scalar(select(func.count()).select_from(Opinion)) == 3


@pytest.mark.parametrize(
    "text, code",
    [
        ("", "opinion_empty"),
        ("   \n\u3000 \t", "opinion_empty"),
        (None, "opinion_empty"),
        ("长" * (MAX_OPINION_CHARS + 1), "opinion_too_long"),
        ("长" * 100_000, "opinion_too_long"),
    ],
    ids=["empty", "whitespace", "none", "one-too-many", "100k"],
)
def test_bad_opinions_are_refused_with_clear_messages(published, text, code):
    error = refused(Invalid, code, ops.submit_opinion, published, text)
    if code == "opinion_too_long":
        assert str(MAX_OPINION_CHARS) in str(error.message)
    assert db.session.scalar(select(func.count()).select_from(Opinion)) == 0


def test_opinion_at_the_length_limit_and_html_are_stored_as_written(published):
    longest, _ = ops.submit_opinion(published, "长" * MAX_OPINION_CHARS)
    html, _ = ops.submit_opinion(published, "<script>alert(1)</script> =1+1")
    db.session.commit()
    assert len(longest.text) == MAX_OPINION_CHARS
    assert html.text == "<script>alert(1)</script> =1+1"  # escaping is the pages' and exports' job


def test_opinions_need_an_article_of_this_draft(app, organizer, published):
    other, _ = ops.create_draft(organizer, "另一规定\n第一条 甲。")
    db.session.flush()
    for article_id in (other.articles[0].id, 999_999, "1", -1):
        refused(NotFound, "article_not_found", ops.submit_opinion, published, "意见。", article_id=article_id)


def test_opinions_only_while_the_draft_is_open(app, organizer, published):
    preparing, _ = ops.create_draft(organizer, "另一规定\n第一条 甲。")
    refused(NotFound, "draft_not_found", ops.submit_opinion, preparing, "意见。")
    refused(Conflict, "draft_closed", ops.submit_opinion, published, "意见。", now=published.deadline)
    ops.close_draft(organizer, published)
    refused(Conflict, "draft_closed", ops.submit_opinion, published, "意见。")


def test_contact_details_are_optional_and_kept_apart(published):
    with_phone, _ = ops.submit_opinion(published, "意见。", contact_name=" 张 三 ", contact_phone="138-1234 5678")
    name_only, _ = ops.submit_opinion(published, "意见。", contact_name="李四")
    db.session.commit()
    assert (with_phone.contact.name, with_phone.contact.phone) == ("张 三", "13812345678")
    assert (name_only.contact.name, name_only.contact.phone) == ("李四", None)
    assert db.session.scalar(select(func.count()).select_from(OpinionContact)) == 2
    for phone in ("12", "138abc45678", "1" * 21):
        refused(Invalid, "invalid_phone", ops.submit_opinion, published, "意见。", contact_phone=phone)
    refused(Invalid, "invalid_name", ops.submit_opinion, published, "意见。", contact_name="名" * 101)


def test_a_repeated_submission_returns_the_first(published):
    first, repeated = ops.submit_opinion(published, "意见。", idempotency_key="tap-1")
    db.session.commit()
    assert not repeated
    again, repeated = ops.submit_opinion(published, "意见。", idempotency_key="tap-1")
    db.session.commit()
    assert repeated and again.tracking_code == first.tracking_code
    assert db.session.scalar(select(func.count()).select_from(Opinion)) == 1
    refused(Invalid, "invalid_key", ops.submit_opinion, published, "意见。", idempotency_key="键")


def test_deputies_submit_as_deputies(published, make_deputies):
    (deputy,) = make_deputies(1)
    opinion, _ = ops.submit_opinion(published, "代表意见。", submitter_type="deputy", deputy=deputy)
    assert (opinion.submitter_type, opinion.channel, opinion.deputy_id) == ("deputy", "deputy", deputy.id)
    refused(Invalid, "invalid_submitter", ops.submit_opinion, published, "意见。", submitter_type="deputy")
    refused(Invalid, "invalid_submitter", ops.submit_opinion, published, "意见。", submitter_type="robot")
    refused(Invalid, "invalid_channel", ops.submit_opinion, published, "意见。", channel="wechat")


@pytest.mark.parametrize("code", ["", "ABC", "ZZZZZ-ZZZZZ", "<script>", "0" * 200])
def test_unknown_tracking_codes(published, code):
    ops.submit_opinion(published, "意见。")
    refused(NotFound, "opinion_not_found", ops.get_opinion_by_tracking_code, code)


def test_articles_with_opinions_survive_as_they_were(published):
    opinion, _ = ops.submit_opinion(published, "意见。", article_id=published.articles[0].id)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Article, opinion.article_id).number == 1
