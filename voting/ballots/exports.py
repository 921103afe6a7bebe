"""A closed ballot's exports: the tally report as PDF and XLSX, the raw ballot papers as CSV.

``gather`` reads a ballot's figures from the database; ``voting.ballots.report`` turns them
into rows; the builders here lay the rows out. Labels follow the reader's language (Chinese by
default). Text that came from people (titles, items) is escaped in the PDF and kept as text,
never run as a formula, in the spreadsheets.
"""

import io
import json
import re
from dataclasses import dataclass
from datetime import UTC
from urllib.parse import quote
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import xlsxwriter
from flask import Response, current_app
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import select

from voting.ballots import operations as ballots
from voting.ballots import report, tally
from voting.ballots.models import BallotState, CastBallot
from voting.deputies.models import Deputy
from voting.errors import Conflict, Invalid
from voting.exports import csv_chunks
from voting.extensions import db
from voting.pdf import register_cjk_font

FORMATS = ("pdf", "xlsx", "csv")
MIMETYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


# -- the figures -----------------------------------------------------------------------------------


def gather(ballot):
    """Read a ballot's figures for its tally report: counts, results, turnout, times."""
    counted = ballots.results(ballot)
    figures = ballots.reconcile(ballot)
    result = counted.result
    by_id = {item.id: item for item in ballot.items}
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return report.Figures(
        meeting=ballot.meeting.title,
        title=ballot.title,
        form=ballot.form,
        places=ballot.places,
        secret=ballot.secret,
        rule=ballots.threshold_of(ballot),
        expected=counted.turnout.expected,
        present=counted.turnout.present,
        voters=counted.voters,
        did_not_vote=counted.did_not_vote,
        cast=result.cast,
        valid=result.valid,
        void=result.void,
        receipts=figures.receipts,
        base_count=result.base_count,
        required=result.required,
        items=tuple(
            report.ItemFigures(
                position=by_id[r.item].position,
                title=by_id[r.item].title,
                counts=dict(r.counts),
                passed=r.passed,
                tied=r.tied,
                rank=r.rank,
                rating=r.rating,
            )
            for r in result.items
        ),
        opened_at=_local(ballot.opened_at, zone),
        closed_at=_local(ballot.closed_at, zone),
        final=counted.final,
        papers_pending=counted.papers_pending,
    )


def _local(value, zone):
    return None if value is None else value.replace(tzinfo=UTC).astimezone(zone)


def papers(ballot):
    """Return the ballot's papers in the order of their random keys, never the order of voting.

    A named ballot's papers carry the deputy's number and name; a secret ballot's carry nothing
    that names anyone.
    """
    if ballot.secret:
        rows = db.session.execute(
            select(CastBallot.valid, CastBallot.choices)
            .where(CastBallot.ballot_id == ballot.id)
            .order_by(CastBallot.id)
        ).all()
        return [report.Paper(valid, _choices(ballot.form, choices)) for valid, choices in rows]
    rows = db.session.execute(
        select(CastBallot.valid, CastBallot.choices, Deputy.number, Deputy.name)
        .outerjoin(Deputy, Deputy.id == CastBallot.deputy_id)
        .where(CastBallot.ballot_id == ballot.id)
        .order_by(CastBallot.id)
    ).all()
    return [
        report.Paper(valid, _choices(ballot.form, choices), (number or "", name or ""))
        for valid, choices, number, name in rows
    ]


def _choices(form, stored):
    paper = json.loads(stored)
    if form == tally.Form.CHOOSE:
        return paper
    return {int(key): choice for key, choice in paper.items()}


def ballot_sheet(ballot):
    """The raw ballot papers of a ballot as headers and rows, labels in the reader's language."""
    items = [(item.id, item.position, item.title) for item in ballot.items]
    return report.ballot_sheet(ballot.form, items, papers(ballot), gettext, named=not ballot.secret)


# -- PDF -----------------------------------------------------------------------------------------

_MARGIN = 18 * mm
_FOOTER_Y = 10 * mm
_MARK_COLOURS = {report.PASSED: colors.HexColor("#e3f1e3"), report.TIED: colors.HexColor("#fff1c2")}
_GRID = colors.HexColor("#666666")


