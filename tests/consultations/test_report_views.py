"""The statistics page of a draft: figures, heat map and bars drawn by the server, who may see it, a point's
staff limited to their point, people's text escaped, and the export form with its progress page."""

import re
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from voting.audit.models import AuditEntry
from voting.consultations import operations as ops
from voting.consultations.models import Channel, Opinion, OpinionStatus, SubmitterType
from voting.extensions import db

DRAFT = Path(__file__).parent / "drafts" / "01_district_regulation.txt"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def consultation(app, organizer):
    """A published draft: four opinions on article 1 (one merged), one on article 2 through a collection point."""
    district = ops.create_contact_point(organizer, "区联系点", "district")
    point = ops.create_contact_point(organizer, "殷行街道联系点", "point", district)
    collection = ops.create_contact_point(organizer, "开鲁新村采集点", "collection", point)
    other = ops.create_contact_point(organizer, "五角场街道联系点", "point", district)
    draft, _ = ops.create_draft(organizer, DRAFT.read_text(encoding="utf-8"))
    ops.publish_draft(organizer, draft)
    db.session.commit()
    a1, a2 = draft.articles[0].id, draft.articles[1].id
    first = [ops.submit_opinion(draft, f"意见{i}", article_id=a1, point_code=other.code)[0] for i in range(3)]
    ops.submit_opinion(draft, "链接意见", article_id=a1)
    ops.submit_opinion(draft, "采集点意见", article_id=a2, point_code=collection.code, channel=Channel.IMPORT,
                       submitter_type=SubmitterType.STAFF)  # fmt: skip
    db.session.flush()
    first[1].transition(OpinionStatus.MERGED)
    first[1].merged_into_id = first[0].id
    first[0].people_count = 2
    first[0].transition(OpinionStatus.ADOPTED)
    first[0].handled_at = first[0].created_at
    db.session.commit()
    return draft, point, collection, other


def page(client, draft, **kwargs):
    return client.get(f"/consultations/drafts/{draft.id}/report", **kwargs)


def test_the_organizer_sees_the_figures(client, login, organizer, consultation):
    draft, *_ = consultation
    login(organizer)
    response = page(client, draft)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    counts = re.findall(r"<dd>([^<]+)</dd>", html)
    assert counts[:4] == ["5", "5", "4", "100.0%"]  # opinions, people (the merged one inside its item), items, rate
    # The heat map: article 1 has the most opinions (4), article 2 one, article 3 none.
    tiles = re.findall(r'<li class="heat heat-(\d)"[^>]*>\s*<span class="heat-label">([^<]+)</span>\s*'
                       r'<span class="heat-count">(\d+)', html)  # fmt: skip
    assert tiles[:3] == [("5", "第一条", "4"), ("1", "第二条", "1"), ("0", "第三条", "0")]
    assert len(tiles) == len(draft.articles)
    # Bars: SVG rectangles sized by attributes, the busiest point full width.
    assert '<rect class="report-bar" width="400.0"' in html
    assert "<style" not in html and "style=" not in html and "<script>" not in html.split("</main>")[0]
    # The export form and the CSV link.
    assert f"/consultations/drafts/{draft.id}/report/opinions.csv" in html
    assert 'name="include_contacts"' in html and 'value="xlsx"' in html


def test_roles(client, login, make_user, consultation):
    draft, *_ = consultation
    assert page(client, draft).status_code == 302  # to the sign-in page
    login(make_user("department"))
    assert page(client, draft).status_code == 403
    assert client.get(f"/consultations/drafts/{draft.id}/report/opinions.csv").status_code == 403


def test_staff_see_figures_but_export_nothing(client, login, make_user, consultation):
    draft, *_ = consultation
    staff = make_user("contact_staff")
    login(staff)
    response = page(client, draft)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert re.findall(r"<dd>([^<]+)</dd>", html)[:2] == ["5", "5"]  # not tied to a point: everything
    assert "include_contacts" not in html and "opinions.csv" not in html
    assert client.get(f"/consultations/drafts/{draft.id}/report/opinions.csv").status_code == 403
    assert client.post(f"/consultations/drafts/{draft.id}/report/exports", data={"format": "csv"}).status_code == 403


def test_a_points_staff_see_only_their_point(client, login, make_user, consultation):
    draft, point, collection, other = consultation
    staff = make_user("contact_staff")
    if not hasattr(staff, "contact_point_id"):
        pytest.skip("accounts are not tied to contact points (migration 0005)")
    staff.contact_point_id = point.id
    db.session.commit()
    login(staff)
    html = page(client, draft).get_data(as_text=True)
    assert re.findall(r"<dd>([^<]+)</dd>", html)[:2] == ["1", "1"]  # the collection point's one opinion
    assert "殷行街道联系点" in html and "开鲁新村采集点" in html and "五角场街道联系点" not in html
    assert 'role="note"' in html


