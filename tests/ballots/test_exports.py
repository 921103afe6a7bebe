"""Exports of a closed ballot: the tally report as PDF and XLSX, the ballot papers as CSV, through the API
and the organizer's download link."""

import csv
import io
import re
import shutil
import subprocess
from urllib.parse import unquote

import openpyxl
import pytest
from sqlalchemy import update

from voting.ballots.operations import get_ballot, results
from voting.deputies.models import Deputy
from voting.extensions import db

needs_poppler = pytest.mark.skipif(
    not (shutil.which("pdftotext") and shutil.which("pdffonts")), reason="needs poppler-utils (apt-get install)"
)

ITEMS = ["老旧小区加装电梯", "社区食堂", "口袋公园", "道路整治"]
HOSTILE_TITLE = '=HYPERLINK("http://evil.example","点我")<script>alert(1)</script>&'


@pytest.fixture
def closed(hall, api):
    """closed(form="choose", **settings) -> (hall, ballot json, item ids): a closed ballot with every case.

    Eight expected, seven present. Choose 2 of 4: item 1 adopted (4), items 2 and 3 tied for the
    last place (2 each), one void paper (3 ticks), one present deputy who did not vote (未按).
    """

    def make(form="choose", title="2027年区民生实事项目票决", items=ITEMS, **settings):
        h = hall(expected=8, present=7)
        if form == "choose":
            settings.setdefault("places", 2)
            settings.setdefault("rule", {"numerator": 1, "denominator": 5, "strict": False, "base": "expected"})
        ballot = api.create(h.meeting, title=title, form=form, items=items, **settings)
        ids = [item["id"] for item in ballot["items"]]
        if form == "choose":
            papers = [[0, 1], [0, 1], [0, 2], [0, 2], [3], [0, 1, 2]]
            papers = [[ids[i] for i in paper] for paper in papers]
        elif form == "per_item":
            papers = [{str(ids[0]): "yes", str(ids[1]): "no"}] * 5 + [{str(ids[0]): "abstain"}]
        else:
            papers = [{str(ids[0]): "satisfied", str(ids[1]): "basic"}] * 5 + [{str(ids[1]): "unsatisfied"}]
        api.open(ballot)
        for phone, paper in zip(h.phones, papers, strict=False):
            response = api.vote(ballot, phone, paper)
            assert response.status_code == 200, response.json
        api.close(ballot)
        return h, ballot, ids

    return make


def export(client, headers, ballot, fmt, **extra):
    return client.get(
        f"/api/v1/ballots/{ballot['id']}/export", query_string={"format": fmt}, headers={**headers, **extra}
    )


def pdf_text(tmp_path, data):
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True)
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True)
    return text.stdout, fonts.stdout


def filename_of(response):
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    match = re.search(r"filename\*=UTF-8''(\S+)", disposition)
    fallback = re.search(r'filename="([ -~]+)"', disposition)
    assert match and fallback, disposition
    return unquote(match.group(1)), fallback.group(1)


# -- PDF -----------------------------------------------------------------------------------------


