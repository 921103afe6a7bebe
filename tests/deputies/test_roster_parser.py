"""Table-driven tests for voting.deputies.roster.parse_roster (pure: bytes in, rows out)."""

import csv
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from voting.deputies.roster import (
    ParsedRoster,
    RosterFileError,
    RosterRow,
    RowError,
    parse_roster,
)

ROOT = Path(__file__).resolve().parents[2]
HEADER = ("姓名", "代表证号", "代表团", "手机号码")


# --- helpers -------------------------------------------------------------------------------


def csv_bytes(rows, encoding="utf-8", delimiter=","):
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    for row in rows:
        writer.writerow(["" if c is None else c for c in row])
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows):
    """rows: list of lists (None = empty cell) or None for a row left completely untouched."""
    workbook = Workbook()
    sheet = workbook.active
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row or [], start=1):
            if value is not None:
                sheet.cell(row=r, column=c, value=value)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def parse_both(rows, **kwargs):
    """Parse the same table written as .csv and as .xlsx; both must give the same answer."""
    from_csv = parse_roster("roster.csv", csv_bytes(rows), **kwargs)
    from_xlsx = parse_roster("roster.xlsx", xlsx_bytes(rows), **kwargs)
    assert from_csv == from_xlsx
    return from_csv


def file_error(filename, data, **kwargs):
    with pytest.raises(RosterFileError) as info:
        parse_roster(filename, data, **kwargs)
    return info.value


def parse_or_file_error(filename, data):
    """Return a ParsedRoster or a RosterFileError; any other exception fails the test."""
    try:
        return parse_roster(filename, data)
    except RosterFileError as error:
        return error


# --- headers -------------------------------------------------------------------------------

HEADER_VARIANTS = [
    pytest.param(("姓名", "代表证号", "代表团", "手机号码"), id="standard"),
    pytest.param(("代表姓名", "编号", "所在街道", "联系电话"), id="variants"),
    pytest.param(("名字", "证号", "所属代表团", "联系方式"), id="more-variants"),
    pytest.param(("姓名", "代表编号", "选区", "手机"), id="xuanqu"),
    pytest.param(("姓名", "代表证编号", "选举单位", "电话"), id="danwei"),
    pytest.param(("姓\u3000名", "代表\u3000证号", "代\u3000表\u3000团", "手机\u3000号码"), id="full-width-spaces"),
    pytest.param((" 姓名 ", "代表证号 ", "\t代表团", "手机号码\n"), id="ascii-whitespace"),
    pytest.param(("姓名（必填）", "代表证号(必填)", "代表团（组）", "手机号码（选填）"), id="notes-in-brackets"),
    pytest.param(("*姓名", "*代表证号", "＊代表团", "手机号码"), id="asterisks"),
    pytest.param(("姓名：", "代表证号:", "代表团", "手机号码"), id="colons"),
    pytest.param(("*姓名（必填）", "*代表证号（必填）", "*代表团（必填）", "联系电话（选填）"), id="asterisk-and-note"),
    pytest.param(("Name", "NUMBER", "Delegation", "Mobile"), id="english"),
    pytest.param(("name", "deputy_number", "street", "phone"), id="english-underscore"),
]


@pytest.mark.parametrize("header", HEADER_VARIANTS)
def test_header_spellings_are_recognised(header):
    result = parse_both([header, ("张三", "1001", "第一代表团", "13800001234")])
    assert result == ParsedRoster(rows=[RosterRow(2, "1001", "张三", "第一代表团", "13800001234")], errors=[])


@pytest.mark.parametrize(
    "header, row",
    [
        pytest.param(
            ("代表团", "手机号码", "姓名", "代表证号"), ("一团", "13800001234", "张三", "1001"), id="reordered"
        ),
        pytest.param(
            ("序号", "姓名", "性别", "代表证号", "民族", "代表团", "备注"),
            ("1", "张三", "男", "1001", "汉", "一团", "无"),
            id="extra-columns",
        ),
    ],
)
def test_columns_are_found_by_header_not_position(header, row):
    result = parse_both([header, row])
    assert [(r.name, r.number, r.delegation) for r in result.rows] == [("张三", "1001", "一团")]
    assert result.errors == []


