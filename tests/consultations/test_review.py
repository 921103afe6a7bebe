"""Review operations: list and filter, merge and unmerge, handle and reopen, duplicate suggestions,
the staff import of meeting sheets, and the staff account's contact point (migration 0005)."""

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select

from voting.audit.models import AuditEntry
from voting.audit.operations import verify
from voting.consultations import imports, review
from voting.consultations import operations as ops
from voting.consultations.models import (
    Channel,
    Opinion,
    OpinionContact,
    OpinionStatus,
    SubmitterType,
    format_tracking_code,
)
from voting.errors import Conflict, Forbidden, Invalid, NotFound
from voting.extensions import db

DRAFTS = Path(__file__).parent / "drafts"


def refused(error, code, call, *args, **kwargs):
    with pytest.raises(error) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value.message
    db.session.rollback()
    return caught.value


def actions():
    logged = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    return [a for a in logged if a.startswith("opinion.")]


def snapshot():
    """Every opinion's reviewable state, to prove a refusal changed nothing."""
    db.session.expire_all()
    return db.session.execute(
        select(Opinion.id, Opinion.status, Opinion.merged_into_id, Opinion.people_count, Opinion.reply)
        .order_by(Opinion.id)
    ).all()  # fmt: skip


@pytest.fixture
def draft(app, organizer):
    draft, _ = ops.create_draft(organizer, (DRAFTS / "01_district_regulation.txt").read_text(encoding="utf-8"))
    ops.publish_draft(organizer, draft)
    db.session.commit()
    return draft


@pytest.fixture
def network(app, organizer):
    district = ops.create_contact_point(organizer, "杨浦区人大常委会基层立法联系点", "district")
    point = ops.create_contact_point(organizer, "殷行街道基层立法联系点", "point", district)
    collection = ops.create_contact_point(organizer, "开鲁新村采集点", "collection", point)
    other = ops.create_contact_point(organizer, "五角场街道基层立法联系点", "point", district)
    db.session.commit()
    return district, point, collection, other


@pytest.fixture
def submit(draft):
    """Send an opinion as a resident: submit(text, article=number or None, point=None, **kwargs) -> Opinion."""

    def send(text, article=None, point=None, **kwargs):
        article_id = next(a.id for a in draft.articles if a.number == article) if article else None
        opinion, _ = ops.submit_opinion(draft, text, article_id=article_id,
                                        point_code=point.code if point else None, **kwargs)  # fmt: skip
        db.session.commit()
        return opinion

    return send


# -- listing ---------------------------------------------------------------------------------------


def test_filters_narrow_the_list(draft, network, submit, organizer, make_deputies):
    district, point, collection, other = network
    a = submit("建议增加电动自行车充电设施。", 3, collection)
    b = submit("物业费应当公示，100%透明。", 3, other)
    c = submit("同意。", None)
    deputy = make_deputies(1)[0]
    d = submit("建议明确业主委员会的职责。", 5, submitter_type=SubmitterType.DEPUTY, deputy=deputy)
    review.handle_opinion(organizer, b, "采纳")
    db.session.commit()
    article3 = next(x.id for x in draft.articles if x.number == 3)

    def ids(**filters):
        rows, total = review.list_opinions(draft, review.Filters(**filters))
        assert total == len(rows)
        return [o.id for o in rows]

    assert ids() == [a.id, b.id, c.id, d.id]
    assert ids(article=article3) == [a.id, b.id]
    assert ids(article=review.GENERAL) == [c.id]
    assert ids(status="open") == [a.id, c.id, d.id]
    assert ids(status="handled") == [b.id]
    assert ids(status="adopted") == [b.id]
    assert ids(point_id=point.id) == [a.id]  # the collection point below it counts
    assert ids(point_id=district.id) == [a.id, b.id]
    assert ids(channel=Channel.POSTER) == [a.id, b.id]
    assert ids(submitter_type=SubmitterType.DEPUTY) == [d.id]
    assert ids(search="100%") == [b.id]  # % is a character, not a wildcard
    assert ids(search="%") == [b.id]
    assert ids(search=format_tracking_code(c.tracking_code)) == [c.id]


def test_pages_and_orders(draft, submit, organizer):
    made = [submit(f"第{i}条意见：建议修改。", None) for i in range(1, 8)]
    review.merge_opinions(organizer, made[3], [made[5]])
    db.session.commit()
    rows, total = review.list_opinions(draft, offset=2, limit=2)
    assert total == 7 and [o.id for o in rows] == [made[2].id, made[3].id]
    rows, _ = review.list_opinions(draft, limit=2, order="newest")
    assert [o.id for o in rows] == [made[6].id, made[5].id]
    rows, _ = review.list_opinions(draft, limit=1, order="people")
    assert rows[0].id == made[3].id and rows[0].people_count == 2


