"""Shared pieces of every export: cells that stay text, streamed CSV and XLSX, download headers, PDF lines.

- ``text_cell``: a spreadsheet runs a cell starting with = + - @ (or shifts one starting with a
  tab or carriage return); a leading apostrophe keeps it the text it is (DOMAIN.md E).
- ``csv_chunks``: CSV as Excel reads it (UTF-8 with a BOM), produced a few thousand rows at a
  time for a streamed response, so a 300,000-row export never sits in memory; ``csv_field`` makes
  one cell a field.
- ``XlsxStream``: an .xlsx written row by row straight into its zip file. XlsxWriter's
  constant_memory mode does the same, but its per-cell Python took 24 s of CPU for 300,000 rows
  of six cells on the 2-core machine, more than the 20 s the issue allows for the whole export;
  this writer produces the same SpreadsheetML (inline strings, as constant_memory does) with one
  string template per cell, in 4.5 s. Every string is an inline string (``t="inlineStr"``), so
  no text can become a formula, a number or a link, whatever it starts with.
- ``attachment_headers``: the file name in UTF-8 (RFC 5987) with an ASCII fallback.
- ``wrap_lines`` and ``page_total_canvas``: for PDF tables of many thousand rows, where
  reportlab's Paragraph costs a millisecond a cell, and "page x of y" on pages that are written
  out (deflated) as they are finished instead of all held until the count is known.
"""

import re
import time
import zipfile
from urllib.parse import quote

# -- cells -------------------------------------------------------------------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value):
    """Return a cell a spreadsheet shows as the text it is, never runs as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def cooperate():
    """Let other requests of this worker run: under gevent ``time.sleep`` is patched to switch greenlets."""
    time.sleep(0)


# -- CSV ---------------------------------------------------------------------------------------------


def csv_field(value):
    """Return ``value`` as one CSV field: formula-safe, and quoted when it holds a comma, a quote or a line break.

    The quoting is RFC 4180's, as Excel and Python's csv module write it (QUOTE_MINIMAL); ``None`` is empty.
    """
    if value is None:
        return ""
    if value.__class__ is not str:
        return str(value)
    if value.startswith(FORMULA_STARTS):
        value = "'" + value
    if '"' in value or "," in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_chunks(headers, rows, chunk_rows=2000):
    """Yield CSV bytes for ``rows`` of values under ``headers``: UTF-8 with a BOM, every text cell formula-safe.

    The BOM makes Excel read the file as UTF-8 (without it, Chinese shows as mojibake). Each value
    becomes a field with ``csv_field``; a producer of many rows builds its lines itself and uses
    ``csv_line_chunks``.
    """
    join = ",".join
    return csv_line_chunks(headers, (join(map(csv_field, row)) for row in rows), chunk_rows)


def csv_line_chunks(headers, lines, chunk_rows=2000, encoded=False):
    """Yield CSV bytes for ``lines``, each a whole line of fields already (without its end), under ``headers``.

    Lines end in CRLF, as the csv module and Excel write them. Over 300,000 opinions, a call per
    cell was a third of the export (docs/BENCHMARKS.md); a producer that builds each line in one
    go uses this directly. ``encoded``: the lines are UTF-8 bytes already (``csv_field_bytes``).
    """
    yield ("\ufeff" + ",".join(csv_field(str(h)) for h in headers) + "\r\n").encode("utf-8")
    end, batch = (b"", []) if encoded else ("", [])
    for line in lines:
        batch.append(line)
        if len(batch) >= chunk_rows:
            batch.append(end)
            yield b"\r\n".join(batch) if encoded else "\r\n".join(batch).encode("utf-8")
            batch.clear()
            cooperate()
    if batch:
        batch.append(end)
        yield b"\r\n".join(batch) if encoded else "\r\n".join(batch).encode("utf-8")


_FORMULA_STARTS_BYTES = tuple(s.encode() for s in FORMULA_STARTS)


def csv_field_bytes(value):
    """``csv_field`` for text that is UTF-8 bytes already (read from the database as such, never decoded)."""
    if value.startswith(_FORMULA_STARTS_BYTES):
        value = b"'" + value
    # One pass over the bytes (deleting the four that need quotes) costs half of four searches for them.
    if len(value.translate(None, b'",\n\r')) != len(value):
        return b'"' + value.replace(b'"', b'""') + b'"'
    return value


# -- downloads ---------------------------------------------------------------------------------------

_UNSAFE_IN_FILENAME = re.compile(r'[\x00-\x1f\x7f"*/:<>?\\|]+')


def filename_part(text, limit=60, fallback="export"):
    """Make ``text`` safe inside a file name: no path separators, quotes or control characters."""
    return re.sub(r"\s+", " ", _UNSAFE_IN_FILENAME.sub(" ", str(text))).strip(" .")[:limit] or fallback


def attachment_headers(filename, ascii_filename):
    """Headers that make a response a download named ``filename`` (UTF-8), ``ascii_filename`` for old clients."""
    return {
        "Content-Disposition": (
            f"attachment; filename=\"{ascii_filename}\"; filename*=UTF-8''{quote(filename, safe='')}"
        ),
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }


# -- XLSX --------------------------------------------------------------------------------------------

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_CELL_CHARS = 32767  # Excel's limit for one cell
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")

# Cell styles by name -> index into cellXfs of the styles part written by ``_styles_xml``.
STYLES = {"default": 0, "text": 1, "number": 2, "header": 3, "title": 4, "note": 5, "strong": 6}

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG_R = "http://schemas.openxmlformats.org/package/2006/relationships"
_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def column_letter(index):
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def xml_text(value):
    """Escape text for an XML element or attribute, dropping characters XML 1.0 cannot carry, cut at Excel's limit."""
    value = str(value)
    if len(value) > MAX_CELL_CHARS:
        value = value[: MAX_CELL_CHARS - 1] + "…"
    if _ILLEGAL_XML.search(value):
        value = _ILLEGAL_XML.sub("", value)
    # Tests for the rare characters first: most opinions have none, and ``in`` is far cheaper than translate.
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if '"' in value:
        value = value.replace('"', "&quot;")
    return value


