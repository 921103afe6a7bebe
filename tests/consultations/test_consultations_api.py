"""The API for drafts and contact points: createDraft (text or base64 upload), getDraft, updateDraft with a
corrected split, publishDraft and its refusals, createContactPoint, listContactPoints; who may call what."""

import base64
import io
import zipfile
from datetime import timedelta
from functools import partial
from urllib.parse import parse_qs, urlsplit

import pytest
from openapi_schema_validator import OAS31Validator
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from voting.audit.models import AuditEntry
from voting.consultations.models import ContactPoint, Draft
from voting.extensions import db
from voting.timeutil import utcnow

MESSY = """某某区养犬管理规定（草案）
总　则
第一条【立法目的】为了规范养犬行为，制定本规定。
第二条　养犬人应当依照本规定
第一条规定的目的文明养犬。
第三条　禁止携犬进入学校。
第三条　本规定自2025年1月1日起施行。
"""
OLD_WORD = base64.b64encode(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(8)).decode()
OPERATIONS = ["createDraft", "getDraft", "updateDraft", "publishDraft", "createContactPoint", "listContactPoints"]


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    monkeypatch.setattr(
        "voting.accounts.models.generate_password_hash", partial(generate_password_hash, method="pbkdf2:sha256:1000")
    )


@pytest.fixture
def org(organizer, api_token):
    return {**api_token(organizer), "Accept-Language": "en"}


@pytest.fixture
def as_role(make_user, api_token):
    return lambda role: {**api_token(make_user(role)), "Accept-Language": "en"}


@pytest.fixture
def document(client):
    return client.get("/api/v1/openapi.json").json


def docx(*lines):
    buffer = io.BytesIO()
    body = "".join(f"<w:p><w:r><w:t>{line}</w:t></w:r></w:p>" for line in lines)
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "word/document.xml",
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            f"<w:body>{body}</w:body></w:document>",
        )
    return base64.b64encode(buffer.getvalue()).decode()


def schema_errors(document, operation_id, status, body):
    for methods in document["paths"].values():
        for item in methods.values():
            if item["operationId"] == operation_id:
                schema = item["responses"][str(status)]["content"]["application/json"]["schema"]
                root = {**schema, "components": document["components"]}
                return [e.message for e in OAS31Validator(root).iter_errors(body)]
    raise AssertionError(f"{operation_id} is not documented")


def actions():
    logged = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq))
    return [a for a in logged if a.startswith(("draft.", "contact_point."))]


def test_create_a_draft_from_text_and_read_its_split(client, org, document):
    response = client.post("/api/v1/drafts", headers=org, json={"text": MESSY, "explanation": "起草说明"})
    assert response.status_code == 201, response.json
    body = response.json
    assert schema_errors(document, "createDraft", 201, body) == []
    assert body["title"] == "某某区养犬管理规定（草案）" and body["state"] == "draft" and body["url"] is None
    assert [h["title"] for h in body["headings"]] == ["总则"]
    assert [(a["label"], a["title"], a["heading"]) for a in body["articles"]] == [
        ("第一条", "立法目的", 0),
        ("第二条", None, 0),
        ("第三条", None, 0),
        ("第三条", None, 0),
    ]
    assert body["articles"][1]["paragraphs"] == ["养犬人应当依照本规定第一条规定的目的文明养犬。"]
    assert body["warnings"] == [
        {"code": "duplicate", "message": "第三条 appears more than once.", "article": 3, "heading": None}
    ]
    created = body["created_at"]
    assert body["deadline"] > created and body["deadline"].endswith("Z")

    again = client.get(f"/api/v1/drafts/{body['id']}", headers=org)
    assert again.status_code == 200 and again.json == body
    assert actions() == ["draft.create"]


