"""A draft's opinions for reporting upward: the 意见建议汇总表 as XLSX and PDF, the raw opinions as CSV.

The 汇总表 has one row per item (an opinion not merged into another), article by article in
the draft's order, opinions on the whole draft first; within an article the items raised by the
most people come first. Each row gives the article and its original text (on the article's
first row), the opinion and its rewrite in legal wording, how many opinions and people it
stands for, where they came from (contact point, channel, kind of submitter, merged ones
included), and its handling (outcome, reason, reply).

The CSV has one row per opinion as received, merged ones included, in the order they came.

Personal data (DOMAIN.md D, E; PIPL): phone, ID and account numbers typed into any free text
are masked (``masking.mask_personal_data``). Contact details are left out unless the organizer
asks for them, and then the phone is masked (``mask_phone``) and the name shortened to its first
character. Nothing here writes to the database.

Everything streams: rows are read a few thousand at a time and written as they come, so a
draft with 300,000 opinions is exported in tens of megabytes of memory (docs/BENCHMARKS.md).
"""

import math
from dataclasses import dataclass
from datetime import UTC
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext, pgettext
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    NextPageTemplate,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from voting.consultations.masking import mask_personal_data, mask_phone
from voting.consultations.models import Article, ContactPoint, Opinion, OpinionContact, OpinionStatus
from voting.consultations.stats import CHANNEL_LABELS, SUBMITTER_LABELS, article_label, draft_stats
from voting.exports import (
    XlsxStream,
    cooperate,
    csv_chunks,
    excel_footer_text,
    filename_part,
    page_total_canvas,
    wrap_lines,
)
from voting.extensions import db
from voting.pdf import register_cjk_font

FORMATS = ("xlsx", "pdf", "csv")
MIMETYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
}
BATCH = 2000  # rows read from the database at a time
MAX_SOURCES_SHOWN = 6  # sources listed per item; the rest are summed up


def status_label(status):
    """采纳/部分采纳/未采纳 for an opinion (the ballots' 入选 shares the English word, hence the context)."""
    return {
        OpinionStatus.RECEIVED: pgettext("opinion status", "Received"),
        OpinionStatus.MERGED: pgettext("opinion status", "Merged"),
        OpinionStatus.ADOPTED: pgettext("opinion status", "Adopted"),
        OpinionStatus.PARTLY_ADOPTED: pgettext("opinion status", "Partly adopted"),
        OpinionStatus.NOT_ADOPTED: pgettext("opinion status", "Not adopted"),
    }[OpinionStatus(status)]


def mask_name(name):
    """Keep a name's first character: 张三 -> 张*, 欧阳小明 -> 欧***."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def masked_contact(name, phone):
    """A contact as an export shows it when the organizer asked for contacts: 张* 138****5678."""
    return " ".join(part for part in (mask_name(name), mask_phone(phone)) if part)


@dataclass
class Labels:
    """Every label an export repeats, translated once instead of once per row."""

    status: dict
    channel: dict
    submitter: dict
    points: dict  # contact point id -> name
    whole_draft: str

    @classmethod
    def load(cls):
        return cls(
            status={s: status_label(s) for s in OpinionStatus},
            channel={str(k): str(v) for k, v in CHANNEL_LABELS.items()},
            submitter={str(k): str(v) for k, v in SUBMITTER_LABELS.items()},
            points=dict(db.session.execute(select(ContactPoint.id, ContactPoint.name)).all()),
            whole_draft=gettext("The draft as a whole"),
        )

    def source(self, point_id, channel, submitter):
        parts = [self.points.get(point_id), self.channel.get(channel, channel), self.submitter.get(submitter)]
        return " · ".join(p for p in parts if p)


@dataclass
class ArticleInfo:
    id: int | None
    label: str  # 第十二条【适用范围】, or "the draft as a whole"
    text: str


def articles_of(draft, labels):
    """The whole-draft heading, then the draft's articles in order, each with its label and original text."""
    rows = db.session.execute(
        select(Article.id, Article.number, Article.suffix, Article.title, Article.paragraphs)
        .where(Article.draft_id == draft.id)
        .order_by(Article.position)
    ).all()
    articles = [ArticleInfo(None, labels.whole_draft, "")]
    for row in rows:
        label = article_label(row.number, row.suffix, draft.style)
        if row.title:
            label += f"【{row.title}】"
        articles.append(ArticleInfo(row.id, label, "\n".join(row.paragraphs or [])))
    return articles


