"""The review API: listOpinions, suggestDuplicates, mergeOpinions, unmergeOpinion, handleOpinion,
importOpinions; roles, masked personal data, refusals that change nothing, and a merge race."""

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from voting.consultations import imports
from voting.consultations import operations as ops
from voting.consultations.models import Opinion
from voting.extensions import db

DRAFTS = Path(__file__).parent / "drafts"
CAMPAIGN = "坚决反对在我们小区旁边建设垃圾中转站，严重影响居民生活，请求重新选址！"


def sheet(rows, header=("条款", "意见内容", "提出人", "联系电话", "人数")):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


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
    other = ops.create_contact_point(organizer, "五角场街道基层立法联系点", "point", district)
    db.session.commit()
    return district, point, other


@pytest.fixture
def org(organizer, api_token):
    return api_token(organizer)


@pytest.fixture
def opinions(draft, network):
    _, point, _ = network
    article3 = next(a.id for a in draft.articles if a.number == 3)
    made = []
    for text, article_id in [
        (CAMPAIGN, article3),
        (CAMPAIGN + "——3号楼", article3),
        (CAMPAIGN + "联系我13812345678", article3),
        ("建议增加对老旧小区加装电梯的补贴规定。", article3),
        ("同意草案。", None),
    ]:
        opinion, _ = ops.submit_opinion(draft, text, article_id=article_id, point_code=point.code,
                                        contact_name="王五", contact_phone="13900139000")  # fmt: skip
        made.append(opinion)
    db.session.commit()
    return made


def people(opinion_id):
    db.session.expire_all()
    return db.session.get(Opinion, opinion_id).people_count


def test_list_opinions(client, org, draft, opinions, network):
    _, point, other = network
    response = client.get(f"/api/v1/drafts/{draft.id}/opinions?limit=2&order=newest", headers=org)
    body = response.get_json()
    assert response.status_code == 200 and body["total"] == 5
    assert [o["id"] for o in body["items"]] == [opinions[4].id, opinions[3].id]
    assert body["items"][0]["article_id"] is None and body["items"][0]["contact_point"] == "殷行街道基层立法联系点"
    text = client.get(f"/api/v1/drafts/{draft.id}/opinions?search=联系我", headers=org).get_data(as_text=True)
    assert "13812345678" not in text and "138****5678" in text
    assert "13900139000" not in text and "139****9000" in text and "王五" not in text
    article3 = next(a.id for a in draft.articles if a.number == 3)
    assert client.get(f"/api/v1/drafts/{draft.id}/opinions?article={article3}", headers=org).json["total"] == 4
    assert client.get(f"/api/v1/drafts/{draft.id}/opinions?article=general", headers=org).json["total"] == 1
    assert client.get(f"/api/v1/drafts/{draft.id}/opinions?point={point.id}", headers=org).json["total"] == 5
    assert client.get(f"/api/v1/drafts/{draft.id}/opinions?point={other.id}", headers=org).json["total"] == 0
    assert client.get(f"/api/v1/drafts/{draft.id}/opinions?status=open&channel=poster", headers=org).json["total"] == 5
    assert client.get(f"/api/v1/drafts/{draft.id}/opinions?article=99999", headers=org).status_code == 404
    assert client.get(f"/api/v1/drafts/{draft.id}/opinions?status=lost", headers=org).status_code == 400
    assert client.get("/api/v1/drafts/999/opinions", headers=org).status_code == 404


def test_suggest_then_merge_then_handle(client, org, draft, opinions):
    body = client.get(f"/api/v1/drafts/{draft.id}/duplicates", headers=org).get_json()
    assert body["compared"] == 5
    (group,) = body["groups"]
    assert group["representative_id"] == opinions[0].id and group["size"] == 3 and not group["exact"]
    assert group["merge_source_ids"] == [opinions[1].id, opinions[2].id]
    merged = client.post(
        f"/api/v1/drafts/{draft.id}/opinions/merge",
        headers=org,
        json={"target_id": group["representative_id"], "source_ids": group["merge_source_ids"]},
    )
    assert merged.status_code == 200, merged.get_json()
    assert merged.json["target"]["people_count"] == 3 and merged.json["merged"] == 2
    assert client.get(f"/api/v1/drafts/{draft.id}/duplicates", headers=org).json["groups"] == []
    handled = client.post(
        f"/api/v1/opinions/{opinions[0].id}/handling",
        headers=org,
        json={"outcome": "未采纳", "reason": "选址已论证", "reply": "感谢您的意见。"},
    )
    assert handled.status_code == 200 and handled.json["status"] == "not_adopted"
    tracked = client.get(f"/api/v1/opinions/tracking/{opinions[2].tracking_code}").get_json()
    assert tracked["status"] == "not_adopted" and tracked["reply"] == "感谢您的意见。"
    again = client.post(f"/api/v1/opinions/{opinions[1].id}/handling", headers=org, json={"outcome": "adopted"})
    assert again.status_code == 409 and again.json["error"]["code"] == "opinion_merged"
    back = client.post(f"/api/v1/opinions/{opinions[1].id}/unmerge", headers=org)
    assert back.status_code == 200 and back.json["status"] == "received" and people(opinions[0].id) == 2


