"""Read a deputy roster from an organizer's .xlsx or .csv file.

Pure: bytes in, rows and row-numbered errors out; no Flask, no database. Headers are
matched the way organizers write them (姓名, 代表证号, 代表团, 手机号码 ...).
"""

import csv
import io
import re
import zlib
from dataclasses import dataclass, field
from xml.etree import ElementTree

# Column -> header spellings seen in real rosters (compared after normalising, see _norm_header).
HEADERS = {
    "name": ("姓名", "代表姓名", "名字", "name"),
    "number": ("代表证号", "代表编号", "代表证编号", "编号", "证号", "代表号", "序号编号", "number", "deputynumber"),
    "delegation": (
        "代表团", "所属代表团", "代表组", "代表团组", "所在代表团", "街道", "所在街道", "选区", "选举单位",
        "delegation", "street",
    ),
    "phone": ("手机", "手机号", "手机号码", "联系电话", "电话", "联系方式", "phone", "mobile"),
}
REQUIRED = ("name", "number", "delegation")
MAX_LENGTH = {"name": 100, "number": 32, "delegation": 100, "phone": 32}
_FORMULA_START = ("=", "+", "-", "@")
_PHONE_RE = re.compile(r"^\+?[0-9][0-9 \-]{4,30}$")


class RosterFileError(Exception):
    """The file as a whole cannot be read (wrong type, empty, missing columns)."""

    def __init__(self, code, **params):
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class RosterRow:
    line: int
    number: str
    name: str
    delegation: str
    phone: str | None


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    code: str
    value: str = ""


@dataclass
class ParsedRoster:
    rows: list[RosterRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def _norm_header(value):
    text = str(value or "")
    text = re.sub(r"[（(][^）)]*[）)]", "", text)  # drop notes like （必填）
    return re.sub(r"[\s\u3000*＊:：_\-]", "", text).lower()


_HEADER_LOOKUP = {_norm_header(h): col for col, names in HEADERS.items() for h in names}


_CJK_PADDING = re.compile(r"(?<=[\u3400-\u9fff])[ \u3000]+(?=[\u3400-\u9fff])")


def _cell_text(value):
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    # Full-width spaces and stray whitespace are common in pasted cells; spaces between Chinese
    # characters only pad a two-character name for alignment (王　五).
    return _CJK_PADDING.sub("", str(value).replace("\u3000", " ").strip())


def read_table(filename, data):
    """Return the file's rows as lists of cell texts, first row first."""
    lower = (filename or "").lower()
    if lower.endswith(".xlsx"):
        return _read_xlsx(data)
    if lower.endswith(".csv") or lower.endswith(".txt"):
        return _read_csv(data)
    if lower.endswith(".xls"):
        raise RosterFileError("old_excel")
    raise RosterFileError("unknown_type")


def _read_xlsx(data):
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    # A damaged workbook can fail while opening or, for read-only workbooks that parse sheets
    # lazily, while reading rows.
    damaged = (ElementTree.ParseError, zlib.error, BadZipFile, KeyError, ValueError, OSError, IndexError)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except damaged:
        raise RosterFileError("bad_xlsx") from None
    try:
        sheet = workbook.worksheets[0]
        return [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    except damaged:
        raise RosterFileError("bad_xlsx") from None
    finally:
        workbook.close()


def _read_csv(data):
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise RosterFileError("bad_encoding")
    # Guess the separator from the busiest of the first lines: a title line above the header has none.
    head = text.splitlines()[:10]
    tabs = max((line.count("\t") for line in head), default=0)
    commas = max((line.count(",") for line in head), default=0)
    delimiter = "\t" if tabs > commas else ","
    try:
        # splitlines() also accepts the bare CR line ends that Excel for Mac writes.
        return [[_cell_text(v) for v in row] for row in csv.reader(text.splitlines(), delimiter=delimiter)]
    except csv.Error:
        raise RosterFileError("bad_csv") from None


def map_header(header):
    """Map column positions to fields; raise RosterFileError if a required column is missing."""
    positions = {}
    for index, value in enumerate(header):
        column = _HEADER_LOOKUP.get(_norm_header(value))
        if column and column not in positions:
            positions[column] = index
    missing = [c for c in REQUIRED if c not in positions]
    if missing:
        raise RosterFileError("missing_columns", columns=missing, found=[h for h in header if h])
    return positions


def parse_roster(filename, data, max_rows=20000):
    """Parse a roster file into rows and row errors (line numbers as the spreadsheet shows them)."""
    table = read_table(filename, data)
    # Skip a title row or blank rows above the header, as organizers often add one.
    header_index = None
    for index, row in enumerate(table[:10]):
        if sum(1 for cell in row if _HEADER_LOOKUP.get(_norm_header(cell))) >= 2:
            header_index = index
            break
    if header_index is None:
        if not any(any(cell for cell in row) for row in table):
            raise RosterFileError("empty")
        raise RosterFileError("missing_columns", columns=list(REQUIRED), found=[c for c in table[0] if c])
    positions = map_header(table[header_index])
    result = ParsedRoster()
    seen_numbers = {}
    data_rows = 0
    for offset, row in enumerate(table[header_index + 1 :]):
        line = header_index + 2 + offset
        if not any(row):
            continue
        data_rows += 1
        if data_rows > max_rows:
            raise RosterFileError("too_many_rows", limit=max_rows)
        values = {col: (row[pos] if pos < len(row) else "") for col, pos in positions.items()}
        row_errors = _validate_row(line, values)
        number = values.get("number", "")
        if number and number in seen_numbers:
            row_errors.append(RowError(line, "number", "duplicate_in_file", f"{number}@{seen_numbers[number]}"))
        elif number:
            seen_numbers[number] = line
        if row_errors:
            result.errors.extend(row_errors)
            continue
        result.rows.append(
            RosterRow(
                line=line,
                number=number,
                name=values["name"],
                delegation=values["delegation"],
                phone=_normalize_phone(values.get("phone", "")) or None,
            )
        )
    if data_rows == 0:
        raise RosterFileError("empty")
    return result


def _validate_row(line, values):
    errors = []
    for column in REQUIRED:
        if not values.get(column):
            errors.append(RowError(line, column, "required"))
    for column, value in values.items():
        if len(value) > MAX_LENGTH[column]:
            errors.append(RowError(line, column, "too_long", value[:20]))
        elif value.startswith(_FORMULA_START) and not (column == "phone" and value.startswith("+")):
            errors.append(RowError(line, column, "formula", value[:20]))
    phone = values.get("phone", "")
    phone_flagged = any(e.column == "phone" for e in errors)
    if phone and not phone_flagged and not _PHONE_RE.match(phone):
        errors.append(RowError(line, "phone", "bad_phone", phone[:20]))
    return errors


def _normalize_phone(phone):
    return re.sub(r"[ \-]", "", phone)