# -- the 汇总表 ------------------------------------------------------------------------------------


@dataclass
class Item:
    """One row of the 汇总表: an opinion not merged into another, with what was merged into it."""

    number: int
    article: ArticleInfo
    first_of_article: bool
    text: str
    legal_text: str
    opinions: int  # itself and every opinion merged into it
    people: int
    source: str
    status: str
    reason: str
    reply: str
    contact: str  # masked, or "" unless asked for


def merged_sources(draft):
    """Return item id -> {(point, channel, submitter): opinions} for the opinions merged into each item.

    An opinion merged into one that was itself merged later is followed up to the item at the
    end of the chain.
    """
    grouped = db.session.execute(
        select(Opinion.merged_into_id, Opinion.contact_point_id, Opinion.channel, Opinion.submitter_type, func.count())
        .where(Opinion.draft_id == draft.id, Opinion.status == OpinionStatus.MERGED)
        .group_by(Opinion.merged_into_id, Opinion.contact_point_id, Opinion.channel, Opinion.submitter_type)
    ).all()
    targets = {row[0] for row in grouped}
    parent = dict(
        db.session.execute(
            select(Opinion.id, Opinion.merged_into_id).where(
                Opinion.draft_id == draft.id, Opinion.status == OpinionStatus.MERGED, Opinion.id.in_(targets)
            )
        ).all()
    ) if targets else {}  # fmt: skip

    def root(opinion_id):
        seen = set()
        while opinion_id in parent and opinion_id not in seen:
            seen.add(opinion_id)
            opinion_id = parent[opinion_id]
        return opinion_id

    sources = {}
    for target, point, channel, submitter, count in grouped:
        bucket = sources.setdefault(root(target), {})
        key = (point, channel, submitter)
        bucket[key] = bucket.get(key, 0) + count
    return sources


def _source_text(labels, own, merged):
    """The item's own source, or for a merged group every source with its count, most first."""
    if not merged:
        return labels.source(*own)
    counts = dict(merged)
    counts[own] = counts.get(own, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], labels.source(*kv[0])))
    shown = [f"{labels.source(*key)} ×{n}" for key, n in ranked[:MAX_SOURCES_SHOWN]]
    rest = sum(n for _, n in ranked[MAX_SOURCES_SHOWN:])
    if rest:
        shown.append(gettext("other sources ×%(count)s", count=rest))
    return "；".join(shown)


def summary_items(draft, include_contacts=False, labels=None):
    """Yield the 汇总表's items in report order (see the module's docstring), masked for export."""
    labels = labels or Labels.load()
    merged = merged_sources(draft)
    columns = [
        Opinion.id, Opinion.text, Opinion.legal_text, Opinion.people_count, Opinion.status, Opinion.reason,
        Opinion.reply, Opinion.contact_point_id, Opinion.channel, Opinion.submitter_type,
    ]  # fmt: skip
    if include_contacts:
        columns += [OpinionContact.name, OpinionContact.phone]
    number = 0
    for article in articles_of(draft, labels):
        query = select(*columns).where(
            Opinion.draft_id == draft.id,
            Opinion.article_id.is_(None) if article.id is None else Opinion.article_id == article.id,
            Opinion.status != OpinionStatus.MERGED,
        )
        if include_contacts:
            query = query.outerjoin(OpinionContact, OpinionContact.opinion_id == Opinion.id)
        query = query.order_by(Opinion.people_count.desc(), Opinion.id).execution_options(yield_per=BATCH)
        first = True
        for row in db.session.execute(query):
            number += 1
            group = merged.get(row[0])
            own = (row.contact_point_id, row.channel, row.submitter_type)
            yield Item(
                number=number,
                article=article,
                first_of_article=first,
                text=mask_personal_data(row.text),
                legal_text=mask_personal_data(row.legal_text) or "",
                opinions=1 + (sum(group.values()) if group else 0),
                people=row.people_count,
                source=_source_text(labels, own, group),
                status=labels.status[row.status],
                reason=mask_personal_data(row.reason) or "",
                reply=mask_personal_data(row.reply) or "",
                contact=masked_contact(row.name, row.phone) if include_contacts else "",
            )
            first = False