@needs_poppler
def test_pdf_report_has_the_labels_counts_and_an_embedded_font(client, org, closed, tmp_path):
    _, ballot, _ = closed("choose")
    response = export(client, org, ballot, "pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf" and response.headers["Cache-Control"] == "no-store"
    name, fallback = filename_of(response)
    assert name == "计票结果报告-2027年区民生实事项目票决.pdf"
    assert fallback == f"ballot-{ballot['id']}-tally-report.pdf"
    text, fonts = pdf_text(tmp_path, response.data)
    flat = re.sub(r"\s+", " ", text)
    for label in (
        "计票结果报告",
        "2027年区民生实事项目票决",
        "测试会议",
        "差额票决",
        "无记名投票",
        "通过规则",
        "应到代表",
        "实到代表",
        "投票人数",
        "未按",
        "收回选票",
        "有效票",
        "废票",
        "通过所需票数",
        "开始投票时间",
        "结束投票时间",
        "监票人",
        "计票人",
        "入选",
        "票数相同",
        "第 1 页，共 1 页",
    ):
        assert label in flat, label
    # The figures: N 8, present 7, 6 voted, 1 did not vote; 6 papers, 5 valid, 1 void; 2 votes needed.
    assert re.search(r"应到代表（N） 8 实到代表 7 投票人数 6 未按 1", flat), flat
    assert re.search(r"收回选票 6 有效票 5 废票 1 通过所需票数 2", flat), flat
    assert re.search(r"1 1 老旧小区加装电梯 4 入选", flat)
    assert re.search(r"2 2 社区食堂 2 票数相同", flat) and re.search(r"2 3 口袋公园 2 票数相同", flat)
    assert re.search(r"4 4 道路整治 1 未入选", flat)
    assert "(UTC+08:00)" in flat
    font_rows = [line.split() for line in fonts.splitlines()[2:]]
    assert font_rows and all("WenQuanYi" in row[0] for row in font_rows)
    # pdffonts columns: name type encoding emb sub uni ...; the font is embedded and subset.
    assert all(row[-5:-2] == ["yes", "yes", "yes"] for row in font_rows), fonts


@needs_poppler
@pytest.mark.parametrize("form", ["per_item", "rating"])
def test_pdf_of_per_item_and_rating_ballots(client, org, closed, tmp_path, form):
    _, ballot, _ = closed(form)
    response = export(client, org, ballot, "pdf")
    assert response.status_code == 200
    flat = re.sub(r"\s+", " ", pdf_text(tmp_path, response.data)[0])
    if form == "per_item":
        assert "赞成 反对 弃权 未表态" in flat
        # More than half of 8: 5 yes votes pass.
        assert re.search(r"1 老旧小区加装电梯 5 0 1 0 通过", flat) and re.search(r"2 社区食堂 0 5 0 1 未通过", flat)
    else:
        assert "满意 基本满意 不满意 未表态" in flat
        assert re.search(r"1 老旧小区加装电梯 5 0 0 1 满意", flat)
        assert re.search(r"2 社区食堂 0 5 1 0 基本满意", flat)
        assert re.search(r"3 口袋公园 0 0 0 6 不满意", flat)


@needs_poppler
def test_pdf_follows_the_readers_language(client, org, closed, tmp_path):
    _, ballot, _ = closed("choose")
    response = export(client, org, ballot, "pdf", **{"Accept-Language": "en"})
    name, _ = filename_of(response)
    assert name == "Tally report-2027年区民生实事项目票决.pdf"
    flat = re.sub(r"\s+", " ", pdf_text(tmp_path, response.data)[0])
    assert "Tally report" in flat and "Scrutineers:" in flat and "Page 1 of 1" in flat


@needs_poppler
def test_a_hostile_title_is_printed_as_text(client, org, closed, tmp_path):
    _, ballot, _ = closed("choose", title=HOSTILE_TITLE, items=["<b>甲</b>", "=1+1", "@SUM(A1)", "-2"])
    response = export(client, org, ballot, "pdf")
    assert response.status_code == 200
    flat = re.sub(r"\s+", " ", pdf_text(tmp_path, response.data)[0])
    assert "<script>alert(1)</script>&" in flat and "<b>甲</b>" in flat


def test_a_long_report_numbers_its_pages(client, org, closed, tmp_path):
    items = [f"第{i}个候选项目，名称很长，需要换行才能在表格中完整显示的民生实事项目" for i in range(1, 61)]
    _, ballot, _ = closed("per_item", items=items)
    response = export(client, org, ballot, "pdf")
    assert response.status_code == 200
    if shutil.which("pdftotext"):
        text = pdf_text(tmp_path, response.data)[0]
        pages = re.findall(r"第 (\d+) 页，共 (\d+) 页", text)
        assert len(pages) >= 2 and pages[-1][0] == pages[-1][1] == str(len(pages))
        assert "第60个候选项目" in text


# -- XLSX ----------------------------------------------------------------------------------------


def workbook_of(response):
    assert response.status_code == 200, response.data[:300]
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return openpyxl.load_workbook(io.BytesIO(response.data))


def cells(sheet):
    return [[c for c in row] for row in sheet.iter_rows(values_only=True)]


def test_xlsx_report_has_the_numbers(client, org, closed):
    _, ballot, _ = closed("choose")
    response = export(client, org, ballot, "xlsx")
    name, fallback = filename_of(response)
    assert name == "计票结果报告-2027年区民生实事项目票决.xlsx" and fallback.endswith(".xlsx")
    book = workbook_of(response)
    assert book.sheetnames == ["计票结果报告", "选票明细"]
    rows = cells(book["计票结果报告"])
    assert rows[0][0] == "计票结果报告" and rows[1][0] == "2027年区民生实事项目票决"
    by_label = {row[0]: row[1] for row in rows if row[0]}
    assert by_label["应到代表（N）"] == 8 and by_label["实到代表"] == 7 and by_label["未按"] == 1
    assert by_label["收回选票"] == 6 and by_label["有效票"] == 5 and by_label["废票"] == 1
    header = rows.index(["名次", "序号", "候选项目", "得票", "结果"])
    assert rows[header + 1 : header + 5] == [
        [1, 1, "老旧小区加装电梯", 4, "入选"],
        [2, 2, "社区食堂", 2, "票数相同"],
        [2, 3, "口袋公园", 2, "票数相同"],
        [4, 4, "道路整治", 1, "未入选"],
    ]
    assert any(row[0] == "监票人：" for row in rows) and any(row[0] == "计票人：" for row in rows)
    sheet = book["计票结果报告"]
    assert sheet.column_dimensions["C"].width >= 40  # the candidates' titles are readable
    papers = cells(book["选票明细"])
    assert papers[0][:3] == ["票号", "有效/废票", "1. 老旧小区加装电梯"] and len(papers) == 1 + 6


def test_xlsx_keeps_a_formula_title_as_text(client, org, closed):
    _, ballot, _ = closed("choose", title="=1+1", items=["=SUM(1,2)", "@A1", "+1", "甲"])
    book = workbook_of(export(client, org, ballot, "xlsx"))
    sheet = book.worksheets[0]
    assert sheet["A2"].value == "=1+1" and sheet["A2"].data_type == "s"
    formulas = [c.coordinate for ws in book.worksheets for row in ws.iter_rows() for c in row if c.data_type == "f"]
    assert formulas == []
    titles = [row[2] for row in cells(sheet) if len(row) > 2 and row[2] in ("=SUM(1,2)", "@A1", "+1")]
    assert sorted(titles) == ["+1", "=SUM(1,2)", "@A1"]


# -- CSV -----------------------------------------------------------------------------------------


def csv_rows(response):
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and response.mimetype_params == {"charset": "utf-8"}
    assert response.data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def test_csv_of_a_secret_ballot_recounts_to_the_results(client, org, closed, app):
    h, ballot, ids = closed("choose")
    response = export(client, org, ballot, "csv")
    name, fallback = filename_of(response)
    assert name == "选票明细-2027年区民生实事项目票决.csv" and fallback == f"ballot-{ballot['id']}-papers.csv"
    header, *rows = csv_rows(response)
    assert header == ["票号", "有效/废票", *(f"{i}. {t}" for i, t in enumerate(ITEMS, start=1))]
    counted = results(get_ballot(ballot["id"]))
    assert len(rows) == counted.result.valid + counted.result.void == 6
    assert [row[0] for row in rows] == [str(n) for n in range(1, 7)]
    valid = [row for row in rows if row[1] == "有效"]
    assert len(valid) == counted.result.valid and sum(row[1] == "废票" for row in rows) == counted.result.void
    recount = [sum(int(row[2 + i]) for row in valid) for i in range(len(ITEMS))]
    assert recount == [r.counts["votes"] for r in counted.result.items] == [4, 2, 2, 1]
    # Nothing in it names a deputy.
    text = response.data.decode("utf-8-sig")
    for deputy in h.deputies:
        assert deputy.name not in text and deputy.number not in text


@pytest.mark.parametrize("form", ["per_item", "rating"])
def test_csv_of_per_item_and_rating_ballots(client, org, closed, form):
    _, ballot, _ = closed(form)
    header, *rows = csv_rows(export(client, org, ballot, "csv"))
    counted = results(get_ballot(ballot["id"]))
    assert len(rows) == 6
    labels = {
        "yes": "赞成",
        "no": "反对",
        "abstain": "弃权",
        "satisfied": "满意",
        "basic": "基本满意",
        "unsatisfied": "不满意",
        "blank": "",
    }
    for column, item in enumerate(counted.result.items, start=2):
        for choice, count in item.counts.items():
            assert sum(row[column] == labels[choice] for row in rows) == count, (item.item, choice)


def test_csv_of_a_named_ballot_names_deputies_as_text(client, org, closed, app, make_deputies):
    h, ballot, _ = closed("choose", secret=False)
    db.session.execute(update(Deputy).where(Deputy.id == h.deputies[0].id).values(name="=cmd|' /C calc'!A0"))
    db.session.commit()
    header, *rows = csv_rows(export(client, org, ballot, "csv"))
    assert header[:4] == ["票号", "代表证号", "代表姓名", "有效/废票"]
    assert len(rows) == 6
    assert "'=cmd|' /C calc'!A0" in [row[2] for row in rows]
    assert {row[1] for row in rows} == {d.number for d in h.deputies[:6]}


# -- refusals ------------------------------------------------------------------------------------


def test_before_close_the_exports_are_refused(client, org, hall, api):
    h = hall(3)
    ballot = api.create(h.meeting)
    for state in ("draft", "open"):
        if state == "open":
            api.open(ballot)
        for fmt in ("pdf", "xlsx", "csv"):
            response = export(client, org, ballot, fmt)
            assert response.status_code == 409, (state, fmt)
            assert response.json["error"]["code"] == "ballot_not_closed"
            assert "关闭" in response.json["error"]["message"]


def test_unknown_format_missing_ballot_and_callers(client, org, closed, make_user, api_token, bind_phone):
    h, ballot, _ = closed("choose")
    response = export(client, org, ballot, "docx")
    assert response.status_code == 400 and response.json["error"]["code"] == "validation_failed"
    assert client.get("/api/v1/ballots/99999/export?format=pdf", headers=org).status_code == 404
    assert client.get(f"/api/v1/ballots/{ballot['id']}/export?format=pdf").status_code == 401
    staff = api_token(make_user("contact_staff"))
    refused = export(client, staff, ballot, "pdf")
    assert refused.status_code == 403 and refused.json["error"]["code"] == "role_forbidden"
    assert export(client, h.phones[0], ballot, "csv").status_code == 403
    assert export(client, {"Authorization": "Bearer vto_nonsense"}, ballot, "csv").status_code == 401


def test_the_document_describes_the_downloads(client):
    document = client.get("/api/v1/openapi.json").json
    item = document["paths"]["/api/v1/ballots/{ballot_id}/export"]["get"]
    assert item["operationId"] == "exportBallotResults"
    assert set(item["responses"]["200"]["content"]) == {
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "text/csv",
    }
    assert {"400", "401", "403", "404", "409"} <= set(item["responses"])
    assert [p["name"] for p in item["parameters"] if p["in"] == "query"] == ["format"]


# -- the organizer's download link -----------------------------------------------------------------


def test_organizer_downloads_from_the_web(app, client, organizer, login, closed, make_user):
    from flask import url_for

    _, ballot, _ = closed("choose")
    with app.test_request_context():
        urls = {
            fmt: url_for("ballot_exports.export", ballot_id=ballot["id"], fmt=fmt) for fmt in ("pdf", "xlsx", "csv")
        }
    anonymous = client.get(urls["pdf"])
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    login(organizer)
    for fmt, mimetype in (
        ("pdf", "application/pdf"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("csv", "text/csv"),
    ):
        response = client.get(urls[fmt])
        assert response.status_code == 200 and response.mimetype == mimetype, fmt
        assert filename_of(response)[0].endswith("." + fmt)
    assert response.data.startswith(b"\xef\xbb\xbf")
    assert client.get(f"/ballots/{ballot['id']}/export?fmt=doc").status_code == 400


def test_web_download_refused_before_close_and_for_other_roles(app, client, login, hall, api, make_user):
    h = hall(3)
    ballot = api.create(h.meeting)
    staff = make_user("contact_staff")
    login(staff)
    assert client.get(f"/ballots/{ballot['id']}/export?fmt=pdf").status_code == 403
    client.get("/logout")
    login(make_user("organizer"))
    refused = client.get(f"/ballots/{ballot['id']}/export?fmt=pdf")
    assert refused.status_code == 409 and "关闭" in refused.get_data(as_text=True)