def _styles(font):
    base = ParagraphStyle("body", fontName=font, fontSize=10, leading=14, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", base, fontSize=20, leading=26, alignment=TA_CENTER, spaceAfter=4),
        "ballot": ParagraphStyle("ballot", base, fontSize=14, leading=19, alignment=TA_CENTER, spaceAfter=2),
        "meeting": ParagraphStyle("meeting", base, alignment=TA_CENTER, textColor=colors.HexColor("#333333")),
        "body": base,
        "cell": ParagraphStyle("cell", base, fontSize=9.5, leading=12.5),
        "note": ParagraphStyle("note", base, spaceBefore=3),
    }


_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\uffef]")


def _p(text, style):
    """A paragraph of plain text: reportlab reads markup, so people's text is escaped first.

    Chinese may break between any two characters; text without any (English labels) breaks
    only between words.
    """
    text = str(text)
    if not _CJK.search(text):
        style = ParagraphStyle(f"{style.name}-words", style, wordWrap=None)
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def build_pdf(rep):
    """Lay the report out on A4 pages with the embedded Chinese font; return the PDF's bytes."""
    font = register_cjk_font()
    styles = _styles(font)
    width = A4[0] - 2 * _MARGIN
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN,
        bottomMargin=_MARGIN,
        title=f"{rep.title}: {rep.ballot}",
        subject=rep.ballot,
        creator="voting",
        initialFontName=font,
    )
    story = [
        _p(rep.title, styles["title"]),
        _p(rep.ballot, styles["ballot"]),
        _p(rep.meeting, styles["meeting"]),
        Spacer(1, 5 * mm),
        _facts_table(rep, styles, width, font),
        Spacer(1, 3 * mm),
        _figures_table(rep, styles, width, font),
        Spacer(1, 5 * mm),
        _items_table(rep, styles, width, font),
        Spacer(1, 3 * mm),
        *(_p(note, styles["note"]) for note in rep.notes),
        # The signature lines stay together, on the last page.
        KeepTogether([Spacer(1, 10 * mm), _signature_table(rep, styles, width, font)]),
    ]
    doc.build(story, canvasmaker=_numbered_canvas(font, rep.page_label, rep.ballot))
    return buffer.getvalue()


def _text(value):
    return "" if value is None else str(value)


def _table_style(font, extra=()):
    return TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), font, 9.5),
            ("GRID", (0, 0), (-1, -1), 0.5, _GRID),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 3),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            *extra,
        ]
    )


def _facts_table(rep, styles, width, font):
    label_width = 28 * mm
    rows = [[_p(label, styles["cell"]), _p(value, styles["cell"])] for label, value in rep.facts]
    shade = ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f2f2"))
    return Table(rows, colWidths=[label_width, width - label_width], style=_table_style(font, [shade]))


def _figures_table(rep, styles, width, font):
    """N, present, voters ... as four label/number pairs a row."""
    pairs = list(rep.figures)
    rows = []
    for start in range(0, len(pairs), 4):
        row = []
        for label, value in pairs[start : start + 4]:
            row += [_p(label, styles["cell"]), str(value)]
        row += [""] * (8 - len(row))
        rows.append(row)
    label_width, number_width = width * 0.16, width * 0.09
    extra = [("ALIGN", (column, 0), (column, -1), "RIGHT") for column in (1, 3, 5, 7)]
    extra += [("BACKGROUND", (column, 0), (column, -1), colors.HexColor("#f2f2f2")) for column in (0, 2, 4, 6)]
    return Table(rows, colWidths=[label_width, number_width] * 4, style=_table_style(font, extra))


def _items_table(rep, styles, width, font):
    """The per-item table; the title column takes the room the numbers leave."""
    title_column = rep.title_column
    result_column = len(rep.headers) - 1
    # Number columns as wide as their header's longest word ("基本满意"), the result column wider.
    widths = [min(max(13 * mm, stringWidth(str(text), font, 9.5) + 16), 30 * mm) for text in rep.headers]
    widths[result_column] = max(24 * mm, widths[result_column])
    widths[title_column] = width - sum(w for i, w in enumerate(widths) if i != title_column)
    header = [_p(text, styles["cell"]) for text in rep.headers]
    body = [
        [_p(cell, styles["cell"]) if i in (title_column, result_column) else _text(cell) for i, cell in enumerate(row)]
        for row in rep.rows
    ]
    extra = [
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dddddd")),
        ("ALIGN", (0, 1), (-1, -1), "RIGHT"),
    ]
    extra += [
        ("BACKGROUND", (0, index), (-1, index), _MARK_COLOURS[mark])
        for index, mark in enumerate(rep.marks, start=1)
        if mark in _MARK_COLOURS
    ]
    return Table([header, *body], colWidths=widths, repeatRows=1, style=_table_style(font, extra))