class XlsxSheet:
    """One worksheet being written: rows go out in order, each at most once."""

    def __init__(self, stream, name, widths, freeze_rows, landscape, footer):
        self._stream = stream
        self._parts = []
        self._size = 0
        self.rows_written = 0
        self._merges = []
        self._columns = [column_letter(i) for i in range(max(len(widths), 1) + 32)]
        self._last_column = len(widths) - 1
        self.landscape = landscape
        self.footer = footer
        self.name = name
        self.print_title_rows = None
        self._write(_DECL + f'<worksheet xmlns="{_NS}" xmlns:r="{_NS_R}">')
        self._write('<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>')
        if freeze_rows:
            self._write(
                '<sheetViews><sheetView workbookViewId="0">'
                f'<pane ySplit="{freeze_rows}" topLeftCell="A{freeze_rows + 1}" activePane="bottomLeft" '
                'state="frozen"/>'
                '<selection pane="bottomLeft"/></sheetView></sheetViews>'
            )
        else:
            self._write('<sheetViews><sheetView workbookViewId="0"/></sheetViews>')
        self._write('<sheetFormatPr defaultRowHeight="15"/>')
        if widths:
            cols = "".join(
                f'<col min="{i + 1}" max="{i + 1}" width="{width}" customWidth="1"/>' for i, width in enumerate(widths)
            )
            self._write(f"<cols>{cols}</cols>")
        self._write("<sheetData>")

    def _write(self, text):
        self._parts.append(text)
        self._size += len(text)
        if self._size > 1 << 18:
            self.flush()

    def flush(self):
        if self._parts:
            self._stream.write("".join(self._parts).encode("utf-8"))
            self._parts.clear()
            self._size = 0

    def row(self, values, styles="text", height=None):
        """Write the next row. ``styles``: one style name for every cell, one per cell, or ``style_ids(names)``.

        None and empty cells are left out.

        Strings are inline text (never a formula), ints and floats numbers, bools booleans.
        """
        self.rows_written += 1
        r = self.rows_written
        if styles.__class__ is str:
            styles = (STYLES[styles],) * len(values)
        elif styles.__class__ is not tuple:
            styles = self.style_ids(styles)
        columns = self._columns
        cells = []
        append = cells.append
        # Exact class tests, not isinstance: this loop runs for every cell of 300,000 rows.
        for i, value in enumerate(values):
            cls = value.__class__
            if cls is str:
                text = xml_text(value) if value else ""
                if not text:  # empty, or nothing but characters XML cannot carry
                    continue
                # Excel drops leading and trailing blanks unless told to keep them.
                keep = ' xml:space="preserve"' if text[0].isspace() or text[-1].isspace() else ""
                append(f'<c r="{columns[i]}{r}" s="{styles[i]}" t="inlineStr"><is><t{keep}>{text}</t></is></c>')
            elif value is None:
                continue
            elif cls is int or cls is float:
                append(f'<c r="{columns[i]}{r}" s="{styles[i]}"><v>{value}</v></c>')
            elif cls is bool:
                append(f'<c r="{columns[i]}{r}" s="{styles[i]}" t="b"><v>{int(value)}</v></c>')
            else:
                append(f'<c r="{columns[i]}{r}" s="{styles[i]}" t="inlineStr"><is><t>{xml_text(value)}</t></is></c>')
        attrs = f' ht="{height}" customHeight="1"' if height else ""
        self._write(f'<row r="{r}"{attrs}>{"".join(cells)}</row>')
        if r % 2000 == 0:
            cooperate()
        return r

    @staticmethod
    def style_ids(names):
        """Style names -> the tuple ``row`` takes without looking each name up again (for many rows)."""
        return tuple(STYLES[name] for name in names)

    def merge_last_row(self, first_column=0, last_column=None):
        """Merge the cells of the row just written from ``first_column`` to ``last_column`` (default: the last)."""
        last_column = self._last_column if last_column is None else last_column
        r = self.rows_written
        self._merges.append(f"{self._columns[first_column]}{r}:{self._columns[last_column]}{r}")

    def repeat_rows_on_print(self, first, last):
        """Print rows ``first``..``last`` (1-based) at the top of every page."""
        self.print_title_rows = (first, last)

    def close(self):
        self._write("</sheetData>")
        if self._merges:
            merges = "".join(f'<mergeCell ref="{ref}"/>' for ref in self._merges)
            self._write(f'<mergeCells count="{len(self._merges)}">{merges}</mergeCells>')
        self._write('<pageMargins left="0.5" right="0.5" top="0.6" bottom="0.7" header="0.3" footer="0.3"/>')
        orientation = "landscape" if self.landscape else "portrait"
        self._write(f'<pageSetup paperSize="9" orientation="{orientation}" fitToWidth="1" fitToHeight="0"/>')
        if self.footer:
            self._write(f"<headerFooter><oddFooter>{xml_text(self.footer)}</oddFooter></headerFooter>")
        self._write("</worksheet>")
        self.flush()
        self._stream.close()