@pytest.mark.parametrize(("filters", "code"), [({"status": "lost"}, "invalid_status"),
                                                 ({"channel": "fax"}, "invalid_channel"),
                                                 ({"submitter_type": "robot"}, "invalid_submitter")])  # fmt: skip
def test_unknown_filter_values_are_refused(draft, filters, code):
    refused(Invalid, code, review.list_opinions, draft, review.Filters(**filters))


def test_article_counts_leave_merged_opinions_out_and_add_people(draft, submit, organizer):
    a, b, _ = submit("甲意见", 2), submit("乙意见", 2), submit("丙意见", None)
    review.merge_opinions(organizer, a, [b])
    db.session.commit()
    counts = {(x.article.number if x.article else None): x for x in review.article_counts(draft)}
    assert len(counts) == len(draft.articles) + 1
    assert (counts[2].opinions, counts[2].people, counts[2].open, counts[2].merged) == (1, 2, 1, 1)
    assert (counts[None].opinions, counts[None].people) == (1, 1)
    assert counts[1].opinions == 0


# -- merging ----------------------------------------------------------------------------------------


def test_merge_adds_up_people_and_remembers_the_target(draft, submit, organizer):
    target, s1, s2 = submit("建议增加充电桩", 3), submit("建议增加充电桩！", 3), submit("增加充电桩吧", 3)
    result = review.merge_opinions(organizer, target, [s1, s2.id])
    db.session.commit()
    assert result == {"merged": 2, "moved": 0, "people": 3}
    db.session.expire_all()
    assert target.people_count == 3 and target.status == OpinionStatus.RECEIVED
    assert [(s.status, s.merged_into_id, s.people_count) for s in (s1, s2)] == [("merged", target.id, 1)] * 2
    assert actions() == ["opinion.merge"]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "opinion.merge"))
    assert f'"sources": [{s1.id}, {s2.id}]' in entry.details
    assert verify() == []


def test_merging_a_merged_item_brings_its_opinions_along_one_level(draft, submit, organizer):
    a, b, c, d = (submit(t, 4) for t in ("甲", "乙", "丙", "丁"))
    review.merge_opinions(organizer, b, [a])  # b carries 2
    review.merge_opinions(organizer, d, [c])  # d carries 2
    result = review.merge_opinions(organizer, d, [b])  # b and a move into d
    db.session.commit()
    db.session.expire_all()
    assert result["moved"] == 1 and result["people"] == 4
    assert {o.id: (o.status, o.merged_into_id, o.people_count) for o in (a, b, c, d)} == {
        a.id: ("merged", d.id, 1),
        b.id: ("merged", d.id, 1),
        c.id: ("merged", d.id, 1),
        d.id: ("received", None, 4),
    }
    review.unmerge_opinion(organizer, b)
    db.session.commit()
    db.session.expire_all()
    assert (b.status, b.people_count, d.people_count, a.merged_into_id) == ("received", 1, 3, d.id)


def test_imported_people_counts_add_up_too(draft, submit, organizer):
    a, b = submit("甲", 1), submit("乙", 1)
    db.session.execute(Opinion.__table__.update().where(Opinion.id == b.id).values(people_count=30))
    review.merge_opinions(organizer, a, [b])
    review.unmerge_opinion(organizer, b)
    db.session.commit()
    db.session.expire_all()
    assert (a.people_count, b.people_count) == (1, 30)


def test_a_late_duplicate_joins_a_handled_item(draft, submit, organizer):
    target, late = submit("建议删除第五条", 5), submit("建议删除第五条。", 5)
    review.handle_opinion(organizer, target, "adopted", reply="已采纳。")
    review.merge_opinions(organizer, target, [late])
    db.session.commit()
    db.session.expire_all()
    assert (target.status, target.people_count, late.merged_into_id) == ("adopted", 2, target.id)


