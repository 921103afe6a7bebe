"""The organizer's review pages: by article, filtered lists, duplicate suggestions with merge, the handling
form, and the staff's sheet import with row-numbered errors; roles, CSRF, escaping, GETs that change nothing."""

import csv
import io
import re
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from voting.consultations import imports, review
from voting.consultations import operations as ops
from voting.consultations.models import Opinion, OpinionStatus
from voting.extensions import db

DRAFTS = Path(__file__).parent / "drafts"
SCRIPT = "<script>alert(1)</script>"
CSRF_MESSAGE = "This form has expired or was not sent from this site."


def sheet(rows, header=("条款", "意见内容", "提出人", "联系电话", "人数")):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def csrf_token_of(html):
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    monkeypatch.setattr(
        "voting.accounts.models.generate_password_hash", partial(generate_password_hash, method="pbkdf2:sha256:1000")
    )


@pytest.fixture
def browser(app):
    """A new browser (cookie jar) reading English, so that better Chinese wording breaks no test."""

    def make():
        client = app.test_client()
        client.set_cookie("lang", "en")
        return client

    return make


@pytest.fixture
def signed_in(browser, login):
    def sign_in(user):
        client = browser()
        login(user, target=client)
        return client

    return sign_in


@pytest.fixture
def staff(signed_in, organizer):
    """A browser signed in as an organizer."""
    return signed_in(organizer)


@pytest.fixture
def db_dump(app):
    """Every committed row of every table but the session's last-seen time, read on a connection of its own."""

    def dump():
        tables = {}
        with db.engine.connect() as connection:
            for table in db.metadata.sorted_tables:
                columns = [c for c in table.columns if (table.name, c.name) != ("user_session", "last_seen_at")]
                rows = connection.execute(select(*columns).order_by(*table.primary_key.columns)).all()
                tables[table.name] = [tuple(repr(v) for v in row) for row in rows]
        return tables

    return dump


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
def opinions(draft, network):
    """A campaign of three on article 3 (one with a phone typed in), one other opinion there, one general."""
    _, point, _ = network
    article3 = next(a.id for a in draft.articles if a.number == 3)
    texts = [
        ("坚决反对在我们小区旁边建设垃圾中转站，严重影响居民生活，请求重新选址！", article3, "13812345678"),
        ("坚决反对在我们小区旁边建设垃圾中转站，严重影响居民生活，请求重新选址！！", article3, None),
        ("坚决反对在我们小区旁边建设垃圾中转站，严重影响居民生活，请求重新选址。电话13812345678", article3, None),
        (f"建议增加电梯维护的规定{SCRIPT}", article3, None),
        ("同意草案。", None, None),
    ]
    made = []
    for text, article_id, phone in texts:
        opinion, _ = ops.submit_opinion(draft, text, article_id=article_id, point_code=point.code,
                                        contact_name="王五" if phone else None, contact_phone=phone)  # fmt: skip
        made.append(opinion)
    db.session.commit()
    return made


@pytest.fixture
def staff_browser(signed_in, make_user, network, organizer):
    """A contact-point staff member of 殷行, signed in."""
    _, point, _ = network
    user = make_user("contact_staff", "yinhang")
    imports.assign_contact_point(organizer, user, point)
    db.session.commit()
    return signed_in(user)


def count():
    return db.session.scalar(select(func.count()).select_from(Opinion))


# -- reading -------------------------------------------------------------------------------------


def test_by_article_page(staff, draft, opinions):
    html = staff.get(f"/consultations/drafts/{draft.id}/review").text
    assert "Whole draft" in html and "第三条" in html
    article3 = next(a.id for a in draft.articles if a.number == 3)
    assert f"/review/opinions?article={article3}" in html
    assert f"/review/duplicates?article={article3}" in html


def test_the_list_filters_and_masks_personal_data(staff, draft, opinions):
    article3 = next(a.id for a in draft.articles if a.number == 3)
    html = staff.get(f"/consultations/drafts/{draft.id}/review/opinions?article={article3}").text
    assert "(4)" in html and "同意草案" not in html
    assert "13812345678" not in html and "138****5678" in html  # typed into the text and the contact phone
    assert "王*" in html and "王五" not in html
    assert SCRIPT not in html and "&lt;script&gt;" in html
    html = staff.get(f"/consultations/drafts/{draft.id}/review/opinions?article=general&status=open").text
    assert "同意草案" in html and "(1)" in html
    html = staff.get(f"/consultations/drafts/{draft.id}/review/opinions?q=%E7%94%B5%E6%A2%AF").text  # 电梯
    assert "(1)" in html