class XlsxStream:
    """An .xlsx workbook written sheet by sheet, row by row, into ``target`` (a path or a binary file).

    ::

        with XlsxStream(path) as book:
            sheet = book.add_sheet("汇总表", widths=[6, 30], freeze_rows=1)
            sheet.row(["序号", "意见"], "header")
            sheet.row([1, "=1+1 stays text"])
    """

    def __init__(self, target, title=None):
        # Level 1 deflate: a third of the default level's CPU for a file about 10% larger (docs/BENCHMARKS.md).
        self._zip = zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
        self._sheets = []
        self._open = None
        self.title = title

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is None:
            self.close()
        else:
            self._zip.close()

    def add_sheet(self, name, widths=(), freeze_rows=0, landscape=False, footer=None):
        """Start the next worksheet (the one before is finished). ``footer``: Excel's codes, e.g. ``&C&P / &N``."""
        if self._open is not None:
            self._open.close()
        name = _SHEET_NAME_FORBIDDEN.sub(" ", str(name))[:31].strip("' ") or f"Sheet{len(self._sheets) + 1}"
        taken = {sheet.name for sheet in self._sheets}
        base, n = name, 2
        while name in taken:
            name = f"{base[:28]} ({n})"
            n += 1
        stream = self._zip.open(f"xl/worksheets/sheet{len(self._sheets) + 1}.xml", "w", force_zip64=True)
        self._open = XlsxSheet(stream, name, list(widths), freeze_rows, landscape, footer)
        self._sheets.append(self._open)
        return self._open

    def close(self):
        if self._open is not None:
            self._open.close()
            self._open = None
        if not self._sheets:
            self.add_sheet("Sheet1").close()
        count = len(self._sheets)
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(1, count + 1)
        )
        self._zip.writestr(
            "[Content_Types].xml",
            _DECL + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            '<Override PartName="/docProps/core.xml" '
            'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
            f"{overrides}</Types>",
        )
        self._zip.writestr(
            "_rels/.rels",
            _DECL + f'<Relationships xmlns="{_NS_PKG_R}">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="xl/workbook.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/'
            'core-properties" Target="docProps/core.xml"/></Relationships>',
        )
        title = f"<dc:title>{xml_text(self.title)}</dc:title>" if self.title else ""
        self._zip.writestr(
            "docProps/core.xml",
            _DECL + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
            'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"{title}<dc:creator>voting</dc:creator></cp:coreProperties>",
        )
        sheets = "".join(
            f'<sheet name="{xml_text(sheet.name)}" sheetId="{i}" r:id="rId{i}"/>'
            for i, sheet in enumerate(self._sheets, start=1)
        )
        names = "".join(
            f'<definedName name="_xlnm.Print_Titles" localSheetId="{i}">'
            f"{xml_text(_quoted_sheet(sheet.name))}!${sheet.print_title_rows[0]}:${sheet.print_title_rows[1]}"
            "</definedName>"
            for i, sheet in enumerate(self._sheets)
            if sheet.print_title_rows
        )
        self._zip.writestr(
            "xl/workbook.xml",
            _DECL + f'<workbook xmlns="{_NS}" xmlns:r="{_NS_R}"><bookViews><workbookView/></bookViews>'
            f"<sheets>{sheets}</sheets>" + (f"<definedNames>{names}</definedNames>" if names else "") + "</workbook>",
        )
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="{_NS_R}/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, count + 1)
        )
        self._zip.writestr(
            "xl/_rels/workbook.xml.rels",
            _DECL + f'<Relationships xmlns="{_NS_PKG_R}">{rels}'
            f'<Relationship Id="rId{count + 1}" Type="{_NS_R}/styles" Target="styles.xml"/></Relationships>',
        )
        self._zip.writestr("xl/styles.xml", _styles_xml())
        self._zip.close()