def test_merge_and_handle_refusals(client, org, draft, opinions, organizer):
    other, _ = ops.create_draft(organizer, "某规定\n第一条 施行。")
    ops.publish_draft(organizer, other)
    db.session.commit()
    url = f"/api/v1/drafts/{draft.id}/opinions/merge"
    cases = [
        ({"target_id": opinions[0].id, "source_ids": []}, 400, "validation_failed"),
        ({"target_id": opinions[0].id, "source_ids": [opinions[0].id]}, 400, "merge_into_itself"),
        ({"target_id": 99999, "source_ids": [opinions[1].id]}, 404, "opinion_not_found"),
        ({"target_id": opinions[0].id, "source_ids": [99999]}, 404, "opinion_not_found"),
    ]
    for body, status, code in cases:
        response = client.post(url, headers=org, json=body)
        assert (response.status_code, response.json["error"]["code"]) == (status, code), body
    response = client.post(f"/api/v1/drafts/{other.id}/opinions/merge", headers=org,
                           json={"target_id": opinions[0].id, "source_ids": [opinions[1].id]})  # fmt: skip
    assert response.status_code == 404
    response = client.post(f"/api/v1/opinions/{opinions[0].id}/handling", headers=org, json={"outcome": "未采纳"})
    assert response.status_code == 400 and response.json["error"]["code"] == "reason_required"
    response = client.post(f"/api/v1/opinions/{opinions[0].id}/handling", headers=org, json={"outcome": "maybe"})
    assert response.status_code == 400
    response = client.post(f"/api/v1/opinions/{opinions[0].id}/unmerge", headers=org)
    assert response.status_code == 409 and response.json["error"]["code"] == "not_merged"
    assert db.session.scalar(select(func.count()).select_from(Opinion).where(Opinion.status != "received")) == 0


def test_roles(client, api_token, make_user, draft, opinions, network):
    _, point, _ = network
    staff = make_user("contact_staff")
    imports.assign_contact_point(None, staff, point)
    db.session.commit()
    headers = api_token(staff)
    for method, path in [
        ("get", f"/api/v1/drafts/{draft.id}/opinions"),
        ("get", f"/api/v1/drafts/{draft.id}/duplicates"),
        ("post", f"/api/v1/drafts/{draft.id}/opinions/merge"),
        ("post", f"/api/v1/opinions/{opinions[0].id}/handling"),
        ("post", f"/api/v1/opinions/{opinions[0].id}/unmerge"),
    ]:
        response = getattr(client, method)(path, headers=headers, json={})
        assert response.status_code == 403 and response.json["error"]["code"] == "role_forbidden", path
    assert client.get(f"/api/v1/drafts/{draft.id}/opinions").status_code == 401


def upload(client, headers, draft, data, point=None, filename="征询会.csv"):
    form = {"file": (io.BytesIO(data), filename)}
    if point is not None:
        form["point"] = point
    return client.post(f"/api/v1/drafts/{draft.id}/opinions/import", headers=headers, data=form,
                       content_type="multipart/form-data")  # fmt: skip


def test_import_opinions(client, api_token, make_user, org, draft, network):
    _, point, other = network
    staff = make_user("contact_staff")
    imports.assign_contact_point(None, staff, point)
    db.session.commit()
    headers = api_token(staff)
    response = upload(client, headers, draft, sheet([("第三条", "建议增加充电设施", "李四", "13800138000", "6")]))
    assert response.status_code == 200, response.get_json()
    assert response.json == {"rows": 1, "opinions": 1, "people": 6, "general": 0, "contacts": 1,
                             "contact_point_id": point.id}  # fmt: skip
    response = upload(client, headers, draft, sheet([("总体", "同意")]), point=str(other.id))
    assert response.status_code == 403 and response.json["error"]["code"] == "not_your_point"
    response = upload(client, org, draft, sheet([("总体", "同意")]), point=other.code.lower())
    assert response.status_code == 200 and response.json["contact_point_id"] == other.id
    response = upload(client, org, draft, sheet([("总体", "又一条")]))
    assert response.status_code == 400 and response.json["error"]["code"] == "point_required"
    response = upload(client, org, draft, sheet([("总体", "又一条")]), point="NOSUCH99")
    assert response.status_code == 404
    response = upload(
        client, org, draft, sheet([("第三条", "好"), ("第二百条", "无此条"), ("", "缺条款")]), point=str(point.id)
    )
    assert response.status_code == 400
    assert [(d["row"], d["code"]) for d in response.json["error"]["details"]] == [
        (3, "unknown_article"),
        (4, "required"),
    ]
    assert db.session.scalar(select(func.count()).select_from(Opinion)) == 2


def test_import_limits(client, org, draft, network):
    _, point, _ = network
    boundary = "apiboundary7MA4YWxkTrZu0gW"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="point"\r\n\r\n{point.id}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + b"x" * (51 * 1024 * 1024)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = client.post(f"/api/v1/drafts/{draft.id}/opinions/import", headers=org, data=body,
                           content_type=f"multipart/form-data; boundary={boundary}")  # fmt: skip
    assert response.status_code == 413 and "50 MB" in response.json["error"]["message"]
    response = upload(client, org, draft, b"", point=str(point.id), filename="")
    assert response.status_code == 400 and response.json["error"]["code"] == "file_required"
    assert db.session.scalar(select(func.count()).select_from(Opinion)) == 0


def test_merging_one_opinion_into_two_items_at_once(app, race, api_token, organizer, draft, opinions):
    headers = api_token(organizer)
    url = f"/api/v1/drafts/{draft.id}/opinions/merge"
    source = opinions[2].id

    def merge_into(target):
        return lambda client: client.post(url, headers=headers, json={"target_id": target, "source_ids": [source]})

    responses = race(app, [merge_into(opinions[0].id), merge_into(opinions[1].id)])
    assert sorted(r.status_code for r in responses) == [200, 409]
    db.session.expire_all()
    merged = db.session.get(Opinion, source)
    assert merged.status == "merged"
    assert people(opinions[0].id) + people(opinions[1].id) == 3