def test_suggested_duplicates_and_the_merge_button(staff, draft, opinions):
    article3 = next(a.id for a in draft.articles if a.number == 3)
    page = staff.get(f"/consultations/drafts/{draft.id}/review/duplicates?article={article3}")
    html = page.text
    assert page.status_code == 200 and "3 opinions" in html
    assert f'name="sources" value="{opinions[1].id},{opinions[2].id}"' in html
    assert "13812345678" not in html and SCRIPT not in html
    response = staff.post(
        f"/consultations/drafts/{draft.id}/review/merge",
        data={"target": opinions[0].id, "sources": f"{opinions[1].id},{opinions[2].id}",
              "next": f"/consultations/drafts/{draft.id}/review/duplicates?article={article3}"},
    )  # fmt: skip
    assert response.status_code == 302 and response.headers["Location"].endswith(f"duplicates?article={article3}")
    db.session.expire_all()
    assert db.session.get(Opinion, opinions[0].id).people_count == 3
    html = staff.get(response.headers["Location"]).text
    assert "2 opinions merged into opinion" in html and "No likely duplicates" in html


def test_merge_goes_back_only_to_a_review_page(staff, draft, opinions):
    response = staff.post(
        f"/consultations/drafts/{draft.id}/review/merge",
        data={"target": opinions[0].id, "sources": str(opinions[1].id), "next": "//evil.example/x"},
    )
    assert response.headers["Location"].endswith(f"/consultations/drafts/{draft.id}/review/duplicates")


def test_merge_refusals_are_clear_pages(staff, draft, opinions):
    response = staff.post(
        f"/consultations/drafts/{draft.id}/review/merge",
        data={"target": opinions[0].id, "sources": str(opinions[0].id)},
    )
    assert response.status_code == 400 and "cannot be merged into itself" in response.text
    response = staff.post(f"/consultations/drafts/{draft.id}/review/merge", data={"target": opinions[0].id})
    assert response.status_code == 400 and "Choose the opinions to merge" in response.text
    assert db.session.scalar(select(func.count()).select_from(Opinion).where(Opinion.status == "merged")) == 0


def test_handle_form(staff, draft, opinions):
    target = opinions[3]
    page = staff.get(f"/consultations/opinions/{target.id}")
    assert page.status_code == 200 and "&lt;script&gt;" in page.text and SCRIPT not in page.text
    response = staff.post(f"/consultations/opinions/{target.id}", data={"outcome": "not_adopted", "reply": "答复"})
    assert response.status_code == 400 and "Give the reason" in response.text
    response = staff.post(f"/consultations/opinions/{target.id}",
                          data={"outcome": "partly_adopted", "reason": SCRIPT, "reply": "已部分采纳",
                                "legal_text": "第三条 ……"})  # fmt: skip
    assert response.status_code == 302
    db.session.expire_all()
    handled = db.session.get(Opinion, target.id)
    assert (handled.status, handled.reason, handled.reply) == ("partly_adopted", SCRIPT, "已部分采纳")
    html = staff.get(f"/consultations/opinions/{target.id}").text
    assert SCRIPT not in html and "Withdraw the decision" in html
    assert staff.post(f"/consultations/opinions/{target.id}/reopen").status_code == 302
    db.session.expire_all()
    assert db.session.get(Opinion, target.id).status == OpinionStatus.RECEIVED


def test_merged_opinion_page_offers_unmerge(staff, draft, opinions, organizer):
    review.merge_opinions(organizer, opinions[0], [opinions[1]])
    db.session.commit()
    html = staff.get(f"/consultations/opinions/{opinions[1].id}").text
    assert f"Merged into opinion {opinions[0].id}" in html and "Save the decision" not in html
    html = staff.get(f"/consultations/opinions/{opinions[0].id}").text
    assert "1 opinion merged into this one" in html
    response = staff.post(f"/consultations/opinions/{opinions[1].id}/unmerge", data={"back": "target"})
    assert response.headers["Location"].endswith(f"/consultations/opinions/{opinions[0].id}")
    db.session.expire_all()
    assert db.session.get(Opinion, opinions[0].id).people_count == 1