def test_phone_column_is_optional():
    result = parse_both([("姓名", "代表证号", "代表团"), ("张三", "1001", "一团")])
    assert result.rows == [RosterRow(2, "1001", "张三", "一团", None)]


@pytest.mark.parametrize(
    "header, missing",
    [
        pytest.param(("姓名", "代表证号", "手机号码"), ["delegation"], id="no-delegation"),
        pytest.param(("姓名", "代表团"), ["number"], id="no-number"),
        pytest.param(("代表证号", "代表团", "联系电话"), ["name"], id="no-name"),
        pytest.param(("姓名", "代表证", "代表团"), ["number"], id="unknown-spelling"),
        pytest.param(("姓名", "手机号码"), ["number", "delegation"], id="two-missing"),
        pytest.param(("甲", "乙", "丙"), ["name", "number", "delegation"], id="nothing-known"),
        pytest.param(("姓名", "性别", "年龄"), ["name", "number", "delegation"], id="only-one-known"),
    ],
)
def test_missing_columns(header, missing):
    for filename, data in (
        ("r.csv", csv_bytes([header, ("张三", "1", "x")])),
        ("r.xlsx", xlsx_bytes([header, ("张三", "1", "x")])),
    ):
        error = file_error(filename, data)
        assert error.code == "missing_columns"
        assert error.params["columns"] == missing
        assert error.params["found"] == list(header)


# --- encodings and separators ---------------------------------------------------------------

ENCODED = [
    pytest.param("utf-8", ",", id="utf8-comma"),
    pytest.param("utf-8-sig", ",", id="utf8-bom-comma"),
    pytest.param("utf-8", "\t", id="utf8-tab"),
    pytest.param("utf-8-sig", "\t", id="utf8-bom-tab"),
    pytest.param("gbk", ",", id="gbk-comma"),
    pytest.param("gbk", "\t", id="gbk-tab"),
    pytest.param("gb18030", ",", id="gb18030-comma"),
    pytest.param("gb18030", "\t", id="gb18030-tab"),
]


@pytest.mark.parametrize("encoding, delimiter", ENCODED)
def test_csv_encodings_and_separators(encoding, delimiter):
    rows = [HEADER, ("张三", "1001", "第一代表团", "13800001234"), ("欧阳娜娜", "1002", "第二代表团", "")]
    data = csv_bytes(rows, encoding=encoding, delimiter=delimiter)
    if encoding == "utf-8-sig":
        assert data.startswith(b"\xef\xbb\xbf")
    result = parse_roster("roster.csv", data)
    assert result.errors == []
    assert result.rows == [
        RosterRow(2, "1001", "张三", "第一代表团", "13800001234"),
        RosterRow(3, "1002", "欧阳娜娜", "第二代表团", None),
    ]


def test_gb18030_only_characters():
    # 䶮 (CJK Extension A) exists in GB18030 but not in GBK.
    rows = [HEADER, ("刘䶮", "1001", "一团", "")]
    data = csv_bytes(rows, encoding="gb18030")
    with pytest.raises(UnicodeEncodeError):
        "䶮".encode("gbk")
    assert parse_roster("roster.csv", data).rows[0].name == "刘䶮"


def test_crlf_line_endings_and_txt_extension():
    data = "姓名,代表证号,代表团\r\n张三,1001,一团\r\n\r\n李四,1002,二团\r\n".encode("utf-8-sig")
    for filename in ("roster.csv", "ROSTER.CSV", "roster.txt"):
        result = parse_roster(filename, data)
        assert [(r.line, r.name) for r in result.rows] == [(2, "张三"), (4, "李四")]


def test_undecodable_bytes():
    assert file_error("roster.csv", b"\xff\xff\xff\xff").code == "bad_encoding"