def test_merge_refusals_change_nothing(draft, submit, organizer, app):
    a, b, c, handled = submit("甲", 1), submit("乙", 1), submit("丙", 1), submit("丁", 1)
    review.merge_opinions(organizer, a, [b])
    review.handle_opinion(organizer, handled, "not_adopted", reason="与上位法冲突")
    other_draft, _ = ops.create_draft(organizer, "某规定\n第一条 施行。")
    ops.publish_draft(organizer, other_draft)
    elsewhere, _ = ops.submit_opinion(other_draft, "别的草案")
    db.session.commit()
    before, logged = snapshot(), actions()
    refused(Invalid, "nothing_to_merge", review.merge_opinions, organizer, a, [])
    refused(Invalid, "merge_into_itself", review.merge_opinions, organizer, a, [a])
    refused(Invalid, "invalid_opinion", review.merge_opinions, organizer, a, ["3"])
    refused(NotFound, "opinion_not_found", review.merge_opinions, organizer, a, [999_999])
    refused(Conflict, "already_merged", review.merge_opinions, organizer, c, [b])
    refused(Conflict, "target_merged", review.merge_opinions, organizer, b, [c])
    refused(Conflict, "already_handled", review.merge_opinions, organizer, a, [handled])
    refused(Invalid, "other_draft", review.merge_opinions, organizer, a, [elsewhere])
    assert snapshot() == before and actions() == logged


def test_unmerge_gives_the_people_back(draft, submit, organizer):
    a, b = submit("甲", 1), submit("乙", 1)
    refused(Conflict, "not_merged", review.unmerge_opinion, organizer, b)
    review.merge_opinions(organizer, a, [b])
    review.unmerge_opinion(organizer, b)
    db.session.commit()
    db.session.expire_all()
    assert (a.people_count, b.status, b.merged_into_id) == (1, "received", None)
    assert actions() == ["opinion.merge", "opinion.unmerge"]


def test_merged_submitters_see_the_handling_of_the_item(draft, submit, organizer, client):
    target, merged = submit("建议增加充电桩", 3), submit("建议增加充电桩！", 3)
    review.merge_opinions(organizer, target, [merged])
    reply = "已在第三条中增加相关规定。"
    review.handle_opinion(organizer, target, "部分采纳", reason="部分小区条件不具备", reply=reply)
    db.session.commit()
    body = client.get(f"/api/v1/opinions/tracking/{merged.tracking_code}").get_json()
    assert body["status"] == "partly_adopted" and body["merged"] is True
    assert body["reply"] == reply


# -- handling ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("outcome", "status"), [("采纳", "adopted"), ("部分采纳", "partly_adopted"),
                                                 ("未采纳", "not_adopted"), ("adopted", "adopted")])  # fmt: skip
def test_handle_records_the_decision(draft, submit, organizer, outcome, status):
    opinion = submit("建议删除第五条", 5)
    review.handle_opinion(organizer, opinion, outcome, reason=" 理由 ", reply="答复", legal_text="第五条　删除。")
    db.session.commit()
    db.session.expire_all()
    assert (opinion.status, opinion.reason, opinion.reply, opinion.legal_text) == (
        status,
        "理由",
        "答复",
        "第五条　删除。",
    )
    assert opinion.handled_at is not None and opinion.handled_by_id == organizer.id
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "opinion.handle"))
    assert entry.actor == "user:organizer" and f'"outcome": "{status}"' in entry.details


def test_a_decision_can_be_revised_and_reopened(draft, submit, organizer):
    opinion = submit("建议删除第五条", 5)
    review.handle_opinion(organizer, opinion, "未采纳", reason="理由一")
    review.handle_opinion(organizer, opinion, "未采纳", reason="理由二", reply="新答复")
    review.handle_opinion(organizer, opinion, "采纳")
    review.reopen_opinion(organizer, opinion)
    db.session.commit()
    db.session.expire_all()
    assert (opinion.status, opinion.handled_at) == ("received", None)
    assert actions() == ["opinion.handle", "opinion.handle", "opinion.handle", "opinion.reopen"]
    refused(Conflict, "not_handled", review.reopen_opinion, organizer, opinion)


def test_handle_refusals_change_nothing(draft, submit, organizer):
    a, b = submit("甲", 1), submit("乙", 1)
    review.merge_opinions(organizer, a, [b])
    db.session.commit()
    before = snapshot()
    refused(Invalid, "invalid_outcome", review.handle_opinion, organizer, a, "maybe")
    refused(Invalid, "invalid_outcome", review.handle_opinion, organizer, a, None)
    refused(Invalid, "reason_required", review.handle_opinion, organizer, a, "未采纳", reason="  ")
    refused(Invalid, "reason_required", review.handle_opinion, organizer, a, "部分采纳")
    refused(Invalid, "too_long", review.handle_opinion, organizer, a, "采纳", reply="答" * 5001)
    refused(Conflict, "opinion_merged", review.handle_opinion, organizer, b, "采纳")
    assert snapshot() == before and actions() == ["opinion.merge"]


def test_unknown_opinion(app):
    refused(NotFound, "opinion_not_found", review.get_opinion, 12345)


