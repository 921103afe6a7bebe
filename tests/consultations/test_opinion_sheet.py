"""Table-driven tests for voting.consultations.opinion_sheet (pure: bytes in, rows and row errors out)."""

import csv
import io
import zipfile

import pytest
from openpyxl import Workbook

from voting.consultations.opinion_sheet import (
    MAX_SHEET_BYTES,
    ArticleRef,
    RowError,
    SheetError,
    SheetRow,
    check_articles,
    parse_article,
    parse_opinion_sheet,
)

HEADER = ("条款", "意见内容", "提出人", "联系电话", "人数")


def csv_bytes(rows, encoding="utf-8-sig", delimiter=","):
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if c is None else c for c in row])
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows, shared=True):
    """rows: lists of values (None = empty cell). A string starting with '=' becomes a live formula, as in Excel."""
    workbook = Workbook()
    sheet = workbook.active
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row or [], start=1):
            if value is not None:
                sheet.cell(row=r, column=c, value=value)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def xlsxwriter_bytes(rows):
    """The same through XlsxWriter (inline strings off, shared strings table, as Excel writes)."""
    import xlsxwriter

    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"strings_to_formulas": False, "strings_to_numbers": False})
    sheet = workbook.add_worksheet("征询会意见")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write(r, c, value)
    workbook.close()
    return out.getvalue()


def parse_all(rows):
    """Parse the same table as .csv and as .xlsx (openpyxl and XlsxWriter); all must agree."""
    results = [
        parse_opinion_sheet("意见.csv", csv_bytes(rows)),
        parse_opinion_sheet("意见.xlsx", xlsx_bytes(rows)),
        parse_opinion_sheet("意见.xlsx", xlsxwriter_bytes(rows)),
    ]
    assert results[0] == results[1] == results[2]
    return results[0]


def sheet_error(filename, data):
    with pytest.raises(SheetError) as caught:
        parse_opinion_sheet(filename, data)
    return caught.value


# -- the article column ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("第十二条", ArticleRef(12)),
        ("12", ArticleRef(12)),
        ("第12条", ArticleRef(12)),
        ("１２", ArticleRef(12)),
        ("第 十二 条", ArticleRef(12)),
        ("第十二條", ArticleRef(12)),
        ("第一百零一条", ArticleRef(101)),
        ("第十条之一", ArticleRef(10, 1)),
        ("10之一", ArticleRef(10, 1)),
        ("第十二条第二款", ArticleRef(12)),
        ("12条第3项", ArticleRef(12)),
        ("第十二条第二款第（三）项", ArticleRef(12)),
        ("十二、", ArticleRef(12)),
        ("总体", None),
        ("总体意见", None),
        ("整体", None),
        ("全文", None),
    ],
)
def test_articles_as_staff_write_them(cell, expected):
    assert parse_article(cell) == expected


@pytest.mark.parametrize(
    ("cell", "code"),
    [
        ("第一章", "bad_article"),
        ("总则", "bad_article"),
        ("第十二、十三条", "many_articles"),
        ("12,13", "many_articles"),
        ("第12条至第15条", "many_articles"),
        ("关于物业费", "bad_article"),
        ("第零条", "bad_article"),
        ("=A1", "bad_article"),
        ("十二十", "bad_article"),
    ],
)
def test_unclear_articles_are_refused(cell, code):
    with pytest.raises(ValueError) as caught:
        parse_article(cell)
    assert str(caught.value) == code


# -- whole files ---------------------------------------------------------------------------------


def test_a_meeting_sheet_in_every_format():
    rows = [
        HEADER,
        ("第十二条", "建议将“三十日”改为“十五日”。", "王五", "13800138000", "3"),
        ("总体", "同意草案。", None, None, None),
        ("12", "物业费应当公示。\n第二段意见。", "", "021-6543 2100", "5人"),
        ("第十条之一", "建议删除本条", "赵六", None, "五"),
    ]
    parsed = parse_all(rows)
    assert parsed.errors == []
    assert parsed.rows == [
        SheetRow(2, ArticleRef(12), "建议将“三十日”改为“十五日”。", "王五", "13800138000", 3),
        SheetRow(3, None, "同意草案。", None, None, 1),
        SheetRow(4, ArticleRef(12), "物业费应当公示。\n第二段意见。", None, "02165432100", 5),
        SheetRow(5, ArticleRef(10, 1), "建议删除本条", "赵六", None, 5),
    ]


