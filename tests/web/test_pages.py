"""Organizer pages (roster import, activation cards, meeting detail, big screen), language, and page weight."""

import io
import math
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from voting.deputies.models import Deputy, DeputyDevice
from voting.deputies.operations import issue_activation_code
from voting.extensions import db
from voting.meetings.models import MeetingMember
from voting.qr import qr_matrix

HEADER = "姓名,代表证号,代表团,手机号码\n"


def upload(client, content, filename="roster.csv", json=False):
    data = {"file": (io.BytesIO(content), filename)}
    headers = {"Accept": "application/json"} if json else {}
    return client.post("/deputies/import", data=data, headers=headers, content_type="multipart/form-data")


def deputy_count():
    return db.session.scalar(select(func.count()).select_from(Deputy))


def member_of(meeting, deputy_id):
    db.session.expire_all()
    return db.session.get(MeetingMember, (meeting.id, deputy_id))


# -- roster import ------------------------------------------------------------------------------

BAD_ROSTERS = [
    pytest.param(
        HEADER + "张三,A001,第一代表团,\n李四,A001,第一代表团,\n,A003,第二代表团,\n",
        [("Row 3", "appears twice"), ("Row 4", "is empty")],
        id="duplicate-and-empty",
    ),
    pytest.param(
        HEADER + '张三,A001,第一代表团,\n=HYPERLINK("http://x"),A002,第一代表团,\n',
        [("Row 3", "formula")],
        id="formula",
    ),
    pytest.param(HEADER + "张三,A001,第一代表团,not a phone\n", [("Row 2", "not a phone number")], id="bad-phone"),
]


@pytest.mark.parametrize("content, problems", BAD_ROSTERS)
def test_a_bad_roster_imports_nothing_and_names_the_rows(staff, db_dump, content, problems):
    before = db_dump()
    response = upload(staff, content.encode("utf-8"))
    assert response.status_code == 400
    html = response.text
    assert "nothing was imported" in html
    items = re.findall(r"<li>(.*?)</li>", html)
    for row, words in problems:
        assert any(item.startswith(row + ":") and words in item for item in items), (row, words, items)
    assert 'id="import-form"' in html, "the form is shown again to upload the fixed file"
    assert db_dump() == before


@pytest.mark.parametrize(
    "content, filename, message",
    [
        (b"name,foo\nx,y\n", "roster.csv", "Required columns are missing"),
        (b"", "roster.csv", "no deputies"),
        (b"PK\x03\x04 not really a workbook", "roster.xlsx", "not a readable Excel"),
        (b"\xd0\xcf\x11\xe0", "roster.xls", "Old .xls files cannot be read"),
        (b"whatever", "roster.pdf", "Upload an Excel (.xlsx) or CSV (.csv) file."),
    ],
)
def test_an_unreadable_roster_file_says_why(staff, db_dump, content, filename, message):
    before = db_dump()
    response = upload(staff, content, filename)
    assert response.status_code == 400
    assert message in response.text
    assert db_dump() == before


