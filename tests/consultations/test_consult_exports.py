"""Exports of a draft's opinions: the 意见建议汇总表 as XLSX and PDF, the raw opinions as CSV; formula text
stays text, contact details only when asked and then masked, numbers typed into text masked, background jobs."""

import csv
import io
import json
import re
import shutil
import subprocess
import time
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import select

from voting.audit.models import AuditEntry
from voting.consultations import export_jobs, exports
from voting.consultations import operations as ops
from voting.consultations.models import Channel, Opinion, OpinionStatus, SubmitterType, format_tracking_code
from voting.extensions import db

needs_poppler = pytest.mark.skipif(
    not (shutil.which("pdftotext") and shutil.which("pdffonts")), reason="needs poppler-utils (apt-get install)"
)
DRAFT = Path(__file__).parent / "drafts" / "01_district_regulation.txt"
FORMULA = '=HYPERLINK("http://evil.example","点我")'
SCRIPT = "<script>alert(1)</script>&"
PHONE_IN_TEXT = "有问题请打13812345678或身份证110101199001011237联系"
CONTACT_PHONE = "13987654321"


@pytest.fixture
def consultation(app, organizer):
    """A published draft: an adopted item with two opinions merged into it (from two sources), a formula, markup,
    phone and ID numbers in the text and the reply, contact details, an opinion on the whole draft."""
    district = ops.create_contact_point(organizer, "区联系点", "district")
    point = ops.create_contact_point(organizer, "殷行街道联系点", "point", district)
    draft, _ = ops.create_draft(organizer, DRAFT.read_text(encoding="utf-8"))
    ops.publish_draft(organizer, draft)
    db.session.commit()
    a1, a2 = draft.articles[0], draft.articles[1]

    def submit(text, article=None, **kwargs):
        return ops.submit_opinion(draft, text, article_id=article.id if article else None, **kwargs)[0]

    item = submit("建议明确物业服务标准", a1, point_code=point.code, contact_name="张三", contact_phone=CONTACT_PHONE)
    twin = submit("物业服务标准应当明确", a1)
    triplet = submit("同上", a1, point_code=point.code, channel=Channel.IMPORT, submitter_type=SubmitterType.STAFF)
    formula = submit(FORMULA, a2)
    script = submit(SCRIPT, a2)
    phone = submit(PHONE_IN_TEXT, a2)
    whole = submit("总体赞成", contact_name="李四")
    db.session.flush()
    for other in (twin, triplet):
        other.transition(OpinionStatus.MERGED)
        other.merged_into_id = item.id
        item.people_count += 1
    item.transition(OpinionStatus.ADOPTED)
    item.handled_at = item.created_at
    item.legal_text = "物业服务企业应当按照合同约定的标准提供服务。"
    item.reason = "符合上位法"
    item.reply = "已采纳，联系电话13612345678"
    db.session.commit()
    return SimpleNamespace(draft=draft, point=point, item=item, twin=twin, triplet=triplet, formula=formula,
                           script=script, phone=phone, whole=whole, articles=(a1, a2))  # fmt: skip


@pytest.fixture
def org(organizer, api_token):
    return api_token(organizer)


def wait_for(client, headers, job, timeout=60):
    """Poll getOpinionExport until the job is done; return its final state."""
    deadline = time.monotonic() + timeout
    while True:
        state = client.get(job["status_url"], headers=headers).json
        if state["state"] in ("done", "failed") or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def export(client, headers, draft, fmt, **body):
    response = client.post(f"/api/v1/drafts/{draft.id}/exports", json={"format": fmt, **body}, headers=headers)
    assert response.status_code == 202, response.json
    job = wait_for(client, headers, response.json)
    assert job["state"] == "done", job
    assert job["percent"] == 100 and job["done"] == job["total"]
    download = client.get(job["download_url"], headers=headers)
    assert download.status_code == 200
    assert download.data  # read the file, then let go of it
    download.close()
    assert download.headers["Cache-Control"] == "no-store"
    return download


def cells(path_or_bytes):
    book = openpyxl.load_workbook(io.BytesIO(path_or_bytes))
    sheet = book.worksheets[0]
    return sheet, [[c for c in row] for row in sheet.iter_rows()]