def summary_headers(include_contacts=False):
    headers = [
        gettext("No."),
        gettext("Article"),
        gettext("Original text of the article"),
        gettext("Opinion"),
        gettext("Rewritten in legal wording"),
        gettext("Opinions"),
        gettext("People"),
        gettext("Source (contact point · channel · submitter)"),
        gettext("Outcome"),
        gettext("Reason"),
        gettext("Reply to submitters"),
    ]
    if include_contacts:
        headers.append(gettext("Contact (masked)"))
    return headers


def summary_title(draft):
    return gettext("Summary of opinions on “%(title)s”", title=draft.title)


def summary_note(stats):
    """One line of totals under the title, from the draft's statistics."""
    a = stats.adoption
    rate = "—" if a.rate is None else f"{a.rate * 100:.1f}%"
    return gettext(
        "%(opinions)s opinions from %(people)s people in %(items)s items; adopted %(adopted)s, partly adopted "
        "%(partly)s, not adopted %(not_adopted)s, pending %(pending)s; adoption rate %(rate)s.",
        opinions=stats.total.opinions,
        people=stats.total.people,
        items=stats.items,
        adopted=a.adopted,
        partly=a.partly_adopted,
        not_adopted=a.not_adopted,
        pending=a.pending,
        rate=rate,
    )


def _progress_every(items, progress, every=1000):
    """Pass items through, telling ``progress`` how many have gone by."""
    done = 0
    for item in items:
        yield item
        done += 1
        if progress is not None and done % every == 0:
            progress(done)
    if progress is not None:
        progress(done)


def write_xlsx(draft, target, include_contacts=False, progress=None):
    """Write the 汇总表 of ``draft`` as an .xlsx workbook to ``target`` (a path or a binary file)."""
    headers = summary_headers(include_contacts)
    styles = ["number", "strong", "text", "text", "text", "number", "number", "text", "text", "text", "text", "text"]
    widths = [7, 16, 42, 48, 30, 9, 9, 30, 11, 28, 28, 18][: len(headers)]
    title = summary_title(draft)
    footer = excel_footer_text(gettext("Page %(page)s of %(pages)s"))
    with XlsxStream(target, title=title) as book:
        sheet = book.add_sheet(gettext("Summary of opinions"), widths, freeze_rows=3, landscape=True, footer=footer)
        sheet.row([title], "title", height=24)
        sheet.merge_last_row()
        sheet.row([summary_note(draft_stats(draft))], "note", height=32)
        sheet.merge_last_row()
        sheet.row(headers, "header", height=32)
        sheet.repeat_rows_on_print(3, 3)
        for item in _progress_every(summary_items(draft, include_contacts), progress):
            row = [
                item.number,
                item.article.label,
                item.article.text if item.first_of_article else None,
                item.text,
                item.legal_text,
                item.opinions,
                item.people,
                item.source,
                item.status,
                item.reason,
                item.reply,
            ]
            if include_contacts:
                row.append(item.contact)
            sheet.row(row, styles)


# -- PDF -------------------------------------------------------------------------------------------