# -- duplicates -------------------------------------------------------------------------------------


def test_suggestions_from_the_database(draft, submit, organizer):
    campaign = "坚决反对在我们小区旁边建设垃圾中转站，严重影响居民生活，请求重新选址！"
    made = [submit(campaign + suffix, 7) for suffix in ("", "——3号楼", "谢谢", "！！")]
    other = submit("建议增加对老旧小区加装电梯的补贴规定。", 7)
    handled = submit(campaign, 7)
    review.handle_opinion(organizer, handled, "未采纳", reason="选址已经论证")
    merged = submit(campaign, 7)
    review.merge_opinions(organizer, made[0], [merged])
    db.session.commit()
    found = review.suggest_duplicates(draft)
    (group,) = found.groups
    assert group.representative == handled.id  # the decided one
    assert {m.id for m in group.members} == {handled.id, *(m.id for m in made)}
    assert other.id not in found.opinions and merged.id not in {m.id for m in group.members}
    assert set(review.group_sources(group)) == {m.id for m in made}
    assert found.compared == 6
    article7 = next(a.id for a in draft.articles if a.number == 7)
    assert review.suggest_duplicates(draft, article=article7).groups[0].size == 5
    assert review.suggest_duplicates(draft, article=review.GENERAL).groups == []
    refused(Invalid, "invalid_threshold", review.suggest_duplicates, draft, threshold=10)


# -- importing meeting sheets --------------------------------------------------------------------------


def sheet(rows, header=("条款", "意见内容", "提出人", "联系电话", "人数")):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


GOOD = [
    ("第三条", "建议增加电动自行车集中充电设施。", "王五", "13800138000", "3"),
    ("总体", "同意草案。", "", "", ""),
    ("5", '=HYPERLINK("http://x","点")', "", "", ""),
]


def opinion_count():
    return db.session.scalar(select(func.count()).select_from(Opinion))


def test_import_into_a_point(draft, network, organizer):
    _, point, _, _ = network
    result = imports.import_opinions(organizer, draft, point, "征询会.csv", sheet(GOOD))
    db.session.commit()
    assert result == {"rows": 3, "opinions": 3, "people": 5, "general": 1, "contacts": 1,
                      "contact_point_id": point.id}  # fmt: skip
    rows = db.session.scalars(select(Opinion).order_by(Opinion.id)).all()
    assert [(o.article.number if o.article else None, o.people_count) for o in rows] == [(3, 3), (None, 1), (5, 1)]
    assert {(o.channel, o.submitter_type, o.contact_point_id, o.status) for o in rows} == {
        ("import", "staff", point.id, "received")
    }
    assert rows[2].text == '=HYPERLINK("http://x","点")'
    assert len({o.tracking_code for o in rows}) == 3 and all(len(o.tracking_code) == 10 for o in rows)
    contact = db.session.get(OpinionContact, rows[0].id)
    assert (contact.name, contact.phone) == ("王五", "13800138000")
    assert actions() == ["opinion.import"]
    assert verify() == []
    # Imported opinions are reviewed like any other.
    review.merge_opinions(organizer, rows[0], [rows[2]])
    assert rows[0].people_count == 4


def test_a_bad_row_imports_nothing_and_every_problem_names_its_row(draft, network, organizer):
    _, point, _, _ = network
    rows = [*GOOD, ("第九十九条", "没有这一条", "", "", ""), ("", "没写条款", "", "", ""), ("2", "意见", "", "abc", "")]
    error = refused(Invalid, "sheet_invalid_rows", imports.import_opinions, organizer, draft, point, "a.csv",
                    sheet(rows))  # fmt: skip
    assert [(d["row"], d["column"], d["code"]) for d in error.details] == [
        (5, "article", "unknown_article"),
        (6, "article", "required"),
        (7, "phone", "bad_phone"),
    ]
    assert "第九十九条" in error.details[0]["message"]
    assert opinion_count() == 0 and actions() == []


def test_the_same_file_twice_is_refused(draft, network, organizer):
    _, point, collection, _ = network
    data = sheet(GOOD)
    imports.import_opinions(organizer, draft, point, "a.csv", data)
    db.session.commit()
    refused(Conflict, "sheet_already_imported", imports.import_opinions, organizer, draft, collection, "b.csv", data)
    assert opinion_count() == 3