def test_bare_cr_line_endings_do_not_crash():
    data = "姓名,代表证号,代表团\r张三,1001,一团\r".encode()
    result = parse_or_file_error("roster.csv", data)
    if isinstance(result, ParsedRoster):
        assert [(r.name, r.number) for r in result.rows] == [("张三", "1001")]


def test_unclosed_quote_in_big_csv_does_not_crash():
    data = ('姓名,代表证号,代表团\n"' + "x" * 200_000).encode()
    result = parse_or_file_error("roster.csv", data)
    assert isinstance(result, (ParsedRoster, RosterFileError))
    if isinstance(result, ParsedRoster):
        assert result.rows == []


def test_tab_separated_with_plain_title_line():
    data = "2024年代表名单\n姓名\t代表证号\t代表团\n张三\t1001\t一团\n".encode()
    result = parse_roster("roster.csv", data)
    assert result.rows == [RosterRow(3, "1001", "张三", "一团", None)]


# --- layout: title rows, blank rows, line numbers ---------------------------------------------


def test_title_row_and_blank_rows_keep_spreadsheet_line_numbers():
    rows = [
        ("2024年第一次会议代表名单", None, None, None),  # line 1
        (None, None, None, None),  # line 2
        HEADER,  # line 3
        ("张三", "1001", "一团", "13800001234"),  # line 4
        (None, None, None, None),  # line 5 (blank, skipped)
        ("", "1002", "一团", ""),  # line 6: no name
        ("李四", "1003", "二团", "bad"),  # line 7: bad phone
        (None, None, None, None),  # line 8
        ("王五", "1004", "", ""),  # line 9: no delegation
        ("赵六", "1005", "三团", None),  # line 10
    ]
    result = parse_both(rows)
    assert [(r.line, r.name) for r in result.rows] == [(4, "张三"), (10, "赵六")]
    assert [(e.line, e.column, e.code) for e in result.errors] == [
        (6, "name", "required"),
        (7, "phone", "bad_phone"),
        (9, "delegation", "required"),
    ]


def test_xlsx_untouched_leading_rows_still_count():
    # Rows 1-2 have no cells at all in the sheet XML; the header is on spreadsheet row 3.
    data = xlsx_bytes([None, ["代表名单"], HEADER, None, ["张三", "1001", "一团", None]])
    result = parse_roster("roster.xlsx", data)
    assert result.rows == [RosterRow(5, "1001", "张三", "一团", None)]


def test_header_must_be_in_first_ten_rows():
    rows = [("说明",)] * 10 + [HEADER, ("张三", "1001", "一团", "")]
    assert file_error("roster.csv", csv_bytes(rows)).code == "missing_columns"
    result = parse_roster("roster.csv", csv_bytes(rows[1:]))
    assert result.rows[0].line == 11


def test_short_rows_are_padded():
    result = parse_roster("roster.csv", "姓名,代表证号,代表团,手机号码\n张三,1001,一团\n李四,1002\n".encode())
    assert result.rows == [RosterRow(2, "1001", "张三", "一团", None)]
    assert result.errors == [RowError(3, "delegation", "required")]


# --- row validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "row, expected_errors",
    [
        pytest.param(("", "1001", "一团", ""), [("name", "required")], id="empty-name"),
        pytest.param(("\u3000 ", "1001", "一团", ""), [("name", "required")], id="blank-name"),
        pytest.param(("张三", "", "一团", ""), [("number", "required")], id="empty-number"),
        pytest.param(("张三", "1001", "", ""), [("delegation", "required")], id="empty-delegation"),
        pytest.param(("", "", "一团", "13800001234"), [("name", "required"), ("number", "required")], id="two-missing"),
    ],
)
def test_required_values(row, expected_errors):
    result = parse_both([HEADER, row])
    assert result.rows == []
    assert [(e.line, e.column, e.code) for e in result.errors] == [(2, c, code) for c, code in expected_errors]