def test_headers_as_staff_write_them_with_a_title_row_and_notes():
    rows = [
        ("殷行街道基层立法联系点征询会意见汇总", None, None),
        (None, None, None),
        ("序号", "第几条", "意见建议（必填）", "姓名", "电话", "附议人数"),
        ("1", "第三条", "建议增加电梯维护的规定", "钱七", "13900139000", "2"),
    ]
    parsed = parse_all(rows)
    assert parsed.errors == []
    assert parsed.rows == [SheetRow(4, ArticleRef(3), "建议增加电梯维护的规定", "钱七", "13900139000", 2)]


def test_only_article_and_opinion_are_required():
    parsed = parse_all([("条目", "意见"), ("第1条", "同意")])
    assert parsed.rows == [SheetRow(2, ArticleRef(1), "同意", None, None, 1)]


@pytest.mark.parametrize(
    ("row", "error"),
    [
        (("", "意见", "", "", ""), RowError(2, "article", "required")),
        (("第十二条", "", "", "", ""), RowError(2, "text", "required")),
        (("第一章", "意见", "", "", ""), RowError(2, "article", "bad_article", "第一章")),
        (("第十二、十三条", "意见", "", "", ""), RowError(2, "article", "many_articles", "第十二、十三条")),
        (("12", "意见", "", "电话待补", ""), RowError(2, "phone", "bad_phone", "电话待补")),
        (("12", "意见", "", "", "很多"), RowError(2, "people", "bad_people", "很多")),
        (("12", "意见", "", "", "0"), RowError(2, "people", "bad_people", "0")),
        (("12", "意见", "", "", "-3"), RowError(2, "people", "bad_people", "-3")),
        (("12", "意见", "", "", "1.5"), RowError(2, "people", "bad_people", "1.5")),
        (("12", "字" * 5001, "", "", ""), RowError(2, "text", "too_long", "5001")),
        (("12", "意见", "名" * 101, "", ""), RowError(2, "name", "too_long", "101")),
    ],
)
def test_row_problems_name_the_row_and_column(row, error):
    parsed = parse_all([HEADER, row])
    assert parsed.rows == []
    assert parsed.errors == [error]


def test_every_bad_row_is_reported_with_its_number():
    rows = [
        HEADER,
        ("1", "好", "", "", ""),
        ("", "没写条款", "", "", ""),
        ("2", "好", "", "", ""),
        ("第一章", "", "", "", ""),
    ]
    parsed = parse_all(rows)
    assert [(e.line, e.column, e.code) for e in parsed.errors] == [
        (3, "article", "required"),
        (5, "article", "bad_article"),
        (5, "text", "required"),
    ]
    assert [r.line for r in parsed.rows] == [2, 4]


def test_blank_rows_are_skipped_but_numbering_follows_the_sheet():
    rows = [HEADER, ("1", "甲", "", "", ""), None, ("", "", "", "", ""), ("2", "乙", "", "", "")]
    data = xlsx_bytes(rows)
    parsed = parse_opinion_sheet("意见.xlsx", data)
    assert [(r.line, r.text) for r in parsed.rows] == [(2, "甲"), (5, "乙")]


def test_formula_cells_are_read_as_their_text_never_evaluated():
    rows = [
        HEADER,
        ("12", '=HYPERLINK("http://evil.example","点我")', "=1+1", "", ""),
        ("13", "+赞成本条", "@张三", "", ""),
        ("14", "-建议删除", "", "", ""),
    ]
    for parsed in (parse_opinion_sheet("a.xlsx", xlsx_bytes(rows)), parse_opinion_sheet("a.csv", csv_bytes(rows))):
        assert parsed.errors == []
        assert [(r.text, r.name) for r in parsed.rows] == [
            ('=HYPERLINK("http://evil.example","点我")', "=1+1"),
            ("+赞成本条", "@张三"),
            ("-建议删除", None),
        ]


def test_a_formula_in_the_people_column_is_an_error_not_a_number():
    parsed = parse_opinion_sheet("a.xlsx", xlsx_bytes([HEADER, ("12", "意见", "", "", "=2+3")]))
    assert parsed.errors == [RowError(2, "people", "bad_people", "=2+3")]


