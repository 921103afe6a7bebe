"""submitOpinion and getOpinionByTrackingCode: public, idempotent, limited per client, nothing personal out."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from voting.consultations import operations as ops
from voting.consultations.models import MAX_OPINION_CHARS, Channel, Opinion, OpinionContact, OpinionStatus
from voting.extensions import db
from voting.timeutil import utcnow

DRAFTS = Path(__file__).parent / "drafts"
EN = {"Accept-Language": "en"}


@pytest.fixture
def publish(app, organizer):
    def make(name="01_district_regulation.txt"):
        draft, _ = ops.create_draft(organizer, (DRAFTS / name).read_text(encoding="utf-8"))
        ops.publish_draft(organizer, draft)
        db.session.commit()
        return draft

    return make


@pytest.fixture
def published(publish):
    return publish()


@pytest.fixture
def point(app, organizer):
    district = ops.create_contact_point(organizer, "杨浦区人大常委会基层立法联系点", "district")
    db.session.commit()
    return district


def stored():
    db.session.expire_all()
    return db.session.scalars(select(Opinion).order_by(Opinion.id)).all()


def contacts():
    return db.session.scalar(select(func.count()).select_from(OpinionContact))


def submit(client, body, headers=None):
    return client.post("/api/v1/opinions", json=body, headers={**EN, **(headers or {})})


def error_of(response):
    return response.get_json()["error"]


def test_submit_an_opinion_through_a_poster(client, published, point):
    article = published.articles[3]
    body = {
        "draft_id": published.id,
        "article_id": article.id,
        "text": " 建议增加公示义务。 ",
        "contact_point_code": point.code.lower(),
        "contact_name": "张三",
        "contact_phone": "138 1234 5678",
    }
    response = submit(client, body)
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert data["tracking_code"][5] == "-" and len(data["tracking_code"]) == 11
    assert data["tracking_url"] == f"http://localhost/c/track?code={data['tracking_code']}"
    assert (data["draft_id"], data["article_id"], data["submitter_type"]) == (published.id, article.id, "resident")
    assert data["attributed"] is True and data["repeated"] is False
    (opinion,) = stored()
    assert (opinion.text, opinion.contact_point_id, opinion.channel) == ("建议增加公示义务。", point.id, Channel.POSTER)
    assert (opinion.contact.name, opinion.contact.phone) == ("张三", "13812345678")


def test_the_tracking_url_follows_the_host_asked_and_the_public_base_url(app, client, published):
    app.config["SERVER_NAME"] = None  # as served: the address comes from the request (the tests fix one)
    def url(base_url="http://localhost", **environ):
        body = {"draft_id": published.id, "text": "赞成。"}
        response = client.post("/api/v1/opinions", json=body, base_url=base_url, environ_overrides=environ)
        data = response.get_json()
        assert response.status_code == 201, data
        return data["tracking_url"].removesuffix(data["tracking_code"])

    assert url() == "http://localhost/c/track?code="
    assert url("http://rd.example.cn") == "http://rd.example.cn/c/track?code="
    assert url("https://rd.example.cn:8443") == "https://rd.example.cn:8443/c/track?code="
    assert url("http://rd.example.cn/renda") == "http://rd.example.cn/renda/c/track?code="
    assert url() == "http://localhost/c/track?code="  # each remembered apart
    app.config["PUBLIC_BASE_URL"] = "https://hall.example.cn/"
    assert url("http://rd.example.cn") == "https://hall.example.cn/c/track?code="


def test_an_opinion_on_the_whole_draft(client, published):
    response = submit(client, {"draft_id": published.id, "article_id": None, "text": "总体赞成。"})
    assert response.status_code == 201
    assert response.get_json()["article_id"] is None and response.get_json()["attributed"] is False
    assert stored()[0].channel == Channel.LINK


def test_idempotency_key_per_client(client, published):
    body = {"draft_id": published.id, "text": "建议。"}
    first = submit(client, body, {"Idempotency-Key": "retry-1", "X-Client-Id": "a" * 22})
    again = submit(client, body, {"Idempotency-Key": "retry-1", "X-Client-Id": "a" * 22})
    assert first.status_code == again.status_code == 201
    assert again.get_json()["tracking_code"] == first.get_json()["tracking_code"] and again.get_json()["repeated"]
    assert len(stored()) == 1
    # Another app that happens to use the same key sends another person's opinion.
    other = submit(client, body, {"Idempotency-Key": "retry-1", "X-Client-Id": "b" * 22})
    assert other.get_json()["tracking_code"] != first.get_json()["tracking_code"] and len(stored()) == 2
    for bad in ("键", "x" * 65, "tab\there"):
        response = client.post("/api/v1/opinions", json=body, headers={**EN, "Idempotency-Key": bad})
        assert response.status_code == 400 and error_of(response)["code"] == "invalid_key", bad
    assert len(stored()) == 2


@pytest.mark.parametrize(
    "body, status, code, message",
    [
        ({"text": ""}, 400, "opinion_empty", "Write your opinion before sending it."),
        ({"text": " \n\u3000 "}, 400, "opinion_empty", "Write your opinion before sending it."),
        ({"text": "a" * 100_000}, 400, "opinion_too_long", "this one has 100000"),
        ({"text": "长" * (MAX_OPINION_CHARS + 1)}, 400, "opinion_too_long", "at most 5000 characters"),
        ({}, 400, "validation_failed", "text"),
        ({"text": 12}, 400, "validation_failed", "text"),
        ({"text": "意见。", "article_id": 2**40}, 400, "validation_failed", "article_id"),
        ({"text": "意见。", "contact_phone": "abc"}, 400, "invalid_phone", "The phone number is not valid."),
        ({"text": "意见。", "extra": 1}, 400, "validation_failed", "extra"),
    ],
    ids=["empty", "whitespace", "100000", "one-too-many", "no-text", "number", "huge-id", "bad-phone", "extra"],
)
def test_bad_opinions_are_refused_and_nothing_is_stored(client, published, body, status, code, message):
    response = submit(client, {"draft_id": published.id, **body})
    assert response.status_code == status
    assert error_of(response)["code"] == code and message in error_of(response)["message"]
    assert stored() == [] and contacts() == 0


def test_a_body_far_too_large_is_refused_before_it_is_read(client, published):
    data = json.dumps({"draft_id": published.id, "text": "长" * 100_000})  # \u957f: 600 KB
    response = client.post("/api/v1/opinions", data=data, content_type="application/json", headers=EN)
    assert response.status_code == 413
    assert error_of(response) == {
        "code": "opinion_too_long",
        "message": "This opinion is far too long to be sent: an opinion can be at most 5000 characters. "
        "Go back, shorten it or split it, and send it again.",
    }
    assert stored() == []


def test_articles_and_drafts_that_do_not_exist(client, organizer, publish, published):
    other = publish("03_measures_with_sections.txt")
    preparing, _ = ops.create_draft(organizer, "某规定\n第一条 施行。")
    db.session.commit()
    cases = [
        ({"draft_id": published.id, "article_id": other.articles[0].id}, 404, "article_not_found"),
        ({"draft_id": published.id, "article_id": 99999}, 404, "article_not_found"),
        ({"draft_id": 99999}, 404, "draft_not_found"),
        ({"draft_id": preparing.id}, 404, "draft_not_found"),
    ]
    for body, status, code in cases:
        response = submit(client, {"text": "意见。", **body})
        assert (response.status_code, error_of(response)["code"]) == (status, code), body
    assert stored() == []


def test_past_the_deadline(client, published):
    published.deadline = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = submit(client, {"draft_id": published.id, "text": "意见。"})
    assert response.status_code == 409 and error_of(response)["code"] == "draft_closed"
    assert stored() == []


@pytest.mark.parametrize("code", ["FORGED99", "<script>alert(1)</script>", "", "长长"])
def test_a_forged_poster_code_keeps_the_opinion(client, published, point, code):
    response = submit(client, {"draft_id": published.id, "text": "意见。", "contact_point_code": code})
    assert response.status_code == 201 and response.get_json()["attributed"] is False
    assert stored()[0].contact_point_id is None


def test_markup_is_stored_as_written_and_answered_as_json(client, published):
    text = "<script>alert(1)</script> =1+1"
    code = submit(client, {"draft_id": published.id, "text": text}).get_json()["tracking_code"]
    assert stored()[0].text == text
    response = client.get(f"/api/v1/opinions/tracking/{code}")
    assert response.content_type == "application/json" and response.get_json()["text"] == text


def test_a_deputy_phone_submits_as_the_deputy(client, published, make_deputies, bind_phone):
    deputy = make_deputies(1)[0]
    token = bind_phone(deputy)
    body = {"draft_id": published.id, "text": "代表意见。", "contact_phone": "13812345678"}
    response = submit(client, body, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 201 and response.get_json()["submitter_type"] == "deputy"
    (opinion,) = stored()
    assert opinion.deputy_id == deputy.id and opinion.channel == Channel.DEPUTY and opinion.contact is None
    refused = submit(client, body, {"Authorization": "Bearer vtd_not-a-real-token"})
    assert refused.status_code == 401 and error_of(refused)["code"] == "token_invalid"
    assert len(stored()) == 1


def test_a_flood_from_one_client_is_limited_per_client_not_per_hall(app, client, published):
    app.config.update(
        RATELIMIT_ENABLED=True, RATELIMIT_OPINION="2 per minute", RATELIMIT_OPINION_ADDRESS="50 per minute"
    )
    body = {"draft_id": published.id, "text": "意见。"}
    flooder, neighbour = {"X-Client-Id": "f" * 22}, {"X-Client-Id": "n" * 22}
    statuses = [submit(client, body, flooder).status_code for _ in range(3)]
    assert statuses == [201, 201, 429]
    refused = client.post("/api/v1/opinions", json=body, headers=flooder)  # Chinese by default
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert error_of(refused)["code"] == "rate_limited" and "分钟后再提交" in error_of(refused)["message"]
    assert submit(client, body, neighbour).status_code == 201
    assert len(stored()) == 3


def test_tracking_shows_status_and_reply_but_nothing_personal(client, published):
    body = {"draft_id": published.id, "article_id": published.articles[0].id,
            "text": "请联系13812345678。", "contact_name": "王五", "contact_phone": "13987654321"}  # fmt: skip
    code = submit(client, body).get_json()["tracking_code"]
    answer = client.get(f"/api/v1/opinions/tracking/{code.lower().replace('-', '')}", headers=EN)
    assert answer.status_code == 200
    data = answer.get_json()
    assert (data["status"], data["status_label"], data["reply"], data["handled_at"]) == (
        "received", "Received", None, None)  # fmt: skip
    assert data["article_label"] == "第一条" and data["text"] == "请联系138****5678。"
    opinion = stored()[0]
    opinion.transition(OpinionStatus.ADOPTED)
    opinion.handled_at, opinion.reply = utcnow(), "已采纳。电话021-65432100"
    db.session.commit()
    data = client.get(f"/api/v1/opinions/tracking/{code}", headers=EN).get_json()
    assert (data["status"], data["status_label"], data["reply"]) == ("adopted", "Adopted", "已采纳。电话021-****2100")
    assert data["handled_at"].endswith("Z") and data["merged"] is False and data["people_count"] == 1
    flat = json.dumps(data, ensure_ascii=False)
    for personal in ("王五", "13987654321", "13812345678", "65432100", "contact"):
        assert personal not in flat


def test_a_merged_opinion_takes_the_handling_of_its_item(client, published):
    codes = [submit(client, {"draft_id": published.id, "text": t}).get_json()["tracking_code"] for t in "甲乙"]
    kept, joined = stored()
    joined.transition(OpinionStatus.MERGED)
    joined.merged_into_id, kept.people_count = kept.id, 2
    kept.transition(OpinionStatus.NOT_ADOPTED)
    kept.handled_at, kept.reply = utcnow(), "暂不采纳。"
    db.session.commit()
    data = client.get(f"/api/v1/opinions/tracking/{codes[1]}").get_json()
    assert (data["status"], data["merged"], data["people_count"], data["reply"]) == (
        "not_adopted",
        True,
        2,
        "暂不采纳。",
    )
    assert data["text"] == "乙"


@pytest.mark.parametrize("code", ["ZZZZZ-ZZZZZ", "x", "%3Cscript%3E"])
def test_an_unknown_tracking_code(client, published, code):
    response = client.get(f"/api/v1/opinions/tracking/{code}", headers=EN)
    assert response.status_code == 404 and error_of(response)["code"] == "opinion_not_found"


def test_both_operations_are_public_and_documented(client):
    document = client.get("/api/v1/openapi.json").get_json()
    submit_op = document["paths"]["/api/v1/opinions"]["post"]
    track_op = document["paths"]["/api/v1/opinions/tracking/{code}"]["get"]
    assert submit_op["operationId"] == "submitOpinion" and track_op["operationId"] == "getOpinionByTrackingCode"
    assert submit_op["security"] == [] and track_op["security"] == []
    assert {"201", "400", "404", "409", "413", "429"} <= set(submit_op["responses"])
    assert "Idempotency-Key" in submit_op["description"]