FORMULAS = [
    pytest.param(0, '=HYPERLINK("http://evil.example/","点我")', id="name-hyperlink"),
    pytest.param(0, "=1+1", id="name-equals"),
    pytest.param(0, "+1", id="name-plus"),
    pytest.param(0, "-1", id="name-minus"),
    pytest.param(0, "@x", id="name-at"),
    pytest.param(0, "  =1+1", id="name-leading-space"),
    pytest.param(1, "=A1", id="number-equals"),
    pytest.param(1, "-1001", id="number-minus"),
    pytest.param(2, "=cmd|' /C calc'!A0", id="delegation-dde"),
    pytest.param(2, "@SUM(1)", id="delegation-at"),
    pytest.param(3, "=1+1", id="phone-equals"),
    pytest.param(3, "-13800001234", id="phone-minus"),
    pytest.param(3, "@13800001234", id="phone-at"),
]
COLUMNS = ("name", "number", "delegation", "phone")


@pytest.mark.parametrize("index, value", FORMULAS)
def test_formula_cells_are_refused(index, value):
    row = ["张三", "1001", "一团", "13800001234"]
    row[index] = value
    for filename, data in (
        ("roster.csv", csv_bytes([HEADER, row])),
        ("roster.xlsx", xlsx_bytes([HEADER, row])),  # openpyxl stores "=..." as a real formula
    ):
        result = parse_roster(filename, data)
        assert result.rows == [], filename
        assert [(e.line, e.column, e.code) for e in result.errors] == [(2, COLUMNS[index], "formula")], filename
        assert result.errors[0].value == value.strip()[:20]


def test_negative_number_cell_in_xlsx_is_a_formula_start():
    result = parse_roster("roster.xlsx", xlsx_bytes([HEADER, [-1, "1001", "一团", None]]))
    assert [(e.column, e.code, e.value) for e in result.errors] == [("name", "formula", "-1")]


@pytest.mark.parametrize(
    "phone, expected",
    [
        pytest.param("13800001234", "13800001234", id="plain"),
        pytest.param("+86 138 0000 1234", "+8613800001234", id="international-spaces"),
        pytest.param("+86-138-0000-1234", "+8613800001234", id="international-dashes"),
        pytest.param("138 0000 1234", "13800001234", id="spaces"),
        pytest.param("138-0000-1234", "13800001234", id="dashes"),
        pytest.param("010-12345678", "01012345678", id="landline"),
        pytest.param(" 13800001234\u3000", "13800001234", id="padded"),
        pytest.param("", None, id="empty"),
    ],
)
def test_phone_accepted_and_normalized(phone, expected):
    result = parse_both([HEADER, ("张三", "1001", "一团", phone)])
    assert result.errors == []
    assert result.rows[0].phone == expected


@pytest.mark.parametrize(
    "phone",
    [
        pytest.param("abc", id="letters"),
        pytest.param("1380000123x", id="trailing-letter"),
        pytest.param("123", id="too-short"),
        pytest.param("(010)12345678", id="parentheses"),
        pytest.param("+SUM(1)", id="plus-formula"),
        pytest.param("+1", id="plus-one"),
        pytest.param("138/0000/1234", id="slashes"),
        pytest.param("13800001234;13900001234", id="two-numbers"),
    ],
)
def test_bad_phone(phone):
    result = parse_both([HEADER, ("张三", "1001", "一团", phone)])
    assert result.rows == []
    assert result.errors == [RowError(2, "phone", "bad_phone", phone[:20])]


def test_phone_stored_as_number_in_xlsx():
    result = parse_roster("roster.xlsx", xlsx_bytes([HEADER, ["张三", 1001, "一团", 13800001234]]))
    assert result.rows == [RosterRow(2, "1001", "张三", "一团", "13800001234")]


@pytest.mark.parametrize(
    "value, expected",
    [
        pytest.param(1001, "1001", id="int"),
        pytest.param(1001.0, "1001", id="integral-float"),
        pytest.param(20240001, "20240001", id="long-int"),
        pytest.param(1001.5, "1001.5", id="fraction"),
    ],
)
def test_deputy_number_stored_as_number_in_xlsx(value, expected):
    result = parse_roster("roster.xlsx", xlsx_bytes([HEADER, ["张三", value, "一团", None]]))
    assert [r.number for r in result.rows] == [expected]