def _quoted_sheet(name):
    return "'" + name.replace("'", "''") + "'"


def _styles_xml():
    """The cell styles of STYLES: plain, wrapped text, number, header, title, note, bold text."""
    top_wrap = '<alignment vertical="top" wrapText="1"/>'
    xfs = [
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>',  # default
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="1" xfId="0" applyBorder="1" applyAlignment="1">'
        f"{top_wrap}</xf>",  # text
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="1" xfId="0" applyBorder="1" applyAlignment="1">'
        '<alignment vertical="top"/></xf>',  # number
        '<xf numFmtId="0" fontId="1" fillId="2" borderId="1" xfId="0" applyFont="1" applyFill="1" applyBorder="1" '
        'applyAlignment="1"><alignment vertical="center" wrapText="1"/></xf>',  # header
        '<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1" applyAlignment="1">'
        '<alignment horizontal="center"/></xf>',  # title
        f'<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1">{top_wrap}</xf>',  # note
        f'<xf numFmtId="0" fontId="1" fillId="0" borderId="1" xfId="0" applyFont="1" applyBorder="1" '
        f'applyAlignment="1">{top_wrap}</xf>',  # strong
    ]
    sides = ("left", "right", "top", "bottom")
    thin = "".join(f'<{side} style="thin"><color rgb="FF808080"/></{side}>' for side in sides)
    return (
        _DECL + f'<styleSheet xmlns="{_NS}">'
        '<fonts count="3">'
        '<font><sz val="11"/><name val="Calibri"/><family val="2"/><scheme val="minor"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/><scheme val="minor"/></font>'
        '<font><b/><sz val="14"/><name val="Calibri"/><family val="2"/><scheme val="minor"/></font>'
        "</fonts>"
        '<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/>'
        '</fill><fill><patternFill patternType="solid"><fgColor rgb="FFDDDDDD"/><bgColor indexed="64"/>'
        "</patternFill></fill></fills>"
        f'<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border>'
        f"<border>{thin}<diagonal/></border></borders>"
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    )