def _signature_table(rep, styles, width, font):
    """Lines for the scrutineers, the tellers and the date."""
    rows = [[_p(label, styles["body"]), ""] for label in rep.signatures]
    label_width = 28 * mm
    style = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), font, 10),
            ("LINEBELOW", (1, 0), (1, -1), 0.6, colors.black),
            ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
            ("TOPPADDING", (0, 0), (-1, -1), 14),
        ]
    )
    return Table(rows, colWidths=[label_width, width * 0.6 - label_width], hAlign="LEFT", style=style)


def _numbered_canvas(font, page_label, ballot_title):
    """A canvas that writes "page x of y" and the ballot's title at the foot of every page."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages = []

        def showPage(self):  # noqa: N802 - reportlab's name
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                self.setFont(font, 8)
                self.setFillGray(0.35)
                self.drawString(_MARGIN, _FOOTER_Y, ballot_title[:60])
                self.drawRightString(A4[0] - _MARGIN, _FOOTER_Y, page_label % {"page": number, "pages": total})
                super().showPage()
            super().save()

    return NumberedCanvas


# -- XLSX ----------------------------------------------------------------------------------------

# Excel forbids these in sheet names and allows 31 characters.
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(text):
    return _SHEET_NAME_FORBIDDEN.sub(" ", str(text))[:31] or "Sheet"


def build_xlsx(rep, sheet):
    """Write the report on one sheet and the ballot papers on a second; return the workbook's bytes."""
    buffer = io.BytesIO()
    # Text stays text: no formulas, numbers or links made out of people's strings (DOMAIN.md E).
    workbook = xlsxwriter.Workbook(
        buffer,
        {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False},
    )
    workbook.set_properties({"title": f"{rep.title}: {rep.ballot}", "subject": rep.ballot})
    _report_sheet(workbook, rep)
    _papers_sheet(workbook, sheet)
    workbook.close()
    return buffer.getvalue()