@pytest.mark.parametrize(
    "index, limit",
    [
        pytest.param(0, 100, id="name"),
        pytest.param(1, 32, id="number"),
        pytest.param(2, 100, id="delegation"),
    ],
)
def test_too_long_values(index, limit):
    ok_row = ["张三", "1001", "一团", ""]
    ok_row[index] = "甲" * limit
    long_row = ["李四", "1002", "二团", ""]
    long_row[index] = "乙" * (limit + 1)
    result = parse_both([HEADER, ok_row, long_row])
    assert [r.line for r in result.rows] == [2]
    assert result.errors == [RowError(3, COLUMNS[index], "too_long", "乙" * 20)]


def test_too_long_phone_is_one_error():
    ok_phone = "+" + "1" * 31  # 32 characters, the limit
    long_phone = "1" * 33
    result = parse_both([HEADER, ("张三", "1001", "一团", ok_phone), ("李四", "1002", "二团", long_phone)])
    assert [r.phone for r in result.rows] == [ok_phone]
    assert result.errors == [RowError(3, "phone", "too_long", "1" * 20)]


def test_duplicate_number_names_both_rows():
    rows = [
        HEADER,
        ("张三", "1001", "一团", ""),  # line 2
        ("李四", "1002", "一团", ""),  # line 3
        ("王五", "1001", "二团", ""),  # line 4
        ("赵六", "1001", "二团", ""),  # line 5
    ]
    result = parse_both(rows)
    assert [(r.line, r.name) for r in result.rows] == [(2, "张三"), (3, "李四")]
    assert result.errors == [
        RowError(4, "number", "duplicate_in_file", "1001@2"),
        RowError(5, "number", "duplicate_in_file", "1001@2"),
    ]


def test_duplicate_number_after_trimming_and_number_cells():
    data = xlsx_bytes(
        [HEADER, ["张三", 1001, "一团", None], ["李四", " 1001 ", "一团", None], ["王五", 1001.0, "一团", None]]
    )
    result = parse_roster("roster.xlsx", data)
    assert [r.line for r in result.rows] == [2]
    assert [(e.line, e.code, e.value) for e in result.errors] == [
        (3, "duplicate_in_file", "1001@2"),
        (4, "duplicate_in_file", "1001@2"),
    ]


@pytest.mark.parametrize(
    "cell, expected",
    [
        pytest.param("\u3000张三\u3000", "张三", id="full-width-around"),
        pytest.param("  张三\t", "张三", id="ascii-around"),
        pytest.param("\u3000\u3000欧阳娜娜", "欧阳娜娜", id="full-width-indent"),
        pytest.param("Anna Smith", "Anna Smith", id="latin-inner-space-kept"),
    ],
)
def test_names_are_trimmed(cell, expected):
    result = parse_both([HEADER, (cell, "1001", "\u3000一团\u3000", "")])
    assert [(r.name, r.delegation) for r in result.rows] == [(expected, "一团")]


def test_full_width_space_inside_chinese_name_is_removed():
    result = parse_both([HEADER, ("王\u3000五", "1001", "一团", "")])
    assert [r.name for r in result.rows] == ["王五"]


# --- file-level errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "filename, code",
    [
        ("roster.xls", "old_excel"),
        ("ROSTER.XLS", "old_excel"),
        ("roster.pdf", "unknown_type"),
        ("roster.docx", "unknown_type"),
        ("roster.xlsx.exe", "unknown_type"),
        ("roster", "unknown_type"),
        ("", "unknown_type"),
        (None, "unknown_type"),
    ],
)
def test_file_types(filename, code):
    data = csv_bytes([HEADER, ("张三", "1001", "一团", "")])
    assert file_error(filename, data).code == code


def test_upper_case_xlsx_extension_is_read():
    result = parse_roster("名单.XLSX", xlsx_bytes([HEADER, ("张三", "1001", "一团", "")]))
    assert [r.name for r in result.rows] == ["张三"]


def _zip(members):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def _valid_xlsx():
    return xlsx_bytes([HEADER, ("张三", "1001", "一团", "")])