_PDF_FONT_SIZE = 8.5
_PDF_LEADING = 11
_PDF_MARGIN = 28
_PDF_MAX_LINES = 34  # per cell and row: a longer text continues on the next row, as a row cannot span pages
_PDF_CHUNK = 40  # rows per Table: small tables split cheaply across pages


class _LazyStory:
    """The list of flowables reportlab's build() consumes, made on demand from a generator.

    build() only looks at the front (``[0]``, ``del [0]``, ``[0:0] = rest``), so the 汇总表 of
    300,000 opinions never exists as one list of tables.
    """

    def __init__(self, flowables):
        self._buffer = []
        self._source = iter(flowables)
        self._done = False

    def _fill(self, n):
        while len(self._buffer) < n and not self._done:
            try:
                self._buffer.append(next(self._source))
            except StopIteration:
                self._done = True

    def __len__(self):
        self._fill(2)
        return len(self._buffer)

    def __getitem__(self, index):
        self._fill(index.stop if isinstance(index, slice) and index.stop else (index + 1 if index >= 0 else 10**9))
        return self._buffer[index]

    def __delitem__(self, index):
        self._fill(1 if isinstance(index, slice) else index + 1)
        del self._buffer[index]

    def __setitem__(self, index, value):
        self._buffer[index] = value

    def insert(self, index, value):
        self._buffer.insert(index, value)

    def __iter__(self):
        self._fill(10**9)
        return iter(self._buffer)


def _pdf_columns(width, include_contacts):
    """(header, share of the width) of the PDF's columns; handling is outcome, reason and reply together."""
    columns = [
        (gettext("No."), 0.04),
        (gettext("Article"), 0.08),
        (gettext("Original text of the article"), 0.21),
        (gettext("Opinion"), 0.25),
        (gettext("People"), 0.045),
        (gettext("Source (contact point · channel · submitter)"), 0.145),
        (gettext("Handling (outcome, reason, reply)"), 0.23),
    ]
    if include_contacts:
        columns = [(h, s * 0.9) for h, s in columns] + [(gettext("Contact (masked)"), 0.1)]
    return [h for h, _ in columns], [width * s for _, s in columns]


def _handling_text(item):
    parts = [item.status]
    if item.reason:
        parts.append(gettext("Reason: %(text)s", text=item.reason))
    if item.reply:
        parts.append(gettext("Reply: %(text)s", text=item.reply))
    return "\n".join(parts)


def _opinion_text(item):
    text = item.text
    if item.legal_text:
        text += "\n" + gettext("Rewritten: %(text)s", text=item.legal_text)
    if item.opinions > 1:
        text += "\n" + gettext("(%(count)s opinions merged into this item)", count=item.opinions)
    return text


def _pdf_rows(item, font, widths, include_contacts):
    """The item's cells wrapped to their columns; more than one row when a cell is too long for a page."""
    cells = [
        str(item.number),
        item.article.label,
        item.article.text if item.first_of_article else "",
        _opinion_text(item),
        str(item.people),
        item.source,
        _handling_text(item),
    ]
    if include_contacts:
        cells.append(item.contact)
    padding = 6
    lines = [wrap_lines(cell, font, _PDF_FONT_SIZE, w - padding).split("\n") if cell else [""]
             for cell, w in zip(cells, widths, strict=True)]  # fmt: skip
    parts = max(math.ceil(len(cell_lines) / _PDF_MAX_LINES) for cell_lines in lines)
    return [
        ["\n".join(cell_lines[part * _PDF_MAX_LINES : (part + 1) * _PDF_MAX_LINES]) for cell_lines in lines]
        for part in range(parts)
    ]