def raw_text(data):
    """Every byte of every part of an .xlsx, as text: what anyone unzipping the file would see."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return "".join(archive.read(name).decode("utf-8") for name in archive.namelist())


# -- XLSX ------------------------------------------------------------------------------------------


def test_xlsx_summary_reads_back(client, org, consultation):
    response = export(client, org, consultation.draft, "xlsx")
    assert response.mimetype == exports.MIMETYPES["xlsx"]
    assert f"draft-{consultation.draft.id}-summary.xlsx" in response.headers["Content-Disposition"]
    sheet, rows = cells(response.data)
    assert consultation.draft.title in rows[0][0].value  # the title over the table, merged across
    assert "A1" in str(sheet.merged_cells.ranges) and sheet.freeze_panes == "A4"
    headers = [c.value for c in rows[2]]
    assert len(headers) == 11  # no contact column unless asked
    body = [[c.value for c in row] for row in rows[3:]]
    assert [row[0] for row in body] == list(range(1, 6))  # five items: the two merged opinions are inside one
    # Whole-draft opinions first, then article by article in the draft's order.
    whole, item, *article2 = body
    assert whole[3] == "总体赞成" and whole[2] is None
    assert item[1] == "第一条【目的和依据】" or item[1].startswith("第一条")
    assert item[2] == "\n".join(consultation.articles[0].paragraphs)  # the original text, on the first row
    assert (item[3], item[4], item[5], item[6]) == (
        "建议明确物业服务标准",
        "物业服务企业应当按照合同约定的标准提供服务。",
        3,
        3,
    )
    assert "殷行街道联系点" in item[7] and item[7].count("×1") == 3  # three sources, one opinion each
    assert item[9] == "符合上位法" and item[10] == "已采纳，联系电话136****5678"
    assert [row[2] for row in article2] == ["\n".join(consultation.articles[1].paragraphs), None, None]
    texts = {row[3] for row in article2}
    assert FORMULA in texts and SCRIPT in texts
    # Formula text stays text: a string cell, never a formula.
    formula_cell = next(row[3] for row in rows[3:] if row[3].value == FORMULA)
    assert formula_cell.data_type == "s"
    assert "<f>" not in raw_text(response.data)
    # Numbers typed into the text are masked; the contact phone is nowhere in the file.
    assert "有问题请打138****5678或身份证110***********1237联系" in texts
    everything = raw_text(response.data)
    for secret in ("13812345678", "110101199001011237", "13612345678", CONTACT_PHONE, "张三", "李四"):
        assert secret not in everything, secret


def test_xlsx_with_contacts_masks_them_and_is_logged(client, org, consultation):
    response = export(client, org, consultation.draft, "xlsx", include_contacts=True)
    _, rows = cells(response.data)
    assert len(rows[2]) == 12
    body = {row[3].value: row[11].value for row in rows[3:]}
    assert body["建议明确物业服务标准"] == "张* 139****4321"
    assert body["总体赞成"] == "李*"
    assert CONTACT_PHONE not in raw_text(response.data)
    logged = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "draft.export_contacts")).all()
    assert len(logged) == 1 and json.loads(logged[0].details)["format"] == "xlsx"


def test_exports_without_contacts_are_not_logged(client, org, consultation):
    export(client, org, consultation.draft, "csv")
    assert not db.session.scalars(select(AuditEntry).where(AuditEntry.action == "draft.export_contacts")).all()


# -- PDF -------------------------------------------------------------------------------------------


def pdf_tools(tmp_path, data):
    path = tmp_path / "summary.pdf"
    path.write_bytes(data)
    tools = {"pdftotext": ["-raw", str(path), "-"], "pdffonts": [str(path)], "pdfinfo": [str(path)]}
    run = {tool: subprocess.run([tool, *args], capture_output=True, check=True, text=True).stdout
           for tool, args in tools.items()}  # fmt: skip
    return run["pdftotext"], run["pdffonts"], run["pdfinfo"]


@needs_poppler
def test_pdf_summary_has_chinese_text_and_an_embedded_font(client, org, consultation, tmp_path):
    response = export(client, org, consultation.draft, "pdf")
    assert response.mimetype == "application/pdf"
    text, fonts, info = pdf_tools(tmp_path, response.data)
    flat = re.sub(r"\s+", "", text)
    expected_texts = (consultation.draft.title, "建议明确物业服务标准", "第一条", "总体赞成", SCRIPT, "=HYPERLINK",
                      "138****5678", "殷行街道联系点")  # fmt: skip
    for expected in expected_texts:
        assert re.sub(r"\s+", "", expected) in flat, expected
    assert "13812345678" not in flat and CONTACT_PHONE not in flat
    font_rows = [line.split() for line in fonts.splitlines()[2:]]
    assert font_rows and all("WenQuanYi" in row[0] for row in font_rows), fonts
    assert all(row[-5:-2] == ["yes", "yes", "yes"] for row in font_rows), fonts  # embedded, subset, unicode
    assert "Page size:" in info and "landscape" not in info  # pdfinfo gives the size: wider than high
    width, height = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info).groups())
    assert width > height


@needs_poppler
def test_a_long_pdf_numbers_its_pages_and_splits_long_cells(app, client, org, consultation, tmp_path):
    """Two hundred items and an opinion longer than a page: the lazy story builds it, every page says "of N"."""
    draft = consultation.draft
    article = consultation.articles[1]
    long_text = "很长的意见" * 900  # 4,500 characters: several rows' worth, never one row taller than a page
    ops.submit_opinion(draft, long_text, article_id=article.id)
    for i in range(200):
        ops.submit_opinion(draft, f"第{i}条意见，建议修改", article_id=consultation.articles[i % 2].id)
    db.session.commit()
    response = export(client, org, draft, "pdf")
    text, _, info = pdf_tools(tmp_path, response.data)
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert pages > 3
    footers = re.findall(r"第\s*(\d+)\s*页，共\s*(\d+)\s*页", text)
    assert [int(p) for p, _ in footers] == list(range(1, pages + 1))
    assert {int(total) for _, total in footers} == {pages}
    assert "第199条意见" in re.sub(r"\s+", "", text)
    assert text.count("很") == 900  # every character of the long opinion, spread over continuation rows


# -- CSV -------------------------------------------------------------------------------------------


def read_csv(data):
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def rows_by_code(rows):
    """The CSV's opinions by their stored tracking code; the file shows each as the receipt prints it."""
    by_code = {}
    for row in rows:
        assert re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}", row[0]), row[0]
        by_code[row[0].replace("-", "")] = row
    return by_code