def test_unpublished_drafts_have_nothing_to_review(staff, organizer):
    draft, _ = ops.create_draft(organizer, "某规定\n第一条 施行。")
    db.session.commit()
    assert staff.get(f"/consultations/drafts/{draft.id}/review").status_code == 400
    assert staff.get("/consultations/drafts/999/review").status_code == 404
    assert staff.get("/consultations/opinions/999").status_code == 404


# -- roles -----------------------------------------------------------------------------------------


def test_staff_may_import_but_not_review(staff_browser, draft, opinions):
    for path in (
        f"/consultations/drafts/{draft.id}/review",
        f"/consultations/drafts/{draft.id}/review/opinions",
        f"/consultations/drafts/{draft.id}/review/duplicates",
        f"/consultations/opinions/{opinions[0].id}",
    ):
        assert staff_browser.get(path).status_code == 403, path
    response = staff_browser.post(f"/consultations/drafts/{draft.id}/review/merge",
                                  data={"target": opinions[0].id, "sources": str(opinions[1].id)})  # fmt: skip
    assert response.status_code == 403
    assert staff_browser.get(f"/consultations/drafts/{draft.id}/import-opinions").status_code == 200


def test_signed_out_visitors_are_sent_to_sign_in(client, draft):
    response = client.get(f"/consultations/drafts/{draft.id}/review")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get(f"/consultations/drafts/{draft.id}/import-opinions").status_code == 302


# -- importing -------------------------------------------------------------------------------------


