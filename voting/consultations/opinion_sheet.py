"""Read opinions gathered at a meeting (征询会) from contact-point staff's .xlsx or .csv sheet.

Pure: bytes in, rows and row-numbered errors out; no Flask, no database. Headers are matched
the way staff write them (条款 / 第几条, 意见内容, 提出人, 联系电话, 人数); the article is
written as staff write it too: 第十二条, 12, 第12条, 第十条之一, 第十二条第二款, or 总体 for
an opinion on the whole draft.

A cell holding a formula is read as its text (``=HYPERLINK(...)`` stays those characters): it
is never evaluated, and pages and exports treat it as any other text. Row numbers are the
ones the spreadsheet shows.

.xlsx sheets are read with the standard library's C XML parser rather than openpyxl: a sheet of
300,000 opinions took openpyxl 67 s and this reader 17 s on the same (busy) machine. The zip
is checked before anything is inflated (entry count, declared and real unpacked size, packing
ratio), and a part that declares a DTD is refused, so no entity is ever expanded.
"""

import csv
import functools
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from xml.etree.ElementTree import ParseError, iterparse

from voting.consultations.splitter import parse_chinese_number

MAX_SHEET_BYTES = 50 * 1024 * 1024
MAX_ROWS = 300_000
MAX_TEXT_CHARS = 5000  # the same limit as an opinion sent online (models.MAX_OPINION_CHARS)
MAX_NAME_CHARS = 100
MAX_PEOPLE = 100_000
MAX_PART_BYTES = 800 * 1024 * 1024  # one unpacked XML part; 300,000 opinions unpack to about 100 MB
MAX_RATIO = 200  # unpacked / packed size of one part
MAX_ENTRIES = 1000
_READ_CHUNK = 256 * 1024

# Column -> header spellings seen in real sheets (compared after normalising, see _norm_header).
HEADERS = {
    "article": (
        "条款",
        "条目",
        "第几条",
        "条",
        "条文",
        "条款号",
        "涉及条款",
        "对应条款",
        "所涉条款",
        "相关条款",
        "法条",
        "章节条款",
        "修改条款",
        "条款序号",
        "article",
    ),
    "text": (
        "意见内容",
        "意见",
        "意见建议",
        "意见和建议",
        "建议内容",
        "具体意见",
        "修改意见",
        "意见建议内容",
        "内容",
        "主要意见",
        "opinion",
        "text",
    ),
    "name": ("提出人", "姓名", "意见人", "提出者", "建议人", "发言人", "名字", "联系人", "提出人姓名", "name"),
    "phone": ("联系电话", "电话", "手机", "手机号", "手机号码", "联系方式", "phone", "mobile"),
    "people": ("人数", "提出人数", "附议人数", "涉及人数", "人次", "people"),
}
REQUIRED = ("article", "text")
# Written in the article column for an opinion on the draft as a whole.
WHOLE_DRAFT = frozenset(
    {"总体", "总体意见", "整体", "整体意见", "全文", "通篇", "草案整体", "综合", "综合意见", "总的意见"}
    | {"whole", "general"}
)
_PHONE = re.compile(r"^\+?[0-9]{5,20}$")
_PHONE_NOISE = re.compile(r"[\s\-()（）]")


class SheetError(Exception):
    """The file as a whole cannot be read (too large, wrong type, damaged, empty, columns missing)."""

    def __init__(self, code, **params):
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class ArticleRef:
    """第{number}条 (之{suffix}); the sheet's way of naming an article."""

    number: int
    suffix: int = 0


@dataclass(frozen=True)
class SheetRow:
    line: int
    article: ArticleRef | None  # None: the whole draft
    text: str
    name: str | None
    phone: str | None
    people: int


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    code: str  # required, too_long, bad_article, many_articles, bad_phone, bad_people, unknown_article
    value: str = ""


