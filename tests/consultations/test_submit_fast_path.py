"""submitOpinion's fast path: one INSERT that checks the draft and article itself, failures explained after.

The rules are those of test_opinions_api.py and test_operations.py; these tests pin what the
single statement must not lose: what a sender hears first, attribution, idempotency, and that
nothing is loaded before the opinion is written.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from voting.consultations import operations as ops
from voting.consultations.models import Opinion, OpinionContact
from voting.extensions import db
from voting.timeutil import utcnow

DRAFTS = Path(__file__).parent / "drafts"
EN = {"Accept-Language": "en"}


@pytest.fixture
def published(app, organizer):
    draft, _ = ops.create_draft(organizer, (DRAFTS / "01_district_regulation.txt").read_text(encoding="utf-8"))
    ops.publish_draft(organizer, draft)
    db.session.commit()
    return draft


@pytest.fixture
def point(app, organizer):
    district = ops.create_contact_point(organizer, "杨浦区人大常委会基层立法联系点", "district")
    db.session.commit()
    return district


@pytest.fixture
def statements(app):
    """The SQL statements the app sends while the test runs (the engine's, not the test's own session)."""
    seen = []

    def remember(_conn, _cursor, statement, _parameters, _context, _executemany):
        seen.append(" ".join(statement.split()).upper())

    event.listen(db.engine, "before_cursor_execute", remember)
    yield seen
    event.remove(db.engine, "before_cursor_execute", remember)


def submit(client, body, headers=None):
    return client.post("/api/v1/opinions", json=body, headers={**EN, **(headers or {})})


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_submission_is_one_insert_and_nothing_is_loaded(client, published, point, statements):
    body = {"draft_id": published.id, "article_id": published.articles[1].id, "text": "建议。",
            "contact_point_code": point.code}  # fmt: skip
    statements.clear()  # the test's own loads of the draft and the point
    assert submit(client, body, {"X-Client-Id": "a" * 22, "Idempotency-Key": "k1"}).status_code == 201
    assert [s.split(" (")[0] for s in statements] == ["INSERT INTO OPINION"]
    statements.clear()
    with_contact = {**body, "contact_name": "张三", "contact_phone": "13812345678"}
    assert submit(client, with_contact).get_json()["attributed"] is True
    assert [s.split(" (")[0] for s in statements] == ["INSERT INTO OPINION", "INSERT INTO OPINION_CONTACT"]
    assert count(Opinion) == 2 and count(OpinionContact) == 1


def test_what_the_sender_hears_first_is_unchanged(client, organizer, published):
    """A closed or missing draft is told before a problem with the text or the contact details."""
    preparing, _ = ops.create_draft(organizer, "某规定\n第一条 施行。")
    db.session.commit()
    cases = [
        ({"draft_id": 99999, "text": ""}, 404, "draft_not_found"),
        ({"draft_id": preparing.id, "text": "意见。", "contact_phone": "abc"}, 404, "draft_not_found"),
        ({"draft_id": published.id, "text": "意见。", "article_id": 99999, "contact_phone": "abc"}, 404,
         "article_not_found"),
        ({"draft_id": published.id, "text": "", "article_id": 99999}, 400, "opinion_empty"),
    ]  # fmt: skip
    for body, status, code in cases:
        response = submit(client, body)
        assert (response.status_code, response.get_json()["error"]["code"]) == (status, code), body
    published.deadline = utcnow() - timedelta(seconds=1)
    db.session.commit()
    for body in ({"text": ""}, {"text": "意见。", "contact_phone": "abc"}, {"text": "意见。", "article_id": 99999}):
        response = submit(client, {"draft_id": published.id, **body})
        assert (response.status_code, response.get_json()["error"]["code"]) == (409, "draft_closed"), body
    assert count(Opinion) == 0


def test_a_retired_point_keeps_the_opinion_unattributed(client, published, point):
    point.active = False
    db.session.commit()
    response = submit(client, {"draft_id": published.id, "text": "意见。", "contact_point_code": point.code})
    assert response.status_code == 201 and response.get_json()["attributed"] is False
    opinion = db.session.scalars(select(Opinion)).one()
    assert (opinion.contact_point_id, opinion.channel, opinion.people_count, opinion.status) == (
        None, "poster", 1, "received")  # fmt: skip


def test_a_retry_answers_the_first_opinion_as_it_was(client, published, point):
    body = {"draft_id": published.id, "article_id": published.articles[0].id, "text": "意见。",
            "contact_point_code": point.code, "contact_phone": "13812345678"}  # fmt: skip
    headers = {"X-Client-Id": "r" * 22, "Idempotency-Key": "same"}
    first, again = submit(client, body, headers).get_json(), submit(client, body, headers).get_json()
    assert again == {**first, "repeated": True} and first["repeated"] is False
    assert count(Opinion) == 1 and count(OpinionContact) == 1
    # The same key for a draft that has closed since: the draft's state is what the sender hears.
    published.deadline = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert submit(client, body, headers).status_code == 409


def test_a_tracking_code_collision_stores_nothing_and_asks_to_resend(client, published, monkeypatch):
    taken = submit(client, {"draft_id": published.id, "text": "第一条意见。"}).get_json()["tracking_code"]
    monkeypatch.setattr(ops, "new_code", lambda length: taken.replace("-", ""))
    response = submit(client, {"draft_id": published.id, "text": "第二条意见。", "contact_name": "李四"})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "opinion_retry"
    assert count(Opinion) == 1 and count(OpinionContact) == 0
    monkeypatch.undo()
    assert submit(client, {"draft_id": published.id, "text": "第二条意见。"}).status_code == 201


def test_record_opinion_takes_the_draft_or_its_id(app, published):
    by_id, repeated = ops.record_opinion(published.id, "意见。", article_id=published.articles[0].id)
    by_object, _ = ops.record_opinion(published, "意见。")
    db.session.commit()
    assert not repeated and (by_id.draft_id, by_id.article_id, by_object.article_id) == (
        published.id, published.articles[0].id, None)  # fmt: skip
    stored = db.session.get(Opinion, by_id.id)
    assert (stored.tracking_code, stored.created_at is not None) == (by_id.tracking_code, True)


def test_new_codes_use_the_whole_alphabet_evenly():
    symbols = "".join(ops.new_code(10) for _ in range(3100))
    counts = [symbols.count(c) for c in ops.CODE_ALPHABET]
    assert len(symbols) == 31_000 and set(symbols) <= set(ops.CODE_ALPHABET)
    assert min(counts) > 800 and max(counts) < 1200  # 1,000 each expected


def test_an_opinion_joins_the_callers_transaction_or_commits_by_itself(app, published):
    draft_id = published.id
    # The session in a transaction (it has read the draft): the opinion goes or stays with it.
    assert db.session.get(ops.Draft, draft_id) is not None
    ops.record_opinion(draft_id, "随调用者回滚。")
    db.session.rollback()
    assert count(Opinion) == 0
    # An idle session: nothing to join, so the opinion is committed at once.
    db.session.close()
    ops.record_opinion(draft_id, "单独提交。")
    db.session.rollback()
    assert db.session.scalars(select(Opinion.text)).all() == ["单独提交。"]


def test_a_collision_inside_the_callers_transaction_rolls_it_back_and_asks_to_resend(app, published, monkeypatch):
    first, _ = ops.record_opinion(published.id, "第一条意见。")
    db.session.commit()
    assert db.session.get(ops.Draft, published.id) is not None  # the session is in a transaction now
    monkeypatch.setattr(ops, "new_code", lambda length: first.tracking_code)
    with pytest.raises(ops.Conflict) as refused:
        ops.record_opinion(published.id, "第二条意见。", contact_name="李四")
    assert refused.value.code == "opinion_retry"
    assert not db.session().in_transaction()  # rolled back, the session usable again
    assert count(Opinion) == 1 and count(OpinionContact) == 0