def test_csv_of_raw_opinions_streams_with_bom(client, login, organizer, consultation):
    login(organizer)
    # buffered: the test client reads the whole stream inside the request's own context, as a server does.
    response = client.get(f"/consultations/drafts/{consultation.draft.id}/report/opinions.csv", buffered=True)
    assert response.status_code == 200 and "Content-Length" not in response.headers  # streamed, length unknown
    assert response.mimetype == "text/csv"
    assert f"draft-{consultation.draft.id}-opinions.csv" in response.headers["Content-Disposition"]
    assert quote("全部意见-") in response.headers["Content-Disposition"]  # not 意见数, the column's word
    rows = read_csv(response.data)
    header, body = rows[0], rows[1:]
    assert len(header) == 10 and len(body) == 7  # every opinion as received, merged ones too
    c = consultation
    by_code = rows_by_code(body)
    assert by_code[c.item.tracking_code][0] == format_tracking_code(c.item.tracking_code)  # as on the receipt
    assert by_code[c.twin.tracking_code][8] == format_tracking_code(c.item.tracking_code)  # merged into
    assert by_code[c.item.tracking_code][9] == "3"
    assert by_code[c.formula.tracking_code][3] == "'" + FORMULA  # a formula becomes text
    assert by_code[c.script.tracking_code][3] == SCRIPT
    assert by_code[c.phone.tracking_code][3] == "有问题请打138****5678或身份证110***********1237联系"
    assert by_code[c.item.tracking_code][6] == "殷行街道联系点"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", by_code[c.item.tracking_code][1])
    flat = response.data.decode("utf-8-sig")
    for secret in (CONTACT_PHONE, "张三", "13812345678"):
        assert secret not in flat


def test_csv_with_contacts_is_a_post_masked_and_logged(client, login, organizer, consultation):
    login(organizer)
    url = f"/consultations/drafts/{consultation.draft.id}/report/exports"
    response = client.post(url, data={"format": "csv", "include_contacts": "y"}, buffered=True)
    assert response.status_code == 200
    rows = read_csv(response.data)
    assert len(rows[0]) == 12
    by_code = rows_by_code(rows[1:])
    assert by_code[consultation.item.tracking_code][10:] == ["张*", "139****4321"]
    assert by_code[consultation.whole.tracking_code][10:] == ["李*", ""]
    assert CONTACT_PHONE not in response.data.decode("utf-8-sig")
    assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.action == "draft.export_contacts"))


def raw_csv(draft, include_contacts=False):
    return read_csv(b"".join(exports.csv_stream(draft, include_contacts)))