def write_pdf(draft, target, include_contacts=False, progress=None):
    """Write the 汇总表 of ``draft`` as a landscape A4 PDF with the embedded Chinese font to ``target``."""
    font = register_cjk_font()
    pagesize = landscape(A4)
    width = pagesize[0] - 2 * _PDF_MARGIN
    headers, widths = _pdf_columns(width, include_contacts)
    header_cells = [wrap_lines(h, font, _PDF_FONT_SIZE, w - 6) for h, w in zip(headers, widths, strict=True)]
    header_height = max(h.count("\n") + 1 for h in header_cells) * _PDF_LEADING + 8
    grid = colors.HexColor("#666666")
    base_style = [
        ("FONT", (0, 0), (-1, -1), font, _PDF_FONT_SIZE),
        ("LEADING", (0, 0), (-1, -1), _PDF_LEADING),
        ("GRID", (0, 0), (-1, -1), 0.4, grid),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    header_style = [("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dddddd"))]
    title = summary_title(draft)

    def draw_header(canvas, doc):
        """Later pages: the column headers drawn above the frame, as the first page's table has them."""
        canvas.saveState()
        top = pagesize[1] - _PDF_MARGIN
        table = Table([header_cells], colWidths=widths, rowHeights=[header_height],
                      style=TableStyle(base_style + header_style))  # fmt: skip
        table.wrapOn(canvas, width, header_height)
        table.drawOn(canvas, _PDF_MARGIN, top - header_height)
        canvas.restoreState()

    frame_height = pagesize[1] - 2 * _PDF_MARGIN - 10
    first = Frame(_PDF_MARGIN, _PDF_MARGIN + 10, width, frame_height, id="first", leftPadding=0, rightPadding=0,
                  topPadding=0, bottomPadding=0)  # fmt: skip
    rest = Frame(_PDF_MARGIN, _PDF_MARGIN + 10, width, frame_height - header_height, id="rest", leftPadding=0,
                 rightPadding=0, topPadding=0, bottomPadding=0)  # fmt: skip
    doc = BaseDocTemplate(
        target,
        pagesize=pagesize,
        leftMargin=_PDF_MARGIN,
        rightMargin=_PDF_MARGIN,
        topMargin=_PDF_MARGIN,
        bottomMargin=_PDF_MARGIN,
        title=title,
        creator="voting",
        initialFontName=font,
        pageTemplates=[
            PageTemplate(id="first", frames=[first]),
            PageTemplate(id="rest", frames=[rest], onPage=draw_header),
        ],
    )
    title_style = ParagraphStyle("title", fontName=font, fontSize=15, leading=20, alignment=1, wordWrap="CJK")
    note_style = ParagraphStyle("note", fontName=font, fontSize=9.5, leading=13, alignment=1, wordWrap="CJK")

    def story():
        yield NextPageTemplate("rest")
        yield Paragraph(escape(title), title_style)
        yield Paragraph(escape(summary_note(draft_stats(draft))), note_style)
        yield Spacer(1, 8)
        rows, starts, header = [], [], True
        items = _progress_every(summary_items(draft, include_contacts), progress)
        for item in items:
            if item.first_of_article:
                starts.append(len(rows) + (1 if header else 0))
            rows.extend(_pdf_rows(item, font, widths, include_contacts))
            if len(rows) >= _PDF_CHUNK:
                yield _table(rows, starts, header)
                rows, starts, header = [], [], False
                cooperate()
        if rows or header:
            yield _table(rows, starts, header)

    def _table(rows, starts, header):
        data = ([header_cells] if header else []) + rows
        extra = header_style if header else []
        # A thicker line where a new article begins.
        extra = extra + [("LINEABOVE", (0, i), (-1, i), 1.4, colors.black) for i in starts if i > 0]
        return Table(data, colWidths=widths, repeatRows=0, style=TableStyle(base_style + extra))

    canvas = page_total_canvas(font, gettext("Page %(page)s of %(pages)s"), left_text=title, margin=_PDF_MARGIN)
    doc.build(_LazyStory(story()), canvasmaker=canvas)


# -- CSV of the raw opinions -----------------------------------------------------------------------