def test_numbers_typed_as_numbers_in_excel():
    parsed = parse_opinion_sheet("a.xlsx", xlsx_bytes([HEADER, (12, "意见", "", 13800138000, 4)]))
    assert parsed.rows == [SheetRow(2, ArticleRef(12), "意见", None, "13800138000", 4)]


def test_gbk_csv_and_tab_separated_text():
    rows = [HEADER, ("第二条", "建议明确物业服务标准", "李四", "", "")]
    expected = [SheetRow(2, ArticleRef(2), "建议明确物业服务标准", "李四", None, 1)]
    assert parse_opinion_sheet("a.csv", csv_bytes(rows, encoding="gbk")).rows == expected
    assert parse_opinion_sheet("a.txt", csv_bytes(rows, delimiter="\t")).rows == expected


def test_check_articles_names_the_missing_article():
    parsed = parse_all([HEADER, ("12", "甲", "", "", ""), ("99", "乙", "", "", ""), ("总体", "丙", "", "", "")])
    assert check_articles(parsed, {(12, 0)}) == [RowError(3, "article", "unknown_article", "第九十九条")]


@pytest.mark.parametrize(
    ("filename", "data", "code"),
    [
        ("a.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "old_excel"),
        ("a.pdf", b"%PDF-1.4", "unknown_type"),
        ("a.xlsx", b"PK\x03\x04 not really a zip", "bad_xlsx"),
        ("a.csv", b"\xff\xfe\x00\x00\xc3\x28", "bad_encoding"),
        ("a.csv", b"", "empty"),
        ("a.csv", csv_bytes([HEADER]), "empty"),
        ("a.csv", csv_bytes([("姓名", "电话"), ("张三", "1")]), "missing_columns"),
        ("a.csv", csv_bytes([("条款", "电话"), ("12", "1")]), "missing_columns"),
    ],
)
def test_unusable_files(filename, data, code):
    assert sheet_error(filename, data).code == code


def test_missing_columns_lists_what_the_file_has():
    error = sheet_error("a.csv", csv_bytes([("条款", "姓名"), ("12", "张三")]))
    assert error.params == {"columns": ["text"], "found": ["条款", "姓名"]}


def test_a_file_over_50_mb_is_refused_before_reading():
    error = sheet_error("a.csv", b"x" * (MAX_SHEET_BYTES + 1))
    assert (error.code, error.params) == ("too_large", {"mb": 50})


def test_too_many_rows():
    with pytest.raises(SheetError) as caught:
        parse_opinion_sheet("a.csv", csv_bytes([HEADER] + [("1", "意见", "", "", "")] * 11), max_rows=10)
    assert caught.value.code == "too_many_rows" and caught.value.params == {"limit": 10}


def _zip(parts):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return out.getvalue()


def cell(ref, text):
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


SHEET = (
    '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    "<sheetData>{rows}</sheetData></worksheet>"
)


def test_a_sheet_with_a_dtd_is_refused_no_entity_is_expanded():
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        f'<row r="1">{cell("A1", "条款")}{cell("B1", "意见")}</row>'
        f'<row r="2">{cell("A2", "1")}{cell("B2", "&lol2;")}</row>'
        "</sheetData></worksheet>"
    )
    assert sheet_error("a.xlsx", _zip({"xl/worksheets/sheet1.xml": bomb})).code == "bad_xlsx"


def test_a_zip_bomb_is_refused_before_it_is_inflated():
    rows = '<row r="1"><c r="A1" t="inlineStr"><is><t>条款</t></is></c></row>' + " " * (60 * 1024 * 1024)
    assert sheet_error("a.xlsx", _zip({"xl/worksheets/sheet1.xml": SHEET.format(rows=rows)})).code == "zip_bomb"


def test_a_hand_written_sheet_with_inline_strings_and_gaps():
    rows = (
        f'<row r="1">{cell("A1", "条款")}{cell("C1", "意见内容")}</row>'
        '<row r="7"><c r="A7"><v>3</v></c>'
        '<c r="C7" t="inlineStr"><is><r><t>富</t></r><r><t>文本&amp;&lt;b&gt;</t></r></is></c></row>'
    )
    parsed = parse_opinion_sheet("a.xlsx", _zip({"xl/worksheets/sheet1.xml": SHEET.format(rows=rows)}))
    assert parsed.rows == [SheetRow(7, ArticleRef(3), "富文本&<b>", None, None, 1)]
