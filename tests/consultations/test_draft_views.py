"""Organizer pages for drafts: create by pasting or uploading, see the split and its warnings, correct it,
publish (and every refusal), close; escaping, CSRF, roles, and GETs that change nothing."""

import io
import re
import zipfile
from datetime import UTC, datetime, time, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from tests.web.test_accessibility import check_page
from voting.audit.models import AuditEntry
from voting.consultations import operations as ops
from voting.consultations.models import Draft, DraftState
from voting.extensions import db
from voting.timeutil import utcnow

DRAFTS = Path(__file__).parent / "drafts"
ZONE = ZoneInfo("Asia/Shanghai")
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
CSRF_MESSAGE = "This form has expired or was not sent from this site."

# A draft as pasted from a web page: a title on two lines, a heading without 第一章, full-width spaces,
# a bracketed title, an article glued to its text, a cross-reference, and one real mistake (第四条 twice).
MESSY = """某某区养犬管理规定
（草案征求意见稿）

总　则

第一条【立法目的】为了规范养犬行为，保障公民人身安全，制定本规定。
第二条　本规定适用于本区行政区域内的养犬管理。
第三条　养犬人应当依照本规定
第二条规定的范围办理养犬登记。
第四条　禁止携犬进入学校、医院。
第四条　本规定自2025年1月1日起施行。
"""


def draft_text(name):
    return (DRAFTS / name).read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    """A few hash rounds for test passwords: scrypt's deliberate slowness would dominate these tests."""
    monkeypatch.setattr(
        "voting.accounts.models.generate_password_hash", partial(generate_password_hash, method="pbkdf2:sha256:1000")
    )


@pytest.fixture
def signed_in(app, login):
    """A browser (English, so that a better translation breaks no test) signed in as ``user``."""

    def sign_in(user):
        browser = app.test_client()
        browser.set_cookie("lang", "en")
        login(user, target=browser)
        return browser

    return sign_in


@pytest.fixture
def staff(signed_in, organizer):
    return signed_in(organizer)


@pytest.fixture
def db_dump(app):
    """Every committed row of every table, read on a connection of its own."""

    def dump():
        tables = {}
        with db.engine.connect() as connection:
            for table in db.metadata.sorted_tables:
                columns = [c for c in table.columns if (table.name, c.name) != ("user_session", "last_seen_at")]
                rows = connection.execute(select(*columns).order_by(*table.primary_key.columns)).all()
                tables[table.name] = [tuple(repr(value) for value in row) for row in rows]
        return tables

    return dump


def audit_actions():
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    return [a for a in actions if a.startswith("draft.")]


def only_draft():
    db.session.expire_all()
    drafts = db.session.scalars(select(Draft)).all()
    assert len(drafts) == 1
    return drafts[0]


def version_of(html):
    return re.search(r'name="version" (?:type="hidden" )?value="([0-9a-f]+)"', html)[1]


def local_day(days):
    return (datetime.now(ZONE) + timedelta(days=days)).date()


def paste(staff, text=MESSY, **fields):
    data = {"text": text, "deadline": local_day(30).isoformat(), "title": "", "explanation": "", **fields}
    return staff.post("/consultations/new", data=data)


@pytest.fixture
def messy(staff):
    """The messy draft, pasted and split; the page's correction version."""
    response = paste(staff)
    assert response.status_code == 302, response.text
    return only_draft()


# -- create ----------------------------------------------------------------------------------------


def test_paste_a_draft_and_see_its_split_with_warnings(staff, organizer):
    page = staff.get("/consultations/new")
    assert page.status_code == 200
    assert f'value="{local_day(30).isoformat()}"' in page.text  # the deadline defaults to 30 days

    response = paste(staff, explanation="为了文明养犬。")
    draft = only_draft()
    assert response.status_code == 302 and response.location.endswith(f"/consultations/drafts/{draft.id}")
    assert draft.title == "某某区养犬管理规定（草案征求意见稿）" and draft.explanation == "为了文明养犬。"
    # Comments count until the end of the chosen day where the service is.
    assert draft.deadline == datetime.combine(local_day(30), time(23, 59, 59), ZONE).astimezone(UTC).replace(
        tzinfo=None
    )
    assert [(a.number, a.title) for a in draft.articles] == [
        (1, "立法目的"),
        (2, None),
        (3, None),
        (4, None),
        (4, None),
    ]
    assert draft.articles[2].paragraphs == ["养犬人应当依照本规定第二条规定的范围办理养犬登记。"]  # a cross-reference

    html = staff.get(response.location).text
    assert "The draft is split into 5 articles." in html
    check = html[html.index('id="check-heading"') : html.index('id="toc-heading"')]
    assert '<a href="#article-4">第四条 appears more than once.</a>' in check
    assert 'id="article-4"' in html and 'id="heading-0"' in html and "总则" in html
    assert "【立法目的】" in html and "为了规范养犬行为" in html
    assert audit_actions() == ["draft.create"]