def raw_headers(include_contacts=False):
    headers = [
        gettext("Tracking code"),
        gettext("Received at"),
        gettext("Article"),
        gettext("Opinion"),
        gettext("Submitter"),
        gettext("Channel"),
        gettext("Contact point"),
        gettext("Status"),
        gettext("Merged into"),
        gettext("People"),
    ]
    if include_contacts:
        headers += [gettext("Contact name (masked)"), gettext("Contact phone (masked)")]
    return headers


def raw_rows(draft, include_contacts=False, labels=None, progress=None):
    """Yield one row per opinion as received, merged ones included, oldest first; free text masked."""
    labels = labels or Labels.load()
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    article_labels = {a.id: a.label.split("【")[0] if a.id is not None else a.label for a in articles_of(draft, labels)}
    target = aliased(Opinion)
    columns = [
        Opinion.tracking_code, Opinion.created_at, Opinion.article_id, Opinion.text, Opinion.submitter_type,
        Opinion.channel, Opinion.contact_point_id, Opinion.status, target.tracking_code, Opinion.people_count,
    ]  # fmt: skip
    if include_contacts:
        columns += [OpinionContact.name, OpinionContact.phone]
    query = (
        select(*columns)
        .outerjoin(target, target.id == Opinion.merged_into_id)
        .where(Opinion.draft_id == draft.id)
        .order_by(Opinion.id)
    )
    if include_contacts:
        query = query.outerjoin(OpinionContact, OpinionContact.opinion_id == Opinion.id)
    offsets = {}
    done = 0
    for row in db.session.execute(query.execution_options(yield_per=BATCH)):
        created = row[1]
        hour = created.replace(minute=0, second=0, microsecond=0)
        offset = offsets.get(hour)
        if offset is None:  # one time-zone conversion per hour of opinions, not per opinion
            offset = offsets[hour] = hour.replace(tzinfo=UTC).astimezone(zone).utcoffset()
        cells = [
            row[0],
            (created + offset).strftime("%Y-%m-%d %H:%M:%S"),
            article_labels.get(row[2], ""),
            mask_personal_data(row[3]),
            labels.submitter.get(row[4], row[4]),
            labels.channel.get(row[5], row[5]),
            labels.points.get(row[6], ""),
            labels.status[row[7]],
            row[8] or "",
            row[9],
        ]
        if include_contacts:
            cells += [mask_name(row[10]), mask_phone(row[11])]
        yield cells
        done += 1
        if progress is not None and done % 5000 == 0:
            progress(done)
    if progress is not None:
        progress(done)


def csv_stream(draft, include_contacts=False, progress=None):
    """The raw opinions as CSV bytes, a few thousand rows at a time (UTF-8 with BOM, formula-safe)."""
    return csv_chunks(raw_headers(include_contacts), raw_rows(draft, include_contacts, progress=progress))


def write_csv(draft, target, include_contacts=False, progress=None):
    """Write the raw opinions as CSV to the path ``target``."""
    with open(target, "wb") as out:
        for chunk in csv_stream(draft, include_contacts, progress):
            out.write(chunk)


WRITERS = {"xlsx": write_xlsx, "pdf": write_pdf, "csv": write_csv}


def export_filename(draft, fmt):
    """(name in the reader's language, ASCII fallback) for an export of ``draft``."""
    if fmt == "csv":
        stem, ascii_stem = gettext("Opinions"), f"draft-{draft.id}-opinions"
    else:
        stem, ascii_stem = gettext("Summary of opinions"), f"draft-{draft.id}-summary"
    return f"{stem}-{filename_part(draft.title, fallback='draft')}.{fmt}", f"{ascii_stem}.{fmt}"


def export_size(draft, fmt):
    """How many rows an export will have: items for the 汇总表, opinions for the CSV (for progress)."""
    query = select(func.count()).select_from(Opinion).where(Opinion.draft_id == draft.id)
    if fmt != "csv":
        query = query.where(Opinion.status != OpinionStatus.MERGED)
    return db.session.scalar(query)