def test_file_problems(draft, network, organizer):
    _, point, _, _ = network
    error = refused(Invalid, "sheet_too_large", imports.import_opinions, organizer, draft, point, "a.csv",
                    b"x" * (50 * 1024 * 1024 + 1))  # fmt: skip
    assert error.status == 413 and "50 MB" in str(error.message)
    error = refused(Invalid, "sheet_missing_columns", imports.import_opinions, organizer, draft, point, "a.csv",
                    sheet([("1", "x")], header=("条款", "姓名")))  # fmt: skip
    assert error.details[0]["column"] == "text"
    refused(Invalid, "sheet_unknown_type", imports.import_opinions, organizer, draft, point, "a.pdf", b"%PDF")
    assert opinion_count() == 0


def test_staff_import_only_into_their_own_point(draft, network, make_user, organizer):
    district, point, collection, other = network
    staff = make_user("contact_staff")
    refused(Forbidden, "no_contact_point", imports.import_opinions, staff, draft, point, "a.csv", sheet(GOOD))
    imports.assign_contact_point(organizer, staff, point)
    db.session.commit()
    for elsewhere in (other, district):
        refused(Forbidden, "not_your_point", imports.import_opinions, staff, draft, elsewhere, "a.csv", sheet(GOOD))
    imports.import_opinions(staff, draft, collection, "a.csv", sheet(GOOD))
    db.session.commit()
    assert opinion_count() == 3
    assert [p.id for p in imports.points_for_import(staff)] == [point.id, collection.id]
    department = make_user("department")
    refused(Forbidden, "not_your_point", imports.import_opinions, department, draft, point, "a.csv", sheet(GOOD))
    refused(Invalid, "not_contact_staff", imports.assign_contact_point, organizer, organizer, point)


def test_import_needs_an_open_draft_and_an_active_point(draft, network, organizer):
    from voting.consultations.points import set_contact_point_active

    _, point, collection, _ = network
    set_contact_point_active(organizer, collection, False)
    db.session.commit()
    refused(Conflict, "point_retired", imports.import_opinions, organizer, draft, collection, "a.csv", sheet(GOOD))
    ops.close_draft(organizer, draft)
    db.session.commit()
    refused(Conflict, "draft_not_open", imports.import_opinions, organizer, draft, point, "a.csv", sheet(GOOD))


def test_a_tracking_code_taken_meanwhile_is_replaced(draft, network, organizer, monkeypatch):
    _, point, _, _ = network
    taken, _ = ops.submit_opinion(draft, "早先的意见")
    db.session.commit()
    real = imports.tracking_codes
    calls = []

    def colliding(count, taken_codes=()):
        calls.append(count)
        codes = real(count)
        return [taken.tracking_code, *codes[1:]] if len(calls) == 1 else codes

    monkeypatch.setattr(imports, "tracking_codes", colliding)
    imports.import_opinions(organizer, draft, point, "a.csv", sheet(GOOD))
    db.session.commit()
    assert calls == [3, 3]
    codes = db.session.scalars(select(Opinion.tracking_code)).all()
    assert len(codes) == len(set(codes)) == 4


def test_tracking_codes_are_distinct_and_from_the_alphabet():
    codes = imports.tracking_codes(20_000, taken={"AAAAAAAAAA"})
    assert len(set(codes)) == 20_000
    assert all(len(c) == 10 and set(c) <= set(ops.CODE_ALPHABET) for c in codes)


# -- the staff account's point ----------------------------------------------------------------------


def test_create_user_with_a_contact_point(runner, network):
    _, point, _, _ = network
    result = runner.invoke(args=["create-user", "kailu", "--role", "contact_staff", "--contact-point",
                                 point.code.lower()])  # fmt: skip
    assert result.exit_code == 0, result.output
    from voting.accounts.models import User

    user = db.session.scalar(select(User).where(User.username == "kailu"))
    assert user.contact_point_id == point.id
    result = runner.invoke(args=["create-user", "nobody", "--role", "contact_staff", "--contact-point", "ZZZZ"])
    assert result.exit_code != 0 and "No active contact point" in result.output
    db.session.rollback()  # what the command left uncommitted, as when its process ends
    assert db.session.scalar(select(User).where(User.username == "nobody")) is None


def test_migration_0005_adds_and_removes_the_column(app):
    from flask_migrate import downgrade, upgrade

    assert "contact_point_id" in {c["name"] for c in inspect(db.engine).get_columns("user_account")}
    db.session.remove()
    downgrade(revision="0004")
    assert "contact_point_id" not in {c["name"] for c in inspect(db.engine).get_columns("user_account")}
    upgrade()
    foreign_keys = inspect(db.engine).get_foreign_keys("user_account")
    assert [(fk["constrained_columns"], fk["referred_table"]) for fk in foreign_keys] == [
        (["contact_point_id"], "contact_point")
    ]