def test_no_file_chosen(staff, db_dump):
    before = db_dump()
    response = staff.post("/deputies/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 400 and "Choose a file to upload." in response.text
    assert db_dump() == before


def test_a_good_roster_is_imported(staff, audit_count):
    before = audit_count()
    content = HEADER + "张三,A001,第一代表团,13800138000\n李四,A002,第二代表团,\n"
    response = upload(staff, content.encode("utf-8"))
    assert response.status_code == 302 and response.headers["Location"].endswith("/deputies")
    assert deputy_count() == 2 and audit_count() == before + 1
    page = staff.get("/deputies")
    assert "Imported 2 rows: 2 new, 0 updated, 0 unchanged." in page.text
    assert "张三" in page.text and "李四" in page.text


def xlsx(rows):
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_the_json_path_of_the_import_script(staff, make_deputies):
    make_deputies(1, prefix="A")  # A0001 exists and will be updated
    content = xlsx([["代表证号", "姓名", "代表团"], ["A0001", "改名", "第一代表团"], ["A0002", "新人", "第二代表团"]])
    response = upload(staff, content, "roster.xlsx", json=True)
    assert response.status_code == 200
    body = response.get_json()
    assert body["message"] == "Imported 2 rows: 1 new, 1 updated, 0 unchanged."
    assert (body["rows"], body["created"], body["updated"], body["unchanged"]) == (2, 1, 1, 0)
    assert body["redirect"] == "/deputies"
    assert deputy_count() == 2


def test_the_json_path_reports_row_errors(staff, db_dump):
    before = db_dump()
    content = (HEADER + "张三,A001,第一代表团,\n张三,A001,第一代表团,\n").encode()
    response = upload(staff, content, json=True)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "roster_invalid_rows" and "nothing was imported" in error["message"]
    assert [(d["row"], d["column"], d["code"]) for d in error["details"]] == [(3, "number", "duplicate_in_file")]
    assert db_dump() == before


def test_the_import_page_carries_the_scripts_texts(staff):
    html = staff.get("/deputies/import").text
    assert '<script src="/static/js/import.js" defer></script>' in html
    for key in ("uploading", "checking", "row", "failed"):
        assert re.search(rf'data-{key}="[^"]+"', html), key
    assert 'aria-live="polite"' in html


# -- activation cards ---------------------------------------------------------------------------


def pdf_pages(body):
    return len(re.findall(rb"/Type\s*/Page(?!s)", body))


def test_cards_for_deputies_without_one(staff, make_deputies, bind_phone, audit_count):
    deputies = make_deputies(10)
    bind_phone(deputies[0])
    before = audit_count()
    response = staff.post("/deputies/cards", data={"scope": "missing"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.data.startswith(b"%PDF-")
    assert pdf_pages(response.data) == math.ceil(9 / 8)
    assert audit_count() == before + 1
    db.session.expire_all()
    assert all(d.activation_code_hash for d in deputies[1:])
    assert (
        db.session.scalar(select(func.count()).select_from(DeputyDevice).where(DeputyDevice.revoked_at.is_(None))) == 1
    ), "the bound phone stays bound"

    # Everybody has a card now: "missing" makes no PDF and says so.
    response = staff.post("/deputies/cards", data={"scope": "missing"})
    assert response.status_code == 302
    assert "Every active deputy already has a card" in staff.get("/deputies/cards").text


def test_cards_for_everyone_revoke_old_cards_and_phones(staff, browser, make_deputies, phone, make_meeting, clock):
    deputies = make_deputies(17)
    bound = phone(deputies[0])
    old_code = issue_activation_code(None, deputies[1])
    db.session.commit()
    response = staff.post("/deputies/cards", data={"scope": "all"})
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/pdf"
    assert pdf_pages(response.data) == 3
    assert browser().get(f"/a/{old_code}").status_code == 404
    assert "This phone is not bound" in bound.get("/me").text
    meeting = make_meeting()
    assert bound.get(f"/c/{clock.fresh_code(meeting)}").status_code == 401


def test_cards_with_an_unknown_scope(staff, make_deputies, db_dump):
    make_deputies(2)
    before = db_dump()
    response = staff.post("/deputies/cards", data={"scope": "some"})
    assert response.status_code == 400
    assert db_dump() == before


def test_one_card_shown_on_screen(staff, make_deputies, browser):
    deputy = make_deputies(2)[0]
    response = staff.post(f"/deputies/{deputy.id}/activation-code")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    code = re.search(r'<p class="code">([A-Z0-9-]{19})</p>', response.text).group(1)
    assert f'href="http://localhost/a/{code}"' in response.text
    assert deputy.name in browser().get(f"/a/{code}").text


# -- meeting detail ----------------------------------------------------------------------------


@pytest.fixture
def meeting_of_three(make_deputies, make_meeting):
    deputies = make_deputies(3)
    return make_meeting("常委会第十次会议"), deputies


def counts_on(html):
    return {key: int(value) for key, value in re.findall(r'data-count="(\w+)">(\d+)<', html)}


def test_leave_is_granted_and_withdrawn(staff, meeting_of_three, audit_count):
    meeting, deputies = meeting_of_three
    before = audit_count()
    response = staff.post(
        f"/meetings/{meeting.id}/leave",
        data={"deputy_id": deputies[0].id, "on_leave": "1", "reason": "出差", "status": "all"},
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("#attendance")
    member = member_of(meeting, deputies[0].id)
    assert member.on_leave and member.leave_reason == "出差"
    page = staff.get(f"/meetings/{meeting.id}")
    assert counts_on(page.text) == {"expected": 3, "present": 0, "on_leave": 1, "not_arrived": 2}
    assert "leave recorded" in page.text and "出差" in page.text
    staff.post(f"/meetings/{meeting.id}/leave", data={"deputy_id": deputies[0].id, "on_leave": "0"})
    assert not member_of(meeting, deputies[0].id).on_leave
    assert audit_count() == before + 2


def test_leave_for_someone_not_expected(staff, meeting_of_three, make_deputies, db_dump):
    meeting, _ = meeting_of_three
    stranger = make_deputies(1, prefix="X")[0]
    before = db_dump()
    response = staff.post(f"/meetings/{meeting.id}/leave", data={"deputy_id": stranger.id, "on_leave": "1"})
    assert response.status_code == 404
    assert db_dump() == before


@pytest.mark.parametrize("action", ["manual-checkin", "undo-checkin"])
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_reason_is_required(staff, meeting_of_three, db_dump, action, reason):
    meeting, deputies = meeting_of_three
    if action == "undo-checkin":
        staff.post(f"/meetings/{meeting.id}/manual-checkin", data={"deputy_id": deputies[0].id, "reason": "迟到"})
    before = db_dump()
    data = {"deputy_id": deputies[0].id}
    if reason is not None:
        data["reason"] = reason
    response = staff.post(f"/meetings/{meeting.id}/{action}", data=data)
    assert response.status_code == 400
    assert re.search(r"A reason is required (for a manual sign-in|to undo a sign-in)\.", response.text)
    assert db_dump() == before


def test_manual_check_in_and_undo(staff, organizer, meeting_of_three, audit_count):
    meeting, deputies = meeting_of_three
    before = audit_count()
    response = staff.post(
        f"/meetings/{meeting.id}/manual-checkin",
        data={"deputy_id": deputies[1].id, "reason": "手机没电", "status": "not_arrived"},
    )
    assert response.status_code == 302
    assert "status=not_arrived" in response.headers["Location"], "the organizer stays on the same filter"
    member = member_of(meeting, deputies[1].id)
    assert member.checkin_method == "manual" and member.checkin_by_user_id == organizer.id
    assert member.checkin_reason == "手机没电"
    page = staff.get(f"/meetings/{meeting.id}?status=present")
    assert counts_on(page.text)["present"] == 1
    assert "手机没电" in page.text and deputies[1].name in page.text
    assert deputies[0].name not in page.text, "the filter shows present deputies only"

    again = staff.post(f"/meetings/{meeting.id}/manual-checkin", data={"deputy_id": deputies[1].id, "reason": "x"})
    assert again.status_code == 409 and "already signed in" in again.text

    response = staff.post(
        f"/meetings/{meeting.id}/undo-checkin", data={"deputy_id": deputies[1].id, "reason": "签错人"}
    )
    assert response.status_code == 302
    assert member_of(meeting, deputies[1].id).checked_in_at is None
    assert audit_count() == before + 2
    again = staff.post(f"/meetings/{meeting.id}/undo-checkin", data={"deputy_id": deputies[1].id, "reason": "x"})
    assert again.status_code == 409


def test_no_manual_check_in_before_sign_in_opens(staff, make_deputies, make_meeting, db_dump):
    deputies = make_deputies(2)
    meeting = make_meeting(open_signin=False)
    page = staff.get(f"/meetings/{meeting.id}")
    assert "Sign in by hand" not in page.text
    before = db_dump()
    response = staff.post(f"/meetings/{meeting.id}/manual-checkin", data={"deputy_id": deputies[0].id, "reason": "x"})
    assert response.status_code == 409
    assert db_dump() == before


@pytest.mark.parametrize("deputy_id", ["", "abc", "999999"])
def test_manual_check_in_needs_a_real_deputy(staff, meeting_of_three, db_dump, deputy_id):
    meeting, _ = meeting_of_three
    before = db_dump()
    response = staff.post(f"/meetings/{meeting.id}/manual-checkin", data={"deputy_id": deputy_id, "reason": "x"})
    assert response.status_code in (400, 404)
    assert db_dump() == before


def test_open_and_close_sign_in(staff, make_deputies, make_meeting, audit_count):
    make_deputies(2)
    meeting = make_meeting(open_signin=False)
    before = audit_count()
    assert staff.post(f"/meetings/{meeting.id}/signin/open").status_code == 302
    assert "Close sign-in" in staff.get(f"/meetings/{meeting.id}").text
    assert staff.post(f"/meetings/{meeting.id}/signin/close").status_code == 302
    assert "Reopen sign-in" in staff.get(f"/meetings/{meeting.id}").text
    assert staff.post(f"/meetings/{meeting.id}/signin/close").status_code == 409
    assert staff.post(f"/meetings/{meeting.id}/signin/reset").status_code == 400
    assert audit_count() == before + 2


def test_an_unknown_attendance_filter(staff, meeting_of_three):
    meeting, _ = meeting_of_three
    assert staff.get(f"/meetings/{meeting.id}?status=everyone").status_code == 400


def test_a_missing_meeting(staff):
    assert staff.get("/meetings/424242").status_code == 404


def test_a_new_meeting_through_the_form(staff, make_deputies, audit_count):
    make_deputies(6, delegations=3)
    page = staff.get("/meetings/new")
    assert page.status_code == 200 and "第1代表团" in page.text
    before = audit_count()
    response = staff.post(
        "/meetings/new",
        data={
            "title": "第一代表团会议",
            "location": "301",
            "starts_at": "2025-01-06T09:00",
            "delegations": ["第1代表团"],
            "quorum_numerator": "1",
            "quorum_denominator": "2",
        },
    )
    assert response.status_code == 302
    detail = staff.get(response.headers["Location"])
    assert counts_on(detail.text)["expected"] == 2
    assert "2025-01-06 09:00" in detail.text, "the time is shown as it was typed (Asia/Shanghai)"
    assert audit_count() == before + 1


@pytest.mark.parametrize(
    "data",
    [
        {"title": "", "quorum_numerator": "2", "quorum_denominator": "3"},
        {"title": "x", "quorum_numerator": "3", "quorum_denominator": "2"},
        {"title": "x", "quorum_numerator": "0", "quorum_denominator": "3"},
        {"title": "x", "quorum_numerator": "2", "quorum_denominator": "3", "starts_at": "tomorrow"},
        {"title": "x", "quorum_numerator": "2", "quorum_denominator": "3", "delegations": ["no such"]},
    ],
    ids=["no-title", "quorum-above-one", "quorum-zero", "bad-time", "unknown-delegation"],
)
def test_a_bad_new_meeting_form(staff, make_deputies, db_dump, data):
    make_deputies(3)
    before = db_dump()
    response = staff.post("/meetings/new", data=data)
    assert response.status_code == 400
    assert 'role="alert"' in response.text
    assert db_dump() == before


# -- the big screen ----------------------------------------------------------------------------


def svg_matrix(svg):
    """Read the QR modules back out of the screen's SVG (quiet zone removed)."""
    side = int(re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).group(1))
    grid = [[False] * side for _ in range(side)]
    for x, y, length in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", svg):
        for dx in range(int(length)):
            grid[int(y)][int(x) + dx] = True
    rows = [i for i, row in enumerate(grid) if any(row)]
    cols = [j for j in range(side) if any(row[j] for row in grid)]
    return [row[cols[0] : cols[-1] + 1] for row in grid[rows[0] : rows[-1] + 1]]


def test_screen_state_follows_the_meeting(staff, phone, make_deputies, make_meeting, clock, app):
    deputies = make_deputies(3)
    meeting = make_meeting(open_signin=False)
    state = staff.get(f"/meetings/{meeting.id}/screen.json")
    assert state.headers["Cache-Control"] == "no-store"
    state = state.get_json()
    assert state["code"] is None and "url" not in state and "qr_svg" not in state
    assert (state["expected"], state["present"], state["quorum_required"], state["quorum_met"]) == (3, 0, 2, False)
    assert "<svg" not in staff.get(f"/meetings/{meeting.id}/screen").text

    staff.post(f"/meetings/{meeting.id}/signin/open")
    code = clock.fresh_code(meeting)
    state = staff.get(f"/meetings/{meeting.id}/screen.json").get_json()
    assert state["code"] == code and state["state"] == "signin_open"
    assert state["url"] == f"http://localhost/c/{code}"
    assert 0 < state["seconds_left"] <= app.config["CHECKIN_CODE_PERIOD"]
    assert svg_matrix(state["qr_svg"]) == [[bool(m) for m in row] for row in qr_matrix(state["url"])]
    assert svg_matrix(state["qr_svg"]) != [[bool(m) for m in row] for row in qr_matrix(state["url"] + "x")]
    page = staff.get(f"/meetings/{meeting.id}/screen").text
    assert state["qr_svg"] in page and 'src="/static/js/screen.js"' in page

    for deputy, present, met in ((deputies[0], 1, False), (deputies[1], 2, True)):
        client = phone(deputy)
        page = client.get(f"/c/{state['code']}").text
        client.post(f"/c/{state['code']}", data={"ticket": re.search(r'name="ticket" value="([^"]+)"', page).group(1)})
        after = staff.get(f"/meetings/{meeting.id}/screen.json").get_json()
        assert (after["present"], after["not_arrived"], after["quorum_met"]) == (present, 3 - present, met)

    clock.advance(app.config["CHECKIN_CODE_PERIOD"])
    assert staff.get(f"/meetings/{meeting.id}/screen.json").get_json()["code"] != code, "the code rotates"

    staff.post(f"/meetings/{meeting.id}/signin/close")
    state = staff.get(f"/meetings/{meeting.id}/screen.json").get_json()
    assert state["code"] is None and state["present"] == 2
    assert "<svg" not in staff.get(f"/meetings/{meeting.id}/screen").text


@pytest.mark.parametrize("page", ["/screen", ""])
def test_counts_update_live_and_politely(staff, meeting_of_three, page):
    meeting, _ = meeting_of_three
    html = staff.get(f"/meetings/{meeting.id}{page}").text
    assert counts_on(html) == {"expected": 3, "present": 0, "on_leave": 0, "not_arrived": 3}
    assert re.search(r'<dl class="counts[^"]*" aria-live="polite"', html)
    assert re.search(r'<p class="quorum unmet" data-quorum aria-live="polite">', html)
    assert f'data-live="/meetings/{meeting.id}/screen.json"' in html
    assert '<script src="/static/js/screen.js" defer></script>' in html


# -- language ----------------------------------------------------------------------------------


def html_lang(response):
    return re.search(r'<html lang="([^"]+)">', response.text).group(1)


def test_chinese_by_default_english_on_request_and_remembered(client):
    first = client.get("/login")
    assert html_lang(first) == "zh-CN"
    assert "lang=" not in first.headers.get("Set-Cookie", "")
    english = client.get("/login?lang=en")
    assert html_lang(english) == "en"
    assert "lang=en" in english.headers["Set-Cookie"]
    assert html_lang(client.get("/login")) == "en", "the choice is remembered"
    assert html_lang(client.get("/a")) == "en", "on every page"
    assert html_lang(client.get("/login?lang=zh_CN")) == "zh-CN"
    assert html_lang(client.get("/login")) == "zh-CN"


@pytest.mark.parametrize("asked", ["fr", "zh", "en_US", "<script>"])
def test_an_unknown_language_falls_back_to_chinese(client, asked):
    response = client.get("/login", query_string={"lang": asked})
    assert html_lang(response) == "zh-CN"
    assert "lang=" not in response.headers.get("Set-Cookie", "")


def test_the_language_switch_keeps_the_page_and_its_query(signed_in, organizer, meeting_of_three):
    meeting, _ = meeting_of_three
    staff = signed_in(organizer)
    staff.set_cookie("lang", "zh_CN")
    html = staff.get(f"/meetings/{meeting.id}?status=present").text
    link = re.search(r'<a href="([^"]+)" lang="en" hreflang="en">English</a>', html).group(1).replace("&amp;", "&")
    assert link.startswith(f"/meetings/{meeting.id}?") and "status=present" in link and "lang=en" in link


# -- page weight on the phone ------------------------------------------------------------------


class Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and attrs.get("rel") == "stylesheet":
            self.urls.append(attrs["href"])
        elif tag in ("script", "img", "iframe") and attrs.get("src"):
            self.urls.append(attrs["src"])


def page_weight(client, response):
    parser = Assets()
    parser.feed(response.text)
    total = len(response.data)
    for url in parser.urls:
        parts = urlsplit(url)
        assert parts.netloc in ("", "localhost"), f"{url}: a phone in the hall may not reach other hosts"
        asset = client.get(parts.path)
        assert asset.status_code == 200, url
        total += len(asset.data)
        asset.close()
    return total


def test_phone_pages_stay_light(browser, make_deputies, make_meeting, clock):
    deputy = make_deputies(2)[0]
    code = issue_activation_code(None, deputy)
    db.session.commit()
    client = browser()
    pages = {"activate": client.get(f"/a/{code}")}
    client.post(f"/a/{code}")
    pages["me"] = client.get("/me")
    meeting = make_meeting()
    screen_code = clock.fresh_code(meeting)
    pages["scan"] = client.get(f"/c/{screen_code}")
    ticket = re.search(r'name="ticket" value="([^"]+)"', pages["scan"].text).group(1)
    pages["signed in"] = client.post(f"/c/{screen_code}", data={"ticket": ticket})
    assert "you are signed in" in pages["signed in"].text
    for name, response in pages.items():
        assert response.status_code == 200, name
        weight = page_weight(client, response)
        assert weight < 60 * 1024, f"{name}: {weight} bytes"


@pytest.fixture
def small_uploads(app_config):
    """Refuse request bodies over 4 KiB (request this before ``app``)."""
    app_config["MAX_CONTENT_LENGTH"] = 4096


@pytest.mark.parametrize("json", [False, True], ids=["page", "script"])
def test_a_too_large_roster_is_refused(small_uploads, staff, db_dump, json):
    before = db_dump()
    content = (HEADER + "".join(f"代表{i},N{i:05d},第一代表团,\n" for i in range(300))).encode()
    response = upload(staff, content, json=json)
    assert response.status_code == 413
    if json:
        assert response.get_json()["error"]["code"] == "too_large"
    else:
        assert "The upload is too large" in response.text
    assert db_dump() == before