def excel_footer_text(text):
    """Escape ``&`` in a footer label, then put Excel's page codes in: ``%(page)s`` -> &P, ``%(pages)s`` -> &N."""
    return "&C" + text.replace("&", "&&") % {"page": "&P", "pages": "&N"}


# -- PDF ---------------------------------------------------------------------------------------------

_WIDTHS = {}


def wrap_lines(text, font, size, width):
    """Break ``text`` into lines no wider than ``width`` points in ``font`` (a registered reportlab font name).

    Chinese breaks between any two characters; a Latin word is kept whole when the line has a
    space to break at. Ten times cheaper than a Paragraph, which matters over 300,000 rows.
    """
    from reportlab.pdfbase.pdfmetrics import getFont

    widths = _WIDTHS.setdefault((font, size), {})
    measure = None
    lines = []
    for paragraph in str(text).split("\n"):
        line, used, space_at = [], 0.0, -1
        for ch in paragraph:
            w = widths.get(ch)
            if w is None:
                measure = measure or getFont(font)
                w = widths[ch] = measure.stringWidth(ch, size)
            if used + w > width and line:
                if ch != " " and ch.isascii() and space_at > 0 and line[-1].isascii():
                    lines.append("".join(line[:space_at]).rstrip())
                    line = line[space_at + 1 :]
                    used = sum(widths[c] for c in line)
                else:
                    lines.append("".join(line))
                    line, used = [], 0.0
                space_at = -1
                if ch == " " and not line:
                    continue
            if ch == " ":
                space_at = len(line)
            line.append(ch)
            used += w
        lines.append("".join(line))
    return "\n".join(lines)


def page_total_canvas(font, label, left_text="", size=8, margin=36):
    """A reportlab canvas class that writes ``label`` (``%(page)s``, ``%(pages)s``) at the foot of each page.

    The total is a form drawn once at the end and referenced by every page, so pages are
    written out as they are finished instead of being held until the count is known.
    """
    from reportlab.pdfgen.canvas import Canvas

    before, _, after = label.partition("%(pages)s")

    class PageTotalCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            kwargs.setdefault("initialFontName", font)
            super().__init__(*args, **kwargs)
            self._page_count = 0

        def showPage(self):  # noqa: N802 - reportlab's name
            self._page_count += 1
            self._footer(self._page_count)
            super().showPage()
            _deflate_last_page(self)

        def _footer(self, number):
            width = self._pagesize[0]
            self.saveState()
            self.setFont(font, size)
            self.setFillGray(0.35)
            if left_text:
                self.drawString(margin, margin / 2, left_text[:80])
            lead = before % {"page": number}
            x = width - margin - self.stringWidth(lead, font, size) - size * 4
            self.drawString(x, margin / 2, lead)
            self.translate(x + self.stringWidth(lead, font, size), margin / 2)
            self.doForm("page_total")
            self.restoreState()

        def save(self):
            self.beginForm("page_total")
            self.setFont(font, size)
            self.setFillGray(0.35)
            self.drawString(0, 0, f"{self._page_count}{after % {'page': ''} if '%(' in after else after}")
            self.endForm()
            super().save()

    return PageTotalCanvas


class _AlreadyDeflated:
    """A stream filter for content deflated beforehand: /FlateDecode, the bytes written as they are."""

    pdfname = "FlateDecode"

    def encode(self, data):
        return data


def _deflate_last_page(canvas):
    """Deflate the page just finished instead of at save().

    reportlab keeps every page's drawing operators as text until it saves the document: 30 to 40 KB
    a page of table, so a 汇总表 of 40,000 pages would need gigabytes. Deflated as each page ends,
    it is a tenth of that. This reaches into reportlab's page objects; where they look different
    (another reportlab version), the page is left for save() to deflate, as before.
    """
    import zlib

    from reportlab.pdfbase.pdfdoc import PDFStream

    pages = getattr(getattr(getattr(canvas, "_doc", None), "Pages", None), "pages", None)
    page = pages[-1] if pages else None
    stream = getattr(page, "stream", None)
    if not isinstance(stream, str) or getattr(page, "Contents", True) or not getattr(page, "compression", 0):
        return
    page.Contents = PDFStream(content=zlib.compress(stream.encode("utf8")), filters=[_AlreadyDeflated()])
    page.stream = None