@dataclass
class ParsedSheet:
    rows: list[SheetRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


# -- cells and headers ---------------------------------------------------------------------------


def _norm_header(value):
    text = unicodedata.normalize("NFKC", str(value or ""))
    text = re.sub(r"[(][^)]*[)]", "", text)  # drop notes like （必填）, （选填）
    return re.sub(r"[\s*:_\-/]", "", text).lower()


_HEADER_LOOKUP = {_norm_header(h): column for column, names in HEADERS.items() for h in names}


def _cell_text(value):
    if value is None:
        return ""
    if not isinstance(value, str):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        value = str(value)
    if "\r" in value or "\x00" in value:
        value = value.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    return value.strip()


# -- the article column --------------------------------------------------------------------------

_NUMERAL = r"[0-9零〇○一二两三四五六七八九十百千]+"
_ARTICLE_CELL = re.compile(
    rf"^第?({_NUMERAL})(?:[条條]|、|\.)?(?:之({_NUMERAL}))?"
    rf"(?:第?(?:{_NUMERAL}|\({_NUMERAL}\))[款项項])*$"
)
_MANY = re.compile(rf"^第?{_NUMERAL}[条條]?(?:[、,，;；和及至到~-]第?{_NUMERAL}[条條]?)+$")
_OTHER_UNIT = re.compile(rf"^第?{_NUMERAL}[编編章节節]")


@functools.lru_cache(maxsize=4096)
def parse_article(cell):
    """Return the ArticleRef a cell names, or None for the whole draft; raise ValueError(code) if unclear.

    ``code`` is "bad_article" or "many_articles" (one opinion a row, on one article).
    """
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", cell or "")).replace("○", "〇")
    if text.lower() in WHOLE_DRAFT:
        return None
    match = _ARTICLE_CELL.match(text)
    if match is None:
        if _MANY.match(text):
            raise ValueError("many_articles")
        raise ValueError("bad_article")
    try:
        number = parse_chinese_number(match.group(1))
        suffix = parse_chinese_number(match.group(2)) if match.group(2) else 0
    except ValueError:
        raise ValueError("bad_article") from None
    if number <= 0 or number > 100_000 or suffix > 100:
        raise ValueError("bad_article")
    return ArticleRef(number, suffix)


def article_label(ref):
    """Write an ArticleRef the way legal texts do (第十二条, 第十条之一), or 总体 for the whole draft."""
    from voting.consultations.splitter import chinese_number

    if ref is None:
        return "总体"
    return f"第{chinese_number(ref.number)}条" + (f"之{chinese_number(ref.suffix)}" if ref.suffix else "")


# -- reading the file ----------------------------------------------------------------------------


def read_table(filename, data):
    """Yield (row number as the spreadsheet shows it, [cell texts]) for every row of the first sheet."""
    if len(data) > MAX_SHEET_BYTES:
        raise SheetError("too_large", mb=MAX_SHEET_BYTES // (1024 * 1024))
    lower = (filename or "").lower()
    if lower.endswith(".xls") or data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise SheetError("old_excel")
    if lower.endswith(".xlsx") or (data.startswith(b"PK\x03\x04") and not lower.endswith((".csv", ".txt"))):
        return _read_xlsx(data)
    if lower.endswith((".csv", ".txt")):
        return _read_csv(data)
    raise SheetError("unknown_type")


def _read_csv(data):
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise SheetError("bad_encoding")
    if "\x00" in text:
        raise SheetError("bad_csv")
    head = text[:20_000].splitlines()[:10]
    tabs = max((line.count("\t") for line in head), default=0)
    commas = max((line.count(",") for line in head), default=0)
    delimiter = "\t" if tabs > commas else ","
    try:
        # newline="" keeps line breaks inside a quoted cell (an opinion of several paragraphs).
        rows = [
            (n, [_cell_text(v) for v in row])
            for n, row in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1)
        ]
    except csv.Error:
        raise SheetError("bad_csv") from None
    return rows


_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_CELL_REF = re.compile(r"([A-Z]{1,3})(\d*)")


class _CappedPart(io.RawIOBase):
    """A zip part read through a byte counter that stops at MAX_PART_BYTES (declared sizes can lie)."""

    def __init__(self, part, name):
        self.part, self.name, self.size, self.checked = part, name, 0, False

    def readable(self):
        return True

    def readinto(self, buffer):
        chunk = self.part.read(min(len(buffer), _READ_CHUNK))
        if not self.checked:
            # A DTD may only stand before the root element: refusing one there rules out entity
            # expansion (billion laughs) and external entities.
            self.checked = True
            prolog = chunk[:4096].lower()
            if b"<!doctype" in prolog or b"<!entity" in prolog:
                raise SheetError("bad_xlsx")
        self.size += len(chunk)
        if self.size > MAX_PART_BYTES:
            raise SheetError("zip_bomb")
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _open_part(archive, name):
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.flag_bits & 0x1:
        raise SheetError("bad_xlsx")  # encrypted: a password-protected workbook
    if info.file_size > MAX_PART_BYTES or info.file_size > MAX_RATIO * max(info.compress_size, 1) + 1024 * 1024:
        raise SheetError("zip_bomb")
    return io.BufferedReader(_CappedPart(archive.open(info), name), _READ_CHUNK)


def _iterparse(archive, name):
    part = _open_part(archive, name)
    if part is None:
        return None
    # The C parser is four times faster than defusedxml's; _CappedPart refuses any DTD first.
    return iterparse(part, events=("end",))  # noqa: S314


def _first_sheet_path(archive):
    """Return the path of the workbook's first sheet (the one Excel opens on), from workbook.xml."""
    try:
        events = _iterparse(archive, "xl/workbook.xml")
        rels = _iterparse(archive, "xl/_rels/workbook.xml.rels")
        first = None
        if events is not None:
            for _, element in events:
                if element.tag == f"{_NS}sheet" and first is None:
                    first = element.get(f"{_REL_NS}id")
        if first and rels is not None:
            for _, element in rels:
                if element.tag == f"{_PKG_REL_NS}Relationship" and element.get("Id") == first:
                    target = element.get("Target", "").lstrip("/")
                    return target if target.startswith("xl/") else "xl/" + target
    except ParseError:
        raise SheetError("bad_xlsx") from None
    return "xl/worksheets/sheet1.xml"


def _shared_strings(archive):
    events = _iterparse(archive, "xl/sharedStrings.xml")
    if events is None:
        return []
    strings = []
    si, t, run = f"{_NS}si", f"{_NS}t", f"{_NS}r"
    for _, element in events:
        if element.tag == si:
            # Plain text is one <t>; rich text is a <t> in each run. Phonetic guides (<rPh>) are skipped.
            plain = element.find(t)
            strings.append(
                plain.text or "" if plain is not None else "".join(r.findtext(t) or "" for r in element.findall(run))
            )
            element.clear()
    return strings


def _column_index(letters):
    index = 0
    for ch in letters:
        index = index * 26 + ord(ch) - 64
    return index - 1


def _read_xlsx(data):
    damaged = (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        OSError,
        EOFError,
        ParseError,
        KeyError,
        ValueError,
        IndexError,
    )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        if len(archive.infolist()) > MAX_ENTRIES:
            raise SheetError("zip_bomb")
        strings = _shared_strings(archive)
        events = _iterparse(archive, _first_sheet_path(archive))
        if events is None:
            raise SheetError("bad_xlsx")
        return list(_sheet_rows(events, strings))
    except damaged:
        raise SheetError("bad_xlsx") from None


def _sheet_rows(events, strings):
    c_tag, row_tag, v_tag, f_tag, is_tag, t_tag = (f"{_NS}{n}" for n in ("c", "row", "v", "f", "is", "t"))
    cells = {}
    previous_row = 0
    for _, element in events:
        tag = element.tag
        if tag == c_tag:
            kind = element.get("t")
            value = None
            formula = None
            for child in element:
                if child.tag == v_tag:
                    value = child.text
                elif child.tag == f_tag:
                    formula = child.text
                elif child.tag == is_tag:
                    value = "".join(x.text or "" for x in child.iter(t_tag))
            if formula:
                value = "=" + formula  # the formula itself, never its result
            elif kind == "s" and value is not None:
                value = strings[int(value)]
            elif kind == "b" and value is not None:
                value = "TRUE" if value == "1" else "FALSE"
            elif kind in (None, "n") and value is not None and ("." in value or "E" in value or "e" in value):
                number = float(value)
                value = str(int(number)) if number.is_integer() and abs(number) < 1e16 else value
            match = _CELL_REF.match(element.get("r", ""))
            column = _column_index(match.group(1)) if match else len(cells)
            if value is not None:
                cells[column] = value
        elif tag == row_tag:
            number = int(element.get("r") or previous_row + 1)
            previous_row = number
            if cells:
                width = max(cells) + 1
                yield number, [_cell_text(cells.get(i)) for i in range(min(width, 64))]
            cells = {}
            element.clear()


# -- parsing -------------------------------------------------------------------------------------


def _find_header(table):
    for index, (_, row) in enumerate(table[:10]):
        if sum(1 for cell in row if _HEADER_LOOKUP.get(_norm_header(cell))) >= 2:
            return index
    return None


def map_header(header):
    """Map fields to column positions; raise SheetError if a required column is missing."""
    positions = {}
    for index, value in enumerate(header):
        column = _HEADER_LOOKUP.get(_norm_header(value))
        if column and column not in positions:
            positions[column] = index
    missing = [c for c in REQUIRED if c not in positions]
    if missing:
        raise SheetError("missing_columns", columns=missing, found=[h for h in header if h])
    return positions


def parse_opinion_sheet(filename, data, max_rows=MAX_ROWS):
    """Parse a sheet into rows and row errors; raise SheetError when the file itself is unusable."""
    table = read_table(filename, data)
    header_index = _find_header(table)
    if header_index is None:
        if not any(any(cells) for _, cells in table):
            raise SheetError("empty")
        first = next((cells for _, cells in table if any(cells)), [])
        raise SheetError("missing_columns", columns=list(REQUIRED), found=[c for c in first if c])
    positions = map_header(table[header_index][1])
    result = ParsedSheet()
    data_rows = 0
    for line, cells in table[header_index + 1 :]:
        if not any(cells):
            continue
        data_rows += 1
        if data_rows > max_rows:
            raise SheetError("too_many_rows", limit=max_rows)
        values = {col: (cells[pos] if pos < len(cells) else "") for col, pos in positions.items()}
        row, errors = _parse_row(line, values)
        if errors:
            result.errors.extend(errors)
        else:
            result.rows.append(row)
    if data_rows == 0:
        raise SheetError("empty")
    return result


def _parse_row(line, values):
    errors = []
    article = None
    raw_article = values.get("article", "")
    if not raw_article:
        errors.append(RowError(line, "article", "required"))
    else:
        try:
            article = parse_article(raw_article)
        except ValueError as error:
            errors.append(RowError(line, "article", str(error), raw_article[:20]))
    text = values.get("text", "")
    if not text:
        errors.append(RowError(line, "text", "required"))
    elif len(text) > MAX_TEXT_CHARS:
        errors.append(RowError(line, "text", "too_long", str(len(text))))
    name = values.get("name", "")
    name = (" ".join(name.split()) if name else None) or None
    if name and len(name) > MAX_NAME_CHARS:
        errors.append(RowError(line, "name", "too_long", str(len(name))))
    phone = values.get("phone", "")
    if phone and not (phone.isascii() and phone.isdigit() and 5 <= len(phone) <= 20):
        phone = _PHONE_NOISE.sub("", unicodedata.normalize("NFKC", phone))
        if not _PHONE.match(phone):
            errors.append(RowError(line, "phone", "bad_phone", values["phone"][:20]))
    people = 1
    raw_people = values.get("people", "")
    if raw_people and raw_people != "1":
        people = _people(raw_people)
        if people is None:
            errors.append(RowError(line, "people", "bad_people", raw_people[:20]))
    if errors:
        return None, errors
    return SheetRow(line, article, text, name, phone or None, people), []


@functools.lru_cache(maxsize=1024)
def _people(cell):
    """Return the head count a 人数 cell gives (5, 5人, 五人), or None if it is not 1 to MAX_PEOPLE."""
    text = unicodedata.normalize("NFKC", cell).strip().removesuffix("人").strip()
    try:
        people = int(text) if text.isascii() else parse_chinese_number(text)
    except ValueError:
        return None
    return people if 1 <= people <= MAX_PEOPLE else None


def check_articles(parsed, known):
    """Return a RowError for every row naming an article that ``known`` (a set of (number, suffix)) lacks."""
    return [
        RowError(row.line, "article", "unknown_article", article_label(row.article))
        for row in parsed.rows
        if row.article is not None and (row.article.number, row.article.suffix) not in known
    ]