def test_raw_lines_time_is_local(app, consultation):
    """Stored times are UTC; the CSV shows the service's time zone (Asia/Shanghai, +8 h)."""
    lines = exports.raw_lines(consultation.draft)
    line = next(lines).decode()
    lines.close()  # stopping early releases the cursor
    code, received = line.split(",")[:2]
    created = db.session.get(Opinion, consultation.item.id).created_at
    assert code == format_tracking_code(consultation.item.tracking_code)
    assert received == (created + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")


def test_local_minutes_follow_summer_time():
    local = exports.LocalMinutes(ZoneInfo("Europe/Berlin"))
    # Summer time began on 30 March 2025 at 01:00 UTC; Nepal is 5 h 45 min ahead.
    assert local("2025-03-30 00:59") == "2025-03-30 01:59"
    assert local("2025-03-30 01:00") == "2025-03-30 03:00"
    assert exports.LocalMinutes(ZoneInfo("Asia/Kathmandu"))("2025-12-31 18:15") == "2026-01-01 00:00"


def test_csv_times_across_a_summer_time_change(app, consultation):
    """The database turns UTC into local time by the offsets in force at each instant, on both databases."""
    app.config["BABEL_DEFAULT_TIMEZONE"] = "Europe/Berlin"
    stamps = {
        consultation.item: datetime(2025, 3, 30, 0, 59, 59),  # 01:59:59 winter time
        consultation.twin: datetime(2025, 3, 30, 1, 0, 0),  # 03:00:00 summer time
        consultation.formula: datetime(2025, 7, 1, 10, 30, 15, 999999),  # seconds are cut, not rounded
        consultation.whole: datetime(2025, 10, 26, 1, 0, 0),  # back to winter: 02:00:00
    }
    for opinion, stamp in stamps.items():
        opinion.created_at = stamp
    db.session.commit()
    by_code = rows_by_code(raw_csv(consultation.draft)[1:])
    assert by_code[consultation.item.tracking_code][1] == "2025-03-30 01:59:59"
    assert by_code[consultation.twin.tracking_code][1] == "2025-03-30 03:00:00"
    assert by_code[consultation.formula.tracking_code][1] == "2025-07-01 12:30:15"
    assert by_code[consultation.whole.tracking_code][1] == "2025-10-26 02:00:00"


def test_csv_fields_survive_commas_quotes_line_breaks_and_formulas(app, organizer, consultation):
    """What the database quotes (a contact point's name) and what Python quotes (the text) read back as written."""
    consultation.point.name = '=cmd|" /C calc"!A0, 联系点'
    written = '他说："第一，\n第二"\r\n,结束 13812345678'
    quoted, _ = ops.submit_opinion(consultation.draft, written)
    db.session.commit()
    by_code = rows_by_code(raw_csv(consultation.draft)[1:])
    assert by_code[consultation.item.tracking_code][6] == "'" + consultation.point.name
    kept = db.session.get(Opinion, quoted.id)
    assert "\n" in kept.text and '"' in kept.text and "," in kept.text  # as submitted (line ends made \n)
    assert by_code[quoted.tracking_code][3] == kept.text.replace("13812345678", "138****5678")
    assert by_code[consultation.twin.tracking_code][6] == ""  # no contact point
    assert len(by_code) == 8 and all(len(row) == 10 for row in by_code.values())


def test_csv_of_a_draft_without_opinions_is_its_header(app, organizer):
    draft, _ = ops.create_draft(organizer, DRAFT.read_text(encoding="utf-8"))
    db.session.commit()
    assert raw_csv(draft) == [exports.raw_headers()]


# -- jobs ------------------------------------------------------------------------------------------


def test_export_api_refusals(client, org, consultation, make_user, api_token):
    url = f"/api/v1/drafts/{consultation.draft.id}/exports"
    assert client.post(url, json={"format": "docx"}, headers=org).status_code == 400
    assert client.post("/api/v1/drafts/999/exports", json={"format": "csv"}, headers=org).status_code == 404
    staff = api_token(make_user("contact_staff"))
    assert client.post(url, json={"format": "csv"}, headers=staff).status_code == 403
    job = client.post(url, json={"format": "csv"}, headers=org).json
    assert wait_for(client, org, job)["state"] == "done"
    # Another organizer does not see someone else's export (it may hold contact details).
    other = api_token(make_user("organizer"))
    assert client.get(job["status_url"], headers=other).status_code == 404
    assert client.get(job["status_url"] + "/file", headers=other).status_code == 404
    admin = api_token(make_user("admin"))
    assert client.get(job["status_url"], headers=admin).status_code == 200
    # Not a job id at all, or a job of another draft.
    assert (
        client.get(f"/api/v1/drafts/{consultation.draft.id}/exports/..%2F..%2Fsecret", headers=org).status_code == 404
    )
    assert client.get(f"/api/v1/drafts/{consultation.draft.id}/exports/{'x' * 22}", headers=org).status_code == 404


def test_a_job_not_finished_is_not_downloadable_and_a_dead_one_reads_interrupted(app, client, org, consultation,
                                                                                 organizer):  # fmt: skip
    folder = export_jobs.exports_dir()
    job = {"id": "A" * 22, "draft_id": consultation.draft.id, "user_id": organizer.id, "format": "xlsx",
           "include_contacts": False, "locale": "zh_CN", "state": "running", "done": 5, "total": 10,
           "created_at": time.time(), "finished_at": None, "filename": "x.xlsx", "ascii_filename": "x.xlsx",
           "error": None}  # fmt: skip
    export_jobs._write_state(folder, job)
    url = f"/api/v1/drafts/{consultation.draft.id}/exports/{job['id']}"
    state = client.get(url, headers=org).json
    assert (state["state"], state["percent"], state["download_url"]) == ("running", 50, None)
    refused = client.get(url + "/file", headers=org)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "export_not_ready"
    job["updated_at"] = time.time() - export_jobs.STALE_SECONDS - 1
    (folder / f"{job['id']}.json").write_text(json.dumps(job))
    state = client.get(url, headers=org).json
    assert state["state"] == "failed" and state["error"]


def test_the_same_export_twice_is_one_job_and_too_many_are_refused(app, consultation, organizer):
    app.config["CONSULTATION_EXPORTS_AT_ONCE"] = 1
    folder = export_jobs.exports_dir()
    running = {"id": "B" * 22, "draft_id": consultation.draft.id, "user_id": organizer.id, "format": "pdf",
               "include_contacts": False, "locale": "zh_CN", "state": "running", "done": 0, "total": 10,
               "created_at": time.time(), "finished_at": None, "filename": "x.pdf", "ascii_filename": "x.pdf",
               "error": None}  # fmt: skip
    export_jobs._write_state(folder, running)
    again = export_jobs.start_export(organizer, consultation.draft, "pdf")
    assert again["id"] == running["id"]
    from voting.errors import Conflict

    with pytest.raises(Conflict) as refused:
        export_jobs.start_export(organizer, consultation.draft, "xlsx")
    assert refused.value.code == "exports_busy"


def test_old_exports_are_swept(app, consultation, organizer):
    folder = export_jobs.exports_dir()
    old = {"id": "C" * 22, "draft_id": 1, "user_id": 1, "format": "csv", "include_contacts": True, "state": "done",
           "done": 1, "total": 1}  # fmt: skip
    export_jobs._write_state(folder, old)
    (folder / f"{old['id']}.csv").write_text("x")
    export_jobs.sweep(folder, now=time.time() + export_jobs.CONTACT_KEEP_MINUTES * 60 - 30)
    assert (folder / f"{old['id']}.csv").exists()  # not yet
    export_jobs.sweep(folder, now=time.time() + export_jobs.CONTACT_KEEP_MINUTES * 60 + 30)
    assert not list(folder.glob(f"{old['id']}.*"))


def test_a_failing_export_is_reported_not_raised(app, consultation, organizer, monkeypatch, client, org):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setitem(exports.WRITERS, "xlsx", broken)
    job = client.post(f"/api/v1/drafts/{consultation.draft.id}/exports", json={"format": "xlsx"}, headers=org).json
    state = wait_for(client, org, job)
    assert state["state"] == "failed" and state["error"] and "disk" not in state["error"]
    assert not list(export_jobs.exports_dir().glob(f"{job['id']}.xlsx*"))


@pytest.fixture(autouse=True)
def _own_exports_folder(app, tmp_path):
    """Each test writes its exports under its own instance folder."""
    app.instance_path = str(tmp_path / "instance")
    yield


def test_a_chain_of_merges_counts_at_its_last_item(app, consultation):
    """An item merged, with what was merged into it, into another item: everything lands there, once."""
    c = consultation
    people, whole_id = c.item.people_count, c.whole.id
    c.whole.people_count += people
    c.item.transition(OpinionStatus.RECEIVED)  # reopened, then merged itself into the whole-draft opinion
    c.item.handled_at = None
    c.item.transition(OpinionStatus.MERGED)
    c.item.merged_into_id = whole_id
    db.session.commit()
    items = {item.text: item for item in exports.summary_items(c.draft)}
    assert len(items) == 4
    whole = items["总体赞成"]
    assert (whole.opinions, whole.people) == (4, 4)
    assert whole.source.count("×") == 3  # the public link twice, the point's poster once, the staff import once


# -- the shared writers (voting/exports.py) ---------------------------------------------------------


def test_xlsx_stream_keeps_text_as_text(tmp_path):
    from voting.exports import MAX_CELL_CHARS, XlsxStream

    path = tmp_path / "t.xlsx"
    with XlsxStream(path, title="标题 & <x>") as book:
        first = book.add_sheet("a/b:c*d?[e]", widths=[10, 20], freeze_rows=1)
        first.row(["序号", "意见"], "header")
        first.row([1, "  前后有空格  "], ["number", "text"])
        first.row([2, "控制\x0b字符\x00去掉"], ["number", "text"])
        first.row([3, "长" * (MAX_CELL_CHARS + 10)], ["number", "text"])
        first.row([4, "+1", "-2", "@sum", "=1+1", True, 2.5], "text")
        second = book.add_sheet("a/b:c*d?[e]")  # the same name again gets a number
        second.row(["x"])
    book = openpyxl.load_workbook(path)
    assert [ws.title for ws in book.worksheets] == ["a b c d  e", "a b c d  e (2)"]
    ws = book.worksheets[0]
    assert ws["B2"].value == "  前后有空格  "
    assert ws["B3"].value == "控制字符去掉"
    assert len(ws["B4"].value) == MAX_CELL_CHARS and ws["B4"].value.endswith("…")
    assert [c.value for c in ws[5]] == [4, "+1", "-2", "@sum", "=1+1", True, 2.5]
    assert all(c.data_type == "s" for c in ws[5][1:5])  # text, not formulas or numbers
    assert ws.freeze_panes == "A2"


def test_csv_chunks_make_every_text_cell_safe():
    from voting.exports import csv_chunks

    data = b"".join(csv_chunks(["=H", "b"], [["=1+1", 5], ["-x", "a,b"], ["\tTab", None]], chunk_rows=1))
    assert data.startswith(b"\xef\xbb\xbf")
    assert list(csv.reader(io.StringIO(data.decode("utf-8-sig")))) == [
        ["'=H", "b"], ["'=1+1", "5"], ["'-x", "a,b"], ["'\tTab", ""]
    ]  # fmt: skip


def test_wrap_lines_fits_the_width():
    from reportlab.pdfbase.pdfmetrics import stringWidth

    from voting.exports import wrap_lines
    from voting.pdf import register_cjk_font

    font = register_cjk_font()
    text = "建议明确物业服务企业的服务标准和收费标准 and keep English words whole when possible\n第二段"
    lines = wrap_lines(text, font, 10, 100).split("\n")
    assert all(stringWidth(line, font, 10) <= 100 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace("\n", "").replace(" ", "")
    assert "English" in " ".join(lines).split() and lines[-1] == "第二段"


def test_a_pdf_too_long_to_print_is_refused(app, client, org, login, organizer, consultation):
    """More items than CONSULTATION_PDF_MAX_ITEMS: the API says 409, the page says why; Excel still works."""
    app.config["CONSULTATION_PDF_MAX_ITEMS"] = 4  # the consultation has five items
    url = f"/api/v1/drafts/{consultation.draft.id}/exports"
    refused = client.post(url, json={"format": "pdf"}, headers=org)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "pdf_too_large"
    assert "5" in refused.json["error"]["message"]
    excel = client.post(url, json={"format": "xlsx"}, headers=org)
    assert excel.status_code == 202 and wait_for(client, org, excel.json)["state"] == "done"
    login(organizer)
    page = client.post(f"/consultations/drafts/{consultation.draft.id}/report/exports", data={"format": "pdf"},
                       follow_redirects=True)  # fmt: skip
    assert page.status_code == 200 and 'class="flash error"' in page.get_data(as_text=True)
    assert not list(export_jobs.exports_dir().glob("*.pdf*"))


@pytest.mark.parametrize("value", ["文字", "a,b", 'say "hi"', "two\nlines", "cr\rhere", "=1+1", "-x", "@a", "+86"])
def test_csv_field_bytes_is_csv_field_in_utf8(value):
    from voting.exports import csv_field, csv_field_bytes

    assert csv_field_bytes(value.encode()) == csv_field(value).encode()