def _report_sheet(workbook, rep):
    ws = workbook.add_worksheet(_sheet_name(rep.title))
    columns = len(rep.headers)
    last = columns - 1
    f = {
        "title": workbook.add_format({"bold": True, "font_size": 16, "align": "center"}),
        "ballot": workbook.add_format({"bold": True, "font_size": 13, "align": "center", "text_wrap": True}),
        "centre": workbook.add_format({"align": "center"}),
        "label": workbook.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1, "valign": "top"}),
        "value": workbook.add_format({"text_wrap": True, "border": 1, "valign": "top"}),
        "number": workbook.add_format({"border": 1, "align": "left"}),
        "header": workbook.add_format({"bold": True, "bg_color": "#DDDDDD", "border": 1, "text_wrap": True}),
        "note": workbook.add_format({"text_wrap": True, "valign": "top"}),
        "sign": workbook.add_format({"bottom": 1}),
    }
    cell = {
        mark: {
            kind: workbook.add_format({"border": 1, "bg_color": colour, "text_wrap": kind == "text", "valign": "top"})
            for kind in ("text", "number")
        }
        for mark, colour in (("", "#FFFFFF"), (report.PASSED, "#E3F1E3"), (report.TIED, "#FFF1C2"))
    }
    # Column A holds the labels above the table, so it is wide enough for them.
    ws.set_column(0, last, 12)
    ws.set_column(0, 0, 18)
    ws.set_column(rep.title_column, rep.title_column, 44)
    ws.set_column(last, last, 16)
    row = 0
    ws.merge_range(row, 0, row, last, rep.title, f["title"])
    row += 1
    ws.merge_range(row, 0, row, last, rep.ballot, f["ballot"])
    row += 1
    ws.merge_range(row, 0, row, last, rep.meeting, f["centre"])
    row += 2
    for label, value in rep.facts:
        ws.write_string(row, 0, label, f["label"])
        ws.merge_range(row, 1, row, last, value, f["value"])
        if len(value) > 60:
            ws.set_row(row, 15 * (1 + len(value) // 60))
        row += 1
    row += 1
    for label, value in rep.figures:
        ws.write_string(row, 0, label, f["label"])
        ws.write_number(row, 1, value, f["number"])
        row += 1
    row += 1
    for column, header in enumerate(rep.headers):
        ws.write_string(row, column, header, f["header"])
    first_item_row = row
    row += 1
    for values, mark in zip(rep.rows, rep.marks, strict=True):
        for column, value in enumerate(values):
            if isinstance(value, str):
                ws.write_string(row, column, value, cell[mark]["text"])
            elif value is None:
                ws.write_blank(row, column, None, cell[mark]["number"])
            else:
                ws.write_number(row, column, value, cell[mark]["number"])
        row += 1
    row += 1
    for note in rep.notes:
        ws.merge_range(row, 0, row, last, note, f["note"])
        ws.set_row(row, 15 * (1 + len(note) // 70))
        row += 1
    row += 1
    for label in rep.signatures:
        ws.write_string(row, 0, label)
        ws.merge_range(row, 1, row, min(2, last), "", f["sign"])
        ws.set_row(row, 30)
        row += 1
    ws.repeat_rows(first_item_row)
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.set_footer(f"&C{_xlsx_header_text(rep.page_label % {'page': '&P', 'pages': '&N'})}")


def _xlsx_header_text(text):
    # "&" starts a control code in Excel headers and footers; the page codes are put in afterwards.
    return text.replace("&P", "\0P").replace("&N", "\0N").replace("&", "&&").replace("\0", "&")


def _papers_sheet(workbook, sheet):
    ws = workbook.add_worksheet(_sheet_name(gettext("Ballot papers")))
    header = workbook.add_format({"bold": True, "bg_color": "#DDDDDD", "border": 1, "text_wrap": True})
    ws.write_row(0, 0, [str(h) for h in sheet.headers], header)
    for index, values in enumerate(sheet.rows, start=1):
        ws.write_row(index, 0, values)
    ws.set_column(0, len(sheet.headers) - 1, 14)
    ws.set_row(0, 45)
    ws.freeze_panes(1, 1)
    ws.autofilter(0, 0, max(len(sheet.rows), 1), len(sheet.headers) - 1)


# -- CSV -----------------------------------------------------------------------------------------


def build_csv(sheet):
    """The ballot papers as CSV: UTF-8 with a BOM (Excel reads it as such), text never a formula."""
    return b"".join(csv_chunks(sheet.headers, sheet.rows))


# -- downloads -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Export:
    data: bytes
    mimetype: str
    filename: str  # in the reader's language
    ascii_filename: str  # for clients that ignore filename*


def export_ballot(ballot, fmt):
    """Build one export of a closed ballot: "pdf" or "xlsx" (the tally report) or "csv" (the papers)."""
    if fmt not in FORMATS:
        raise Invalid(
            _l("Unknown export format %(format)s: choose pdf, xlsx or csv.", format=str(fmt)[:20]),
            code="invalid_format",
        )
    if ballot.state != BallotState.CLOSED:
        raise Conflict(
            _l("The tally report and the ballot papers can be exported once voting on this ballot has closed."),
            code="ballot_not_closed",
        )
    if fmt == "csv":
        data = build_csv(ballot_sheet(ballot))
        stem, ascii_stem = gettext("Ballot papers"), f"ballot-{ballot.id}-papers"
    else:
        rep = report.build_report(gather(ballot), gettext)
        data = build_pdf(rep) if fmt == "pdf" else build_xlsx(rep, ballot_sheet(ballot))
        stem, ascii_stem = rep.title, f"ballot-{ballot.id}-tally-report"
    return Export(data, MIMETYPES[fmt], f"{stem}-{_filename_part(ballot.title)}.{fmt}", f"{ascii_stem}.{fmt}")


_UNSAFE_IN_FILENAME = re.compile(r'[\x00-\x1f\x7f"*/:<>?\\|]+')


def _filename_part(text, limit=60):
    return re.sub(r"\s+", " ", _UNSAFE_IN_FILENAME.sub(" ", text)).strip(" .")[:limit] or "ballot"


def export_response(export):
    """Send an export as a download, its name in UTF-8 per RFC 5987 with an ASCII fallback."""
    response = Response(export.data, content_type=export.mimetype)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{export.ascii_filename}\"; filename*=UTF-8''{quote(export.filename, safe='')}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response