def test_get_draft_gives_heading_notes_and_the_trailer(client, org, document):
    text = (
        "某某区物业管理规定\n第一章 总则\n第一条 为了规范物业管理，制定本规定。\n第二章 物业服务\n"
        "本章规定物业服务的一般要求。\n第二条 本规定自2025年1月1日起施行。\n附件：物业服务收费标准\n一、收费项目。"
    )
    created = client.post("/api/v1/drafts", headers=org, json={"text": text}).json
    body = client.get(f"/api/v1/drafts/{created['id']}", headers=org).json
    assert body == created and schema_errors(document, "getDraft", 200, body) == []
    assert [h["notes"] for h in body["headings"]] == [[], ["本章规定物业服务的一般要求。"]]
    assert body["trailer"] == ["附件：物业服务收费标准", "一、收费项目。"]
    assert [(w["code"], w["heading"]) for w in body["warnings"]] == [("stray_text", 1), ("trailer", None)]
    schemas = document["components"]["schemas"]
    assert "trailer" in schemas["DraftOut"]["required"] and "notes" in schemas["HeadingOut"]["required"]
    assert schemas["DraftOut"]["examples"][0]["trailer"] and schemas["HeadingOut"]["examples"][0]["notes"]

    # getDraft's structure sent back with updateDraft keeps them; a correction of them is stored.
    structure = {
        "style": body["style"],
        "preamble": body["preamble"],
        "headings": [{k: h[k] for k in ("level", "number", "title", "parent", "notes")} for h in body["headings"]],
        "articles": [{k: a[k] for k in ("number", "suffix", "title", "paragraphs", "heading")}
                     for a in body["articles"]],
        "trailer": body["trailer"][:1],
    }  # fmt: skip
    structure["headings"][0]["notes"] = ["本章说明。"]
    updated = client.patch(f"/api/v1/drafts/{body['id']}", headers=org, json={"structure": structure})
    assert updated.status_code == 200, updated.json
    assert [h["notes"] for h in updated.json["headings"]] == [["本章说明。"], ["本章规定物业服务的一般要求。"]]
    assert updated.json["trailer"] == ["附件：物业服务收费标准"]
    assert "notes" in schemas["HeadingIn"]["properties"] and "trailer" in schemas["StructureIn"]["properties"]


def test_create_a_draft_from_an_upload(client, org):
    payload = {
        "file": {"filename": "草案.docx", "content_base64": docx("某某办法", "第一条 为了规范。", "第二条 施行。")}
    }
    response = client.post("/api/v1/drafts", headers=org, json={**payload, "deadline": "2099-01-31T16:00:00Z"})
    assert response.status_code == 201, response.json
    assert response.json["title"] == "某某办法" and response.json["deadline"] == "2099-01-31T16:00:00Z"
    assert [a["paragraphs"] for a in response.json["articles"]] == [["为了规范。"], ["施行。"]]
    gbk = base64.b64encode("某某规定\n第一条 施行。".encode("gbk")).decode()
    text = client.post("/api/v1/drafts", headers=org, json={"file": {"filename": "a.txt", "content_base64": gbk}})
    assert text.status_code == 201 and text.json["articles"][0]["paragraphs"] == ["施行。"]


@pytest.mark.parametrize(
    "body, code",
    [
        ({}, "validation_failed"),
        ({"text": "某规定\n第一条 甲。", "file": {"filename": "a.txt", "content_base64": ""}}, "validation_failed"),
        ({"file": {"filename": "a.docx", "content_base64": "not base64!"}}, "invalid_base64"),
        (
            {
                "file": {
                    "filename": "a.doc",
                    "content_base64": base64.b64encode(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(8)).decode(),
                }
            },
            "document_old_word",
        ),  # fmt: skip
        ({"text": "   "}, "empty_draft"),
        ({"text": "第一条 甲。"}, "invalid_title"),
        ({"text": MESSY, "deadline": "2001-01-01T00:00:00Z"}, "invalid_deadline"),
        ({"text": MESSY, "deadline": "tomorrow"}, "validation_failed"),
        ({"text": MESSY, "unknown": 1}, "validation_failed"),
    ],
    ids=["nothing", "both", "bad-base64", "old-word", "blank", "no-title", "past", "bad-deadline", "extra-field"],
)
def test_create_draft_refusals(client, org, document, body, code):
    response = client.post("/api/v1/drafts", headers=org, json=body)
    assert response.status_code == 400 and response.json["error"]["code"] == code, response.json
    assert schema_errors(document, "createDraft", 400, response.json) == []
    assert db.session.scalars(select(Draft)).first() is None