def test_the_warnings_name_what_is_wrong_in_chinese(app, organizer, signed_in):
    client = signed_in(organizer)
    client.set_cookie("lang", "zh")
    draft, _ = ops.create_draft(organizer, draft_text("14_numbering_problems.txt"))
    db.session.commit()
    html = client.get(f"/consultations/drafts/{draft.id}").text
    for anchor in ("article-2", "article-3", "article-4", "article-5", "article-6", "article-7", "heading-1"):
        assert f'<a href="#{anchor}">' in html, anchor
    assert "第七条之一" in html and "第二章" in html  # the splitter's 第7条之1 and 第2章, written out
    assert "missing" not in html and "appears" not in html


def test_upload_a_docx_with_progress_answer_in_json(staff):
    body = "".join(
        f"<w:p><w:r><w:t>{line}</w:t></w:r></w:p>"
        for line in ["某某办法（草案）", "第一条 为了规范。", "第二条 施行。"]
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "word/document.xml",
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            f"<w:body>{body}</w:body></w:document>",
        )
    response = staff.post(
        "/consultations/new",
        data={"text": "", "deadline": local_day(40).isoformat(), "file": (io.BytesIO(buffer.getvalue()), "草案.docx")},
        content_type="multipart/form-data",
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    draft = only_draft()
    assert response.json["redirect"].endswith(f"/consultations/drafts/{draft.id}")
    assert "2 articles" in response.json["message"]
    assert draft.title == "某某办法（草案）" and [a.paragraphs for a in draft.articles] == [["为了规范。"], ["施行。"]]
    # The page the script goes to next shows the message the upload left.
    assert "The draft is split into 2 articles." in staff.get(response.json["redirect"]).text


def test_upload_a_gbk_text_file(staff):
    data = "某某规定\n第一条 为了规范。\n第二条 施行。".encode("gbk")
    response = staff.post(
        "/consultations/new",
        data={"deadline": local_day(30).isoformat(), "file": (io.BytesIO(data), "draft.txt")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert [a.number for a in only_draft().articles] == [1, 2]


@pytest.mark.parametrize(
    "fields, upload, message",
    [
        ({"text": ""}, None, "Paste the text of the draft or upload it as a file."),
        ({"text": " \u3000\n "}, None, "Paste the text of the draft or upload it as a file."),
        ({"text": "第一条 施行。"}, None, "A title of 1 to 200 characters is required."),
        ({"deadline": "2001-01-01"}, None, "The deadline for comments must be in the future."),
        ({"deadline": "not a date"}, None, "Not a valid date value."),
        ({"title": "题" * 201}, None, "A title can have at most 200 characters."),
        ({}, ("草案.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64)), "Save it as .docx and upload it again."),
        ({}, ("草案.pdf", b"%PDF-1.4"), "Upload the draft as a .docx or .txt file."),
    ],
    ids=["empty", "whitespace", "no-title", "past-deadline", "bad-date", "long-title", "old-word", "pdf"],
)
def test_bad_input_is_refused_with_a_message_and_changes_nothing(staff, db_dump, fields, upload, message):
    before = db_dump()
    data = {"text": MESSY, "deadline": local_day(30).isoformat(), **fields}
    if upload:
        data["file"] = (io.BytesIO(upload[1]), upload[0])
    response = staff.post("/consultations/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert message in response.text
    assert db_dump() == before
    # The upload script hears the same refusal as JSON.
    if upload:
        data["file"] = (io.BytesIO(upload[1]), upload[0])
    answer = staff.post(
        "/consultations/new", data=data, content_type="multipart/form-data", headers={"Accept": "application/json"}
    )
    assert answer.status_code == 400 and message in answer.json["error"]["message"]
    assert db_dump() == before


# -- correct the split -----------------------------------------------------------------------------


def test_correct_one_article_and_the_warning_goes(staff, messy):
    page = staff.get(f"/consultations/drafts/{messy.id}/articles/4")
    assert page.status_code == 200
    assert "本规定自2025年1月1日起施行。" in page.text
    response = staff.post(
        f"/consultations/drafts/{messy.id}/articles/4",
        data={
            "version": version_of(page.text),
            "number": "5",
            "suffix": "0",
            "title": " 施行日期 ",
            "heading": "0",
            "text": "本规定自2025年1月1日起施行。\n\n\n原规定同时废止。\r\n",
        },
    )
    assert response.status_code == 302 and response.location.endswith("#article-4")
    draft = only_draft()
    assert [a.number for a in draft.articles] == [1, 2, 3, 4, 5]
    assert draft.articles[4].title == "施行日期"
    assert draft.articles[4].paragraphs == ["本规定自2025年1月1日起施行。", "原规定同时废止。"]
    html = staff.get(f"/consultations/drafts/{messy.id}").text
    assert "No problems found" in html and "appears more than once" not in html
    assert audit_actions() == ["draft.create", "draft.update"]


def test_article_form_refuses_bad_values(staff, messy, db_dump):
    page = staff.get(f"/consultations/drafts/{messy.id}/articles/0")
    before = db_dump()
    version = version_of(page.text)
    base = {"version": version, "number": "1", "suffix": "0", "title": "", "heading": "0", "text": "甲。"}
    for change, message in [
        ({"number": "0"}, "Enter the article&#39;s number"),
        ({"number": "一"}, "Enter the article&#39;s number"),
        ({"text": "  "}, "An article needs its text."),
        ({"heading": "7"}, "Not a valid choice"),
        ({"text": "长" * (ops.MAX_PARAGRAPH_CHARS + 1)}, "has a paragraph that is too long"),
    ]:
        response = staff.post(f"/consultations/drafts/{messy.id}/articles/0", data={**base, **change})
        assert response.status_code == 400 and message in response.text, change
    assert db_dump() == before
    assert staff.get(f"/consultations/drafts/{messy.id}/articles/99").status_code == 404


def test_a_stale_page_cannot_overwrite_a_newer_correction(staff, messy, db_dump):
    page = staff.get(f"/consultations/drafts/{messy.id}/articles/4")
    old = version_of(page.text)
    fields = {"number": "5", "suffix": "0", "title": "", "heading": "0", "text": "本规定自2025年1月1日起施行。"}
    assert (
        staff.post(f"/consultations/drafts/{messy.id}/articles/4", data={"version": old, **fields}).status_code == 302
    )
    before = db_dump()
    again = staff.post(f"/consultations/drafts/{messy.id}/articles/4", data={"version": old, **fields, "number": "9"})
    assert again.status_code == 409 and "was changed in the meantime" in again.text
    assert "This article now reads:" in again.text
    merge = staff.post(f"/consultations/drafts/{messy.id}/restructure", data={"version": old, "op": "merge:4"})
    assert merge.status_code == 409 and "was changed in the meantime" in merge.text
    assert db_dump() == before


def test_merge_an_article_into_the_one_before(staff, messy):
    page = staff.get(f"/consultations/drafts/{messy.id}").text
    assert 'value="merge:4"' in page and 'value="merge:0"' not in page
    response = staff.post(
        f"/consultations/drafts/{messy.id}/restructure", data={"version": version_of(page), "op": "merge:4"}
    )
    assert response.status_code == 302 and response.location.endswith("#article-3")
    draft = only_draft()
    assert [a.number for a in draft.articles] == [1, 2, 3, 4]
    # The marker the splitter took for a new article is part of the text again.
    assert draft.articles[3].paragraphs == ["禁止携犬进入学校、医院。", "第四条 本规定自2025年1月1日起施行。"]


def test_split_an_article_at_a_paragraph(staff, organizer):
    draft, _ = ops.create_draft(organizer, "某规定\n第一条 甲。\n乙。\n第二条 施行。本条例第二条规定的事项除外。")
    db.session.commit()
    page = staff.get(f"/consultations/drafts/{draft.id}").text
    assert 'value="split:0:1"' in page and 'value="split:0:0"' not in page
    response = staff.post(
        f"/consultations/drafts/{draft.id}/restructure", data={"version": version_of(page), "op": "split:0:1"}
    )
    assert response.status_code == 302 and response.location.endswith("#article-1")
    draft = only_draft()
    assert [(a.number, a.paragraphs) for a in draft.articles] == [
        (1, ["甲。"]),
        (2, ["乙。"]),
        (2, ["施行。本条例第二条规定的事项除外。"]),
    ]


def test_split_takes_the_number_of_a_missed_article(staff, organizer):
    draft, _ = ops.create_draft(organizer, "某规定\n第一条 甲。\n第二条 乙。")
    ops.update_draft(
        organizer,
        draft,
        structure={"articles": [{"number": 1, "paragraphs": ["甲。", "第二条【施行】乙。"]}]},
    )
    db.session.commit()
    page = staff.get(f"/consultations/drafts/{draft.id}").text
    staff.post(f"/consultations/drafts/{draft.id}/restructure", data={"version": version_of(page), "op": "split:0:1"})
    assert [(a.number, a.title, a.paragraphs) for a in only_draft().articles] == [
        (1, None, ["甲。"]),
        (2, "施行", ["乙。"]),
    ]


@pytest.mark.parametrize("op", ["merge:0", "merge:99", "split:0:0", "split:0:5", "remove-heading:9", "drop:1", ""])
def test_corrections_that_do_not_apply_are_refused(staff, messy, db_dump, op):
    version = version_of(staff.get(f"/consultations/drafts/{messy.id}").text)
    before = db_dump()
    response = staff.post(f"/consultations/drafts/{messy.id}/restructure", data={"version": version, "op": op})
    assert response.status_code == 400
    assert "This correction does not apply" in response.text or "Unknown correction." in response.text
    assert db_dump() == before


def test_correct_and_remove_a_heading(staff, organizer):
    draft, _ = ops.create_draft(organizer, draft_text("14_numbering_problems.txt"))
    db.session.commit()
    page = staff.get(f"/consultations/drafts/{draft.id}/headings/1")
    assert page.status_code == 200 and "河道保护" in page.text
    response = staff.post(
        f"/consultations/drafts/{draft.id}/headings/1",
        data={"version": version_of(page.text), "level": "2", "number": "2", "title": "河道保护"},
    )
    assert response.status_code == 302
    assert [s.number for s in only_draft().sections] == [1, 2]
    html = staff.get(f"/consultations/drafts/{draft.id}").text
    assert "第二章 河道保护" in html and "is missing before the heading" not in html

    response = staff.post(
        f"/consultations/drafts/{draft.id}/restructure", data={"version": version_of(html), "op": "remove-heading:1"}
    )
    assert response.status_code == 302
    draft = only_draft()
    assert [s.title for s in draft.sections] == ["总则"]
    assert all(a.section.title == "总则" for a in draft.articles)  # its articles now stand under the one before


NOTED = f"""某某区物业管理规定
第一章 总则
第一条 为了规范物业管理，制定本规定。
第二章 物业服务
本章规定物业服务的一般要求。{SCRIPT}
第二条 物业服务企业应当公示收费标准。
第三条 本规定自2025年1月1日起施行。
附件：物业服务收费标准{IMG}
"""


def test_the_split_shows_heading_notes_and_the_trailer(staff, organizer):
    draft, _ = ops.create_draft(organizer, NOTED)
    db.session.commit()
    html = staff.get(f"/consultations/drafts/{draft.id}").text
    assert SCRIPT not in html and IMG not in html
    heading = html[html.index('id="heading-1"') : html.index('id="article-1"')]
    assert '<p class="cadmin-note">本章规定物业服务的一般要求。&lt;script&gt;alert(1)&lt;/script&gt;</p>' in heading
    trailer = html[html.index('id="article-2"') :]
    assert trailer.index("<h2>Attachments and notes</h2>") < trailer.index("附件：物业服务收费标准&lt;img")
    problems, _ = check_page(html)
    assert problems == []


def test_removing_a_heading_keeps_its_notes_under_the_heading_before(staff, organizer):
    draft, _ = ops.create_draft(organizer, NOTED)
    db.session.commit()
    html = staff.get(f"/consultations/drafts/{draft.id}").text
    response = staff.post(
        f"/consultations/drafts/{draft.id}/restructure", data={"version": version_of(html), "op": "remove-heading:1"}
    )
    assert response.status_code == 302
    draft = only_draft()
    assert [(s.title, s.notes) for s in draft.sections] == [("总则", [f"本章规定物业服务的一般要求。{SCRIPT}"])]
    assert draft.trailer == [f"附件：物业服务收费标准{IMG}"]


def test_replace_the_text_and_split_again(staff, messy):
    page = staff.get(f"/consultations/drafts/{messy.id}/text")
    assert page.status_code == 200 and "第四条　禁止携犬进入学校、医院。" in page.text
    fixed = MESSY.replace("第四条　本规定", "第五条　本规定")
    response = staff.post(
        f"/consultations/drafts/{messy.id}/text", data={"version": version_of(page.text), "text": fixed}
    )
    assert response.status_code == 302
    draft = only_draft()
    assert [a.number for a in draft.articles] == [1, 2, 3, 4, 5] and draft.source_text == fixed


def test_change_title_deadline_and_explanation(staff, messy):
    page = staff.get(f"/consultations/drafts/{messy.id}/details")
    assert page.status_code == 200 and f'value="{local_day(30).isoformat()}"' in page.text
    response = staff.post(
        f"/consultations/drafts/{messy.id}/details",
        data={"title": "养犬管理规定", "deadline": local_day(45).isoformat(), "explanation": "说明"},
    )
    assert response.status_code == 302
    draft = only_draft()
    assert (draft.title, draft.explanation) == ("养犬管理规定", "说明")
    assert draft.deadline.replace(tzinfo=UTC).astimezone(ZONE).date() == local_day(45)
    past = staff.post(f"/consultations/drafts/{messy.id}/details", data={"title": "x", "deadline": "2001-01-01"})
    assert past.status_code == 400 and "must be in the future" in past.text


# -- publish and close -----------------------------------------------------------------------------


def test_publish_refusals_are_shown_and_change_nothing(staff, messy, db_dump):
    before = db_dump()
    response = staff.post(f"/consultations/drafts/{messy.id}/publish")
    assert response.status_code == 400
    assert re.search(r'class="flash error" role="alert">第四条 appears twice. Correct the split first.<', response.text)
    assert db_dump() == before


def test_publish_refuses_an_empty_article_and_a_draft_without_articles(staff, organizer):
    empty, _ = ops.create_draft(organizer, "某规定\n第一条【目的】\n第二条 施行。")
    nothing, _ = ops.create_draft(organizer, "某规定\n没有条文。")
    db.session.commit()
    assert "第一条 has no text." in staff.post(f"/consultations/drafts/{empty.id}/publish").text
    html = staff.get(f"/consultations/drafts/{nothing.id}").text
    assert "No articles were found." in html
    response = staff.post(f"/consultations/drafts/{nothing.id}/publish")
    assert response.status_code == 400 and "The draft has no articles to comment on." in response.text


def test_publish_then_the_text_is_frozen_and_the_draft_can_close(staff, organizer):
    draft, _ = ops.create_draft(organizer, draft_text("01_district_regulation.txt"))
    db.session.commit()
    response = staff.post(f"/consultations/drafts/{draft.id}/publish", follow_redirects=True)
    assert response.status_code == 200 and "The draft is published" in response.text
    assert only_draft().state == DraftState.PUBLISHED
    html = response.text
    assert 'value="merge:' not in html and "/articles/0" not in html  # no more corrections offered
    assert "Posters for this draft" in html and "0 opinions" in html

    again = staff.post(f"/consultations/drafts/{draft.id}/publish")
    assert again.status_code == 409 and "can no longer be changed" in again.text
    assert staff.get(f"/consultations/drafts/{draft.id}/articles/0").status_code == 409
    version = corrections_version(staff, draft)
    frozen = staff.post(f"/consultations/drafts/{draft.id}/restructure", data={"version": version, "op": "merge:1"})
    assert frozen.status_code == 409
    # The deadline can still move; the title cannot.
    page = staff.get(f"/consultations/drafts/{draft.id}/details")
    assert 'name="title"' not in page.text
    later = local_day(60).isoformat()
    assert staff.post(f"/consultations/drafts/{draft.id}/details", data={"deadline": later}).status_code == 302

    confirm = staff.get(f"/consultations/drafts/{draft.id}/close")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    assert staff.post(f"/consultations/drafts/{draft.id}/close").status_code == 200  # no confirm: only the question
    assert only_draft().state == DraftState.PUBLISHED
    closed = staff.post(f"/consultations/drafts/{draft.id}/close", data={"confirm": "yes"})
    assert closed.status_code == 302 and only_draft().state == DraftState.CLOSED
    assert staff.post(f"/consultations/drafts/{draft.id}/close", data={"confirm": "yes"}).status_code == 409
    assert audit_actions() == ["draft.create", "draft.publish", "draft.update", "draft.close"]


def corrections_version(staff, draft):
    from voting.consultations import corrections

    return corrections.fingerprint(ops.structure_of(db.session.get(Draft, draft.id)).to_dict())


def test_the_list_shows_state_deadline_and_opinions(staff, organizer):
    draft, _ = ops.create_draft(organizer, draft_text("01_district_regulation.txt"))
    ops.publish_draft(organizer, draft)
    for i in range(3):
        ops.submit_opinion(draft, f"意见{i}", article_id=draft.articles[0].id if i else None)
    ops.create_draft(organizer, MESSY)
    db.session.commit()
    html = staff.get("/consultations").text
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)[1:]
    assert len(rows) == 2
    assert "某某区养犬管理规定" in rows[0] and "Being prepared" in rows[0]
    assert "Open for comment" in rows[1] and re.search(r'class="num">13</td>\s*<td class="num">3</td>', rows[1])
    assert re.search(r'<a href="/consultations" aria-current="page">Legislative consultation</a>', html)
    page = staff.get(f"/consultations/drafts/{draft.id}").text
    assert "3 opinions" in page and "2 opinions" in page  # the draft's, and its first article's


# -- escaping, CSRF, roles, GET safety ---------------------------------------------------------------


def test_markup_in_titles_and_text_is_shown_escaped(staff, organizer):
    text = f"{SCRIPT}规定\n第一章 {IMG}\n第一条【{SCRIPT}】{IMG}为了。\n第二条 施行。"
    draft, _ = ops.create_draft(organizer, text, explanation=IMG)
    db.session.commit()
    pages = [
        "/consultations",
        f"/consultations/drafts/{draft.id}",
        f"/consultations/drafts/{draft.id}/articles/0",
        f"/consultations/drafts/{draft.id}/headings/0",
        f"/consultations/drafts/{draft.id}/details",
        f"/consultations/drafts/{draft.id}/text",
    ]
    for path in pages:
        html = staff.get(path).text
        assert SCRIPT not in html and IMG not in html, path
        assert "&lt;script&gt;" in html or "&lt;img" in html, path
    # In a message too: the refusal names the article.
    ops.update_draft(organizer, draft, structure={"articles": [{"number": 1, "title": SCRIPT, "paragraphs": ["甲。"]},
                                                               {"number": 1, "paragraphs": [IMG]}]})  # fmt: skip
    db.session.commit()
    html = staff.post(f"/consultations/drafts/{draft.id}/publish").text
    assert SCRIPT not in html and IMG not in html and "第一条 appears twice" in html


@pytest.fixture
def csrf_on(app_config):
    """Check CSRF tokens as production does (request this before ``app``)."""
    app_config["WTF_CSRF_ENABLED"] = True


def test_every_form_needs_its_csrf_token(csrf_on, app, make_user, db_dump):
    user = make_user("organizer", "csrf")
    browser = app.test_client()
    browser.set_cookie("lang", "en")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', browser.get("/login").text)[1]
    browser.post("/login", data={"username": "csrf", "password": "correct horse battery", "csrf_token": token})
    draft, _ = ops.create_draft(user, MESSY)
    db.session.commit()
    version = version_of(browser.get(f"/consultations/drafts/{draft.id}").text)
    before = db_dump()
    posts = {
        "/consultations/new": {"text": MESSY, "deadline": local_day(30).isoformat()},
        f"/consultations/drafts/{draft.id}/details": {"title": "x", "deadline": local_day(30).isoformat()},
        f"/consultations/drafts/{draft.id}/articles/0": {"version": version, "number": "1", "text": "甲。"},
        f"/consultations/drafts/{draft.id}/headings/0": {"version": version, "level": "2", "title": "x"},
        f"/consultations/drafts/{draft.id}/restructure": {"version": version, "op": "merge:4"},
        f"/consultations/drafts/{draft.id}/text": {"version": version, "text": MESSY},
        f"/consultations/drafts/{draft.id}/publish": {},
        f"/consultations/drafts/{draft.id}/close": {"confirm": "yes"},
    }
    for path, data in posts.items():
        for forged in (None, "forged"):
            response = browser.post(path, data={**data, **({"csrf_token": forged} if forged else {})})
            assert response.status_code == 400 and CSRF_MESSAGE in response.text, path
    assert db_dump() == before
    # With the page's token the correction goes through.
    page = browser.get(f"/consultations/drafts/{draft.id}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    response = browser.post(
        f"/consultations/drafts/{draft.id}/restructure", data={"csrf_token": token, "version": version, "op": "merge:4"}
    )
    assert response.status_code == 302 and len(only_draft().articles) == 4


def test_who_may_see_and_change_drafts(app, make_user, signed_in, organizer, bind_phone, make_deputies, db_dump):
    draft, _ = ops.create_draft(organizer, MESSY)
    db.session.commit()
    department = signed_in(make_user("department"))
    staff_of_point = signed_in(make_user("contact_staff"))
    resident = app.test_client()
    phone = app.test_client()
    phone.set_cookie(app.config["DEVICE_COOKIE_NAME"], bind_phone(make_deputies(1)[0]))
    before = db_dump()
    reads = ["/consultations", f"/consultations/drafts/{draft.id}"]
    writes = [
        ("get", "/consultations/new"),
        ("post", "/consultations/new"),
        ("get", f"/consultations/drafts/{draft.id}/articles/0"),
        ("post", f"/consultations/drafts/{draft.id}/restructure"),
        ("post", f"/consultations/drafts/{draft.id}/publish"),
        ("post", f"/consultations/drafts/{draft.id}/close"),
    ]
    for path in reads:
        assert department.get(path).status_code == 403, path
        assert resident.get(path).status_code == 302 and phone.get(path).status_code == 302, path  # to sign in
        html = staff_of_point.get(path).text  # contact-point staff read
        assert "某某区养犬管理规定" in html and "Publish for comment" not in html and 'value="merge:' not in html
    for method, path in writes:
        assert getattr(department, method)(path).status_code == 403, path
        assert getattr(staff_of_point, method)(path).status_code == 403, path
        assert getattr(resident, method)(path).status_code == 302, path
        assert getattr(phone, method)(path).status_code == 302, path
    assert db_dump() == before


def test_no_get_changes_anything(staff, organizer, db_dump):
    draft, _ = ops.create_draft(organizer, draft_text("14_numbering_problems.txt"))
    published, _ = ops.create_draft(organizer, draft_text("01_district_regulation.txt"))
    ops.publish_draft(organizer, published)
    db.session.commit()
    staff.get("/consultations")  # the session's first touch may write last_seen_at
    before = db_dump()
    paths = ["/consultations", "/consultations/new"]
    for d in (draft, published):
        suffixes = ("", "/details", "/articles/0", "/headings/0", "/text", "/close", "/restructure", "/publish")
        paths += [f"/consultations/drafts/{d.id}{suffix}" for suffix in suffixes]
    statuses = {path: staff.get(path).status_code for path in paths}
    assert db_dump() == before
    assert statuses[f"/consultations/drafts/{draft.id}"] == 200
    assert statuses[f"/consultations/drafts/{draft.id}/restructure"] == 405
    assert statuses[f"/consultations/drafts/{published.id}/close"] == 200
    assert all(status < 500 for status in statuses.values())


def test_pages_read_well(staff, organizer):
    draft, _ = ops.create_draft(organizer, draft_text("14_numbering_problems.txt"), explanation="说明")
    published, _ = ops.create_draft(organizer, draft_text("01_district_regulation.txt"))
    ops.publish_draft(organizer, published)
    db.session.commit()
    paths = ["/consultations", "/consultations/new"]
    for d in (draft, published):
        paths += [f"/consultations/drafts/{d.id}", f"/consultations/drafts/{d.id}/details"]
    paths += [f"/consultations/drafts/{draft.id}/{p}" for p in ("articles/0", "headings/0", "text")]
    paths.append(f"/consultations/drafts/{published.id}/close")
    for path in paths:
        problems, _ = check_page(staff.get(path).text)
        assert problems == [], (path, problems)
    problems, _ = check_page(paste(staff, text="").text)  # a form answering with errors
    assert problems == []


def test_a_draft_that_does_not_exist(staff):
    assert staff.get("/consultations/drafts/404").status_code == 404
    assert staff.post("/consultations/drafts/404/publish").status_code == 404


def test_deadline_default_follows_the_setting(app, staff):
    app.config["CONSULTATION_COMMENT_DAYS"] = 45
    assert f'value="{local_day(45).isoformat()}"' in staff.get("/consultations/new").text
    assert utcnow() < ops.default_deadline()
    assert db.session.scalar(select(func.count()).select_from(Draft)) == 0