def upload(browser, draft, point, data, filename="征询会.csv", json=True):
    return browser.post(
        f"/consultations/drafts/{draft.id}/import-opinions",
        data={"point": str(point.id), "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
        headers={"Accept": "application/json"} if json else {},
    )


def test_staff_import_into_their_point(staff_browser, draft, network):
    _, point, other = network
    page = staff_browser.get(f"/consultations/drafts/{draft.id}/import-opinions").text
    assert f'<option value="{point.id}"' in page and f'<option value="{other.id}"' not in page
    assert "js/import.js" in page
    response = upload(staff_browser, draft, point, sheet([("第三条", "建议增加电梯维护的规定", "", "", "4")]))
    assert response.status_code == 200, response.text
    body = response.get_json()
    assert body["opinions"] == 1 and body["people"] == 4 and body["redirect"] is None
    assert "Imported 1 opinions raised by 4 people" in body["message"]
    assert count() == 1


def test_staff_cannot_import_into_another_point(staff_browser, draft, network):
    _, _, other = network
    response = upload(staff_browser, draft, other, sheet([("第三条", "意见", "", "", "")]))
    assert response.status_code == 400 and count() == 0  # not a choice of their form
    # Straight through the operation's check as well, as the API would reach it:
    response = staff_browser.post(f"/consultations/drafts/{draft.id}/import-opinions",
                                  data={"point": "abc"}, content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 400


def test_row_errors_are_listed_and_nothing_is_imported(staff, draft, network):
    _, point, _ = network
    data = sheet([("第三条", "好", "", "", ""), ("第九十九条", "无此条", "", "", ""), ("", SCRIPT, "", "", "")])
    response = upload(staff, draft, point, data)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "sheet_invalid_rows"
    assert [(d["row"], d["code"]) for d in error["details"]] == [(3, "unknown_article"), (4, "required")]
    html = upload(staff, draft, point, data, json=False)
    assert html.status_code == 400 and "Row 3" in html.text and "Row 4" in html.text
    assert count() == 0


def test_organizer_import_goes_on_to_the_list(staff, draft, network):
    _, point, _ = network
    response = upload(staff, draft, point, sheet([("总体", f"同意{SCRIPT}", "", "", "")]), json=False)
    assert response.status_code == 302 and f"point={point.id}" in response.headers["Location"]
    html = staff.get(response.headers["Location"]).text
    assert "Imported 1 opinions" in html and SCRIPT not in html and "&lt;script&gt;" in html


def multipart(fields, filename, payload, boundary="reviewboundary7MA4YWxkTrZu0gW"):
    """Encode a multipart body in memory (the test client would spool a large one to an unclosed temporary file)."""
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]  # fmt: skip
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: text/csv\r\n\r\n").encode()  # fmt: skip
    body = b"".join(parts) + head + payload + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_a_file_over_50_mb_is_refused_and_one_over_10_mb_is_read(staff, draft, network):
    _, point, _ = network
    body, content_type = multipart({"point": point.id}, "a.csv", b"x" * (51 * 1024 * 1024))
    response = staff.post(f"/consultations/drafts/{draft.id}/import-opinions", data=body, content_type=content_type,
                          headers={"Accept": "application/json"})  # fmt: skip
    assert response.status_code == 413
    assert "50 MB" in response.get_json()["error"]["message"]
    # Above the service's usual 10 MB limit the sheet is still read (and here found not to be text).
    body, content_type = multipart({"point": point.id}, "a.csv", b"\xff" * (12 * 1024 * 1024))
    response = staff.post(f"/consultations/drafts/{draft.id}/import-opinions", data=body, content_type=content_type,
                          headers={"Accept": "application/json"})  # fmt: skip
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "sheet_bad_encoding"
    assert count() == 0


# -- CSRF --------------------------------------------------------------------------------------------


@pytest.fixture
def csrf_on(app_config):
    app_config["WTF_CSRF_ENABLED"] = True


def test_every_review_form_needs_its_token(csrf_on, browser, organizer, draft, network, opinions, login):
    _, point, _ = network
    client = browser()
    token = csrf_token_of(client.get("/login").text)
    client.post("/login", data={"username": "organizer", "password": "correct horse battery", "csrf_token": token})
    forms = [
        (f"/consultations/drafts/{draft.id}/review/merge", {"target": opinions[0].id, "sources": opinions[1].id}),
        (f"/consultations/opinions/{opinions[3].id}", {"outcome": "adopted"}),
        (f"/consultations/opinions/{opinions[3].id}/reopen", {}),
        (f"/consultations/opinions/{opinions[1].id}/unmerge", {}),
        (f"/consultations/drafts/{draft.id}/import-opinions",
         {"point": point.id, "file": (io.BytesIO(sheet([("1", "意见")])), "a.csv")}),
    ]  # fmt: skip
    before = db.session.execute(select(Opinion.id, Opinion.status, Opinion.people_count)).all()
    for path, data in forms:
        response = client.post(path, data=data, content_type="multipart/form-data")
        assert response.status_code == 400 and CSRF_MESSAGE in response.text, path
    db.session.expire_all()
    assert db.session.execute(select(Opinion.id, Opinion.status, Opinion.people_count)).all() == before
    # With the page's own token the import goes through.
    page = client.get(f"/consultations/drafts/{draft.id}/import-opinions").text
    response = client.post(f"/consultations/drafts/{draft.id}/import-opinions",
                           data={"point": point.id, "csrf_token": csrf_token_of(page),
                                 "file": (io.BytesIO(sheet([("1", "意见")])), "a.csv")},
                           content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 302


def test_get_changes_nothing(staff, draft, opinions, db_dump):
    article3 = next(a.id for a in draft.articles if a.number == 3)
    staff.get(f"/consultations/drafts/{draft.id}/review")  # the session's first touch may write last_seen_at
    before = db_dump()
    for path in (
        f"/consultations/drafts/{draft.id}/review",
        f"/consultations/drafts/{draft.id}/review/opinions?status=open&order=people&page=2",
        f"/consultations/drafts/{draft.id}/review/duplicates?article={article3}",
        f"/consultations/drafts/{draft.id}/review/duplicates?article=all",
        f"/consultations/drafts/{draft.id}/review/merge",
        f"/consultations/opinions/{opinions[0].id}",
        f"/consultations/opinions/{opinions[0].id}/unmerge",
        f"/consultations/drafts/{draft.id}/import-opinions",
    ):
        assert staff.get(path).status_code in (200, 405), path
    assert db_dump() == before