def test_unknown_draft(client, login, organizer):
    login(organizer)
    assert client.get("/consultations/drafts/999/report").status_code == 404


def test_peoples_text_is_escaped(client, login, organizer, app):
    """Titles of drafts, articles and points come from people: shown as text, never markup."""
    text = f"{HOSTILE}条例（草案）\n第一条【{HOSTILE}】为了规范管理，制定本条例。\n第二条 本条例适用于本区。"
    draft, _ = ops.create_draft(organizer, text, title=f"{HOSTILE}条例")
    ops.create_contact_point(organizer, HOSTILE, "district")
    ops.publish_draft(organizer, draft)
    db.session.commit()
    ops.submit_opinion(draft, HOSTILE, article_id=draft.articles[0].id)
    db.session.commit()
    login(organizer)
    html = page(client, draft).get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html or "&lt;script&gt;alert(&quot;x&quot;)" in html


def test_the_page_changes_nothing(client, login, organizer, consultation):
    draft, *_ = consultation
    login(organizer)
    page(client, draft)  # the session's first touch may write last_seen_at

    def state():
        db.session.expire_all()
        return (db.session.scalar(select(func.count()).select_from(AuditEntry)),
                db.session.execute(select(Opinion.id, Opinion.status, Opinion.people_count)).all())  # fmt: skip

    before = state()
    assert page(client, draft).status_code == 200
    assert client.get(f"/consultations/drafts/{draft.id}/report/opinions.csv", buffered=True).status_code == 200
    assert state() == before


def test_export_form_runs_a_job_with_a_progress_page(client, login, organizer, consultation, app, tmp_path):
    app.instance_path = str(tmp_path / "instance")
    draft, *_ = consultation
    login(organizer)
    started = client.post(f"/consultations/drafts/{draft.id}/report/exports", data={"format": "xlsx"})
    assert started.status_code == 302
    job_page = started.headers["Location"]
    html = client.get(job_page).get_data(as_text=True)
    assert "consult_reports.js" in html and "data-export-status" in html and "<progress" in html
    status_url = re.search(r'data-export-status="([^"]+)"', html).group(1)
    deadline = time.monotonic() + 60
    while (state := client.get(status_url).json)["state"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state["state"] == "done" and state["percent"] == 100
    assert state["total"] == 4  # four items: the merged opinion is inside its item
    download = client.get(state["download_url"])
    assert download.status_code == 200 and download.data.startswith(b"PK")
    download.close()
    html = client.get(job_page).get_data(as_text=True)
    assert 'data-export-download href="' in html and "hidden" not in html.split("data-export-download")[1][:200]


def test_export_form_refuses_an_unknown_format(client, login, organizer, consultation):
    draft, *_ = consultation
    login(organizer)
    response = client.post(f"/consultations/drafts/{draft.id}/report/exports", data={"format": "docx"})
    assert response.status_code == 400


def test_a_job_page_of_someone_else_is_not_found(client, login, organizer, make_user, consultation, app, tmp_path):
    app.instance_path = str(tmp_path / "instance")
    draft, *_ = consultation
    login(organizer)
    job_page = client.post(f"/consultations/drafts/{draft.id}/report/exports", data={"format": "pdf"}).headers[
        "Location"
    ]
    other = app.test_client()
    login(make_user("organizer"), target=other)
    assert other.get(job_page).status_code == 404
    assert other.get(job_page + "/status.json").status_code == 404
    assert other.get(job_page + "/file").status_code == 404
    # Let the job finish before the test's database goes away.
    deadline = time.monotonic() + 60
    while client.get(job_page + "/status.json").json["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_the_api_gives_the_same_figures(client, organizer, api_token, make_user, consultation):
    draft, point, *_ = consultation
    response = client.get(f"/api/v1/drafts/{draft.id}/stats", headers=api_token(organizer))
    assert response.status_code == 200
    data = response.json
    assert (data["opinions"], data["people"], data["items"], data["merged"]) == (5, 5, 4, 1)
    assert data["adoption"] == {"adopted": 1, "partly_adopted": 0, "not_adopted": 0, "pending": 3, "reported": 1,
                                "rate": 1.0}  # fmt: skip
    assert [a["heat"] for a in data["articles"][:3]] == [5, 1, 0]
    assert client.get("/api/v1/drafts/999/stats", headers=api_token(organizer)).status_code == 404
    assert client.get(f"/api/v1/drafts/{draft.id}/stats", headers=api_token(make_user("department"))).status_code == 403
    staff = make_user("contact_staff")
    staff.contact_point_id = point.id
    db.session.commit()
    scoped = client.get(f"/api/v1/drafts/{draft.id}/stats", headers=api_token(staff)).json
    assert scoped["opinions"] == 1 and sorted(scoped["scope"]) == sorted(p["contact_point_id"]
                                                                         for p in scoped["contact_points"])  # fmt: skip
