"""An opinion's masked text is kept when it arrives, by every way in: the resident's submission, a meeting
sheet's import, an ORM insert, and the migration for opinions stored before the column existed."""

import csv
import io
from pathlib import Path

from sqlalchemy import inspect, select, text

from voting.consultations import imports
from voting.consultations import operations as ops
from voting.consultations.models import Opinion
from voting.extensions import db

DRAFT = Path(__file__).parent / "drafts" / "01_district_regulation.txt"
WITH_PHONE = "请打13812345678联系我"
MASKED = "请打138****5678联系我"
PLAIN = "建议增加电动自行车集中充电设施。"


def published_draft(organizer):
    draft, _ = ops.create_draft(organizer, DRAFT.read_text(encoding="utf-8"))
    ops.publish_draft(organizer, draft)
    db.session.commit()
    return draft


def stored(opinion_id):
    return db.session.execute(select(Opinion.text, Opinion.masked_text).where(Opinion.id == opinion_id)).one()


def test_a_submission_keeps_its_masked_text(app, organizer):
    draft = published_draft(organizer)
    with_phone, _ = ops.submit_opinion(draft, WITH_PHONE)
    plain, _ = ops.submit_opinion(draft, PLAIN, article_id=draft.articles[0].id)
    db.session.commit()
    assert tuple(stored(with_phone.id)) == (WITH_PHONE, MASKED)
    assert tuple(stored(plain.id)) == (PLAIN, None)  # nothing to mask: nothing kept twice


def test_an_import_keeps_its_masked_text(app, organizer):
    draft = published_draft(organizer)
    district = ops.create_contact_point(organizer, "区联系点", "district")
    point = ops.create_contact_point(organizer, "殷行街道联系点", "point", district)
    out = io.StringIO()
    csv.writer(out).writerows([("条款", "意见内容", "人数"), ("总体", WITH_PHONE, "1"), ("总体", PLAIN, "2")])
    imports.import_opinions(organizer, draft, point, "征询会.csv", out.getvalue().encode("utf-8-sig"))
    db.session.commit()
    rows = db.session.execute(select(Opinion.text, Opinion.masked_text).order_by(Opinion.id)).all()
    assert [tuple(r) for r in rows] == [(WITH_PHONE, MASKED), (PLAIN, None)]


def test_an_orm_insert_fills_it_by_default(app, organizer):
    draft = published_draft(organizer)
    opinion = Opinion(draft_id=draft.id, text=WITH_PHONE, tracking_code="ORMTEST0001")
    db.session.add(opinion)
    db.session.commit()
    assert tuple(stored(opinion.id)) == (WITH_PHONE, MASKED)


def test_the_migration_masks_opinions_already_stored(app, organizer):
    from flask_migrate import downgrade, upgrade

    draft = published_draft(organizer)
    with_phone, _ = ops.submit_opinion(draft, WITH_PHONE)
    plain, _ = ops.submit_opinion(draft, PLAIN)
    db.session.commit()
    ids = with_phone.id, plain.id
    db.session.remove()
    downgrade(revision="0005")
    assert "masked_text" not in {c["name"] for c in inspect(db.engine).get_columns("opinion")}
    upgrade()
    db.session.remove()
    assert tuple(stored(ids[0])) == (WITH_PHONE, MASKED)
    assert tuple(stored(ids[1])) == (PLAIN, None)
    assert db.session.scalar(text("SELECT count(*) FROM opinion WHERE masked_text IS NOT NULL")) == 1