def test_correct_the_split_then_publish(client, org, document):
    draft = client.post("/api/v1/drafts", headers=org, json={"text": MESSY}).json
    refused = client.post(f"/api/v1/drafts/{draft['id']}/publish", headers=org)
    assert refused.status_code == 400 and refused.json["error"]["code"] == "duplicate_article"
    assert refused.json["error"]["message"] == "第三条 appears twice. Correct the split first."

    structure = {
        "style": "article",
        "preamble": [],
        "headings": [{k: h[k] for k in ("level", "number", "title", "parent")} for h in draft["headings"]],
        "articles": [
            {k: a[k] for k in ("number", "suffix", "title", "paragraphs", "heading")} for a in draft["articles"]
        ],
    }
    structure["articles"][3]["number"] = 4
    response = client.patch(f"/api/v1/drafts/{draft['id']}", headers=org, json={"structure": structure})
    assert response.status_code == 200, response.json
    assert response.json["warnings"] == [] and [a["number"] for a in response.json["articles"]] == [1, 2, 3, 4]
    assert schema_errors(document, "updateDraft", 200, response.json) == []

    published = client.post(f"/api/v1/drafts/{draft['id']}/publish", headers=org)
    assert published.status_code == 200 and published.json["state"] == "published"
    assert published.json["published_at"] and published.json["url"]
    assert schema_errors(document, "publishDraft", 200, published.json) == []
    url = urlsplit(published.json["url"])
    assert str(draft["id"]) in url.path or parse_qs(url.query).get("draft_id") == [str(draft["id"])]

    again = client.post(f"/api/v1/drafts/{draft['id']}/publish", headers=org)
    assert again.status_code == 409 and again.json["error"]["code"] == "draft_published"
    frozen = client.patch(f"/api/v1/drafts/{draft['id']}", headers=org, json={"text": MESSY})
    assert frozen.status_code == 409 and frozen.json["error"]["code"] == "draft_published"
    later = (utcnow() + timedelta(days=60)).replace(microsecond=0).isoformat() + "Z"
    moved = client.patch(f"/api/v1/drafts/{draft['id']}", headers=org, json={"deadline": later})
    assert moved.status_code == 200 and moved.json["deadline"] == later
    assert actions() == ["draft.create", "draft.update", "draft.publish", "draft.update"]


@pytest.mark.parametrize(
    "change, code",
    [
        ({"structure": {"headings": [{"level": 2, "title": "章", "parent": 0}]}}, "invalid_structure"),
        ({"structure": {"articles": [{"number": 0, "paragraphs": ["甲。"]}]}}, "invalid_structure"),
        ({"structure": {"articles": [{"number": 1, "paragraphs": ["甲。"], "heading": 3}]}}, "invalid_structure"),
        ({"structure": {"headings": [{"level": 4, "title": "款"}]}}, "validation_failed"),
        ({"title": " "}, "invalid_title"),
        ({"deadline": "2001-01-01T00:00:00Z"}, "invalid_deadline"),
    ],
)
def test_update_refusals_change_nothing(client, org, change, code):
    draft = client.post("/api/v1/drafts", headers=org, json={"text": MESSY}).json
    response = client.patch(f"/api/v1/drafts/{draft['id']}", headers=org, json=change)
    assert response.status_code == 400 and response.json["error"]["code"] == code, response.json
    assert client.get(f"/api/v1/drafts/{draft['id']}", headers=org).json == draft


def test_publish_refuses_a_draft_without_articles_or_text(client, org):
    empty = client.post("/api/v1/drafts", headers=org, json={"text": "某规定\n第一条【目的】\n第二条 施行。"}).json
    response = client.post(f"/api/v1/drafts/{empty['id']}/publish", headers=org)
    assert response.status_code == 400 and response.json["error"]["code"] == "empty_article"
    nothing = client.post("/api/v1/drafts", headers=org, json={"text": "某规定\n没有条文。"}).json
    assert nothing["warnings"][0]["code"] == "no_articles"
    response = client.post(f"/api/v1/drafts/{nothing['id']}/publish", headers=org)
    assert response.status_code == 400 and response.json["error"]["code"] == "no_articles"
    missing = client.post("/api/v1/drafts/999/publish", headers=org)
    assert missing.status_code == 404 and missing.json["error"]["code"] == "draft_not_found"