CORRUPT_XLSX = [
    pytest.param(b"", id="empty-bytes"),
    pytest.param(b"not a zip at all", id="text"),
    pytest.param(b"PK\x03\x04garbage", id="zip-magic-garbage"),
    pytest.param(_valid_xlsx()[: len(_valid_xlsx()) // 2], id="truncated"),
    pytest.param(_zip({"hello.txt": "hi"}), id="unrelated-zip"),
    pytest.param(csv_bytes([HEADER, ("张三", "1001", "一团", "")]), id="csv-renamed"),
    pytest.param(
        _zip(
            {
                "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                'package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/'
                'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
                "word/document.xml": "<w/>",
            }
        ),
        id="docx-renamed",
    ),
]


@pytest.mark.parametrize("data", CORRUPT_XLSX)
def test_corrupt_xlsx(data):
    assert file_error("roster.xlsx", data).code == "bad_xlsx"


def _with_sheet(sheet_xml):
    source = zipfile.ZipFile(io.BytesIO(_valid_xlsx()))
    members = {name: source.read(name) for name in source.namelist()}
    members["xl/worksheets/sheet1.xml"] = sheet_xml
    return _zip(members)


def _with_damaged_sheet_stream():
    data = bytearray(_valid_xlsx())
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 5, start + 25):
        data[i] ^= 0xFF
    return bytes(data)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: _with_sheet(b"<worksheet><sheetData><row"), id="broken-sheet-xml"),
        pytest.param(_with_damaged_sheet_stream, id="damaged-sheet-stream"),
    ],
)
def test_corrupt_xlsx_sheet(make):
    assert file_error("roster.xlsx", make()).code == "bad_xlsx"


@pytest.mark.parametrize(
    "filename, data",
    [
        pytest.param("roster.csv", b"", id="csv-empty"),
        pytest.param("roster.csv", b"\xef\xbb\xbf", id="csv-bom-only"),
        pytest.param("roster.csv", b"\n\n,,,\n\t\n", id="csv-blank-lines"),
        pytest.param("roster.csv", "姓名,代表证号,代表团\n".encode(), id="csv-header-only"),
        pytest.param("roster.csv", "姓名,代表证号,代表团\n,,\n\n".encode(), id="csv-header-and-blanks"),
        pytest.param("roster.xlsx", xlsx_bytes([]), id="xlsx-empty-sheet"),
        pytest.param("roster.xlsx", xlsx_bytes([HEADER]), id="xlsx-header-only"),
    ],
)
def test_empty_files(filename, data):
    assert file_error(filename, data).code == "empty"


@pytest.mark.parametrize("maker", [csv_bytes, xlsx_bytes], ids=["csv", "xlsx"])
def test_max_rows(maker):
    rows = [HEADER] + [(f"代表{i}", str(1000 + i), "一团", "") for i in range(3)]
    blank = [(None, None, None, None)]
    filename = "roster.csv" if maker is csv_bytes else "roster.xlsx"
    # Exactly at the limit, blank rows not counted.
    result = parse_roster(filename, maker(rows[:2] + blank + rows[2:] + blank), max_rows=3)
    assert len(result.rows) == 3
    error = file_error(filename, maker(rows + [("多一个", "2000", "一团", "")]), max_rows=3)
    assert error.code == "too_many_rows"
    assert error.params == {"limit": 3}


def test_rows_with_errors_count_toward_max_rows():
    rows = [HEADER, ("", "1", "一团", ""), ("", "2", "一团", ""), ("张三", "3", "一团", "")]
    assert file_error("roster.csv", csv_bytes(rows), max_rows=2).code == "too_many_rows"


# --- packaging ------------------------------------------------------------------------------


@pytest.mark.parametrize("module", ["voting.deputies.roster", "voting.meetings.rules", "voting.meetings.checkin_codes"])
def test_pure_module_imports_on_its_own(module):
    # Regression: a voting.auth <-> voting.accounts import cycle once made these fail when
    # imported first, outside an app.
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-500:]