def test_contact_points(client, org, document):
    district = client.post("/api/v1/contact-points", headers=org, json={"name": "杨浦区联系点", "kind": "district"})
    assert district.status_code == 201, district.json
    assert schema_errors(document, "createContactPoint", 201, district.json) == []
    point = client.post(
        "/api/v1/contact-points",
        headers=org,
        json={"name": "殷行街道联系点", "kind": "point", "parent_id": district.json["id"], "address": "殷行路1号"},
    ).json
    client.post("/api/v1/contact-points", headers=org, json={"name": "采集点", "kind": "collection",
                                                              "parent_id": point["id"]})  # fmt: skip
    listed = client.get("/api/v1/contact-points", headers=org)
    assert listed.status_code == 200 and schema_errors(document, "listContactPoints", 200, listed.json) == []
    items = listed.json["items"]
    assert [(p["name"], p["kind"]) for p in items] == [
        ("杨浦区联系点", "district"),
        ("殷行街道联系点", "point"),
        ("采集点", "collection"),
    ]
    assert all(parse_qs(urlsplit(p["url"]).query)["p"] == [p["code"]] for p in items)

    for body, status, code in [
        ({"name": "采集点", "kind": "collection", "parent_id": point["id"]}, 409, "duplicate_point"),
        ({"name": "新点", "kind": "collection", "parent_id": district.json["id"]}, 400, "invalid_parent"),
        ({"name": "新点", "kind": "point"}, 400, "invalid_parent"),
        ({"name": "新点", "kind": "point", "parent_id": 999}, 404, "contact_point_not_found"),
        ({"name": "新点", "kind": "street"}, 400, "validation_failed"),
        ({"name": "  ", "kind": "point", "parent_id": district.json["id"]}, 400, "invalid_name"),
    ]:
        response = client.post("/api/v1/contact-points", headers=org, json=body)
        assert (response.status_code, response.json["error"]["code"]) == (status, code), body
    assert db.session.query(ContactPoint).count() == 3


def test_who_may_call(client, org, as_role, bind_phone, make_deputies):
    draft = client.post("/api/v1/drafts", headers=org, json={"text": MESSY}).json
    staff = as_role("contact_staff")
    department = as_role("department")
    phone = {"Authorization": f"Bearer {bind_phone(make_deputies(1)[0])}"}
    reads = [("get", f"/api/v1/drafts/{draft['id']}", None), ("get", "/api/v1/contact-points", None)]
    writes = [
        ("post", "/api/v1/drafts", {"text": MESSY}),
        ("patch", f"/api/v1/drafts/{draft['id']}", {"title": "新标题"}),
        ("post", f"/api/v1/drafts/{draft['id']}/publish", None),
        ("post", "/api/v1/contact-points", {"name": "区联系点", "kind": "district"}),
    ]
    for method, path, body in reads:
        assert getattr(client, method)(path, headers=staff, json=body).status_code == 200, path
    for method, path, body in writes:
        response = getattr(client, method)(path, headers=staff, json=body)
        assert (response.status_code, response.json["error"]["code"]) == (403, "role_forbidden"), path
    for method, path, body in reads + writes:
        assert getattr(client, method)(path, headers=department, json=body).status_code == 403, path
        response = getattr(client, method)(path, headers=phone, json=body)
        assert (response.status_code, response.json["error"]["code"]) == (403, "organizer_only"), path
        assert getattr(client, method)(path, json=body).status_code == 401, path
    assert db.session.query(Draft).count() == 1 and db.session.query(ContactPoint).count() == 0


def test_markup_comes_back_as_data_never_as_a_page(client, org):
    title = "<script>alert(1)</script>"
    response = client.post("/api/v1/drafts", headers=org, json={"text": MESSY, "title": title})
    assert response.status_code == 201 and response.mimetype == "application/json"
    assert response.json["title"] == title  # stored as written; every page escapes it


def test_reads_change_nothing(client, org):
    draft = client.post("/api/v1/drafts", headers=org, json={"text": MESSY}).json
    before = actions()
    for _ in range(2):
        assert client.get(f"/api/v1/drafts/{draft['id']}", headers=org).json == draft
        assert client.get("/api/v1/contact-points", headers=org).status_code == 200
    assert actions() == before


@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_operations_are_documented(document, operation_id):
    found = [
        (path, method, item)
        for path, methods in document["paths"].items()
        for method, item in methods.items()
        if item["operationId"] == operation_id
    ]
    assert len(found) == 1
    _, method, item = found[0]
    assert item["summary"] and item["description"] and item["tags"] == ["consultations"]
    assert item["security"] == [{"organizerToken": []}] and {"401", "403"} <= set(item["responses"])
    if method in ("post", "patch") and operation_id != "publishDraft":
        assert item["requestBody"]["content"]["application/json"]["example"]
