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

from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext
from reportlab.lib.pagesizes import A4, landscape
from sqlalchemy import LargeBinary, cast, func, select, type_coerce
from sqlalchemy.orm import aliased

from voting.consultations.masking import mask_personal_data, mask_phone
from voting.consultations.models import (
    TRACKING_CODE_LENGTH,
    Article,
    ContactPoint,
    Opinion,
    OpinionContact,
    OpinionStatus,
    format_tracking_code,
)
from voting.consultations.stats import CHANNEL_LABELS, SUBMITTER_LABELS, article_label, draft_stats
from voting.exports import (
    XlsxSheet,
    XlsxStream,
    cooperate,
    csv_field,
    csv_field_bytes,
    csv_line_chunks,
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
# A PDF of the 汇总表 runs to about one page per six items. 20,000 items (some 3,300 pages) take about
# 25 s of CPU and 200 MB; 240,000 items took 10 minutes and 790 MB for 40,000 pages nobody prints
# (docs/BENCHMARKS.md). Above this the Excel export is the way; CONSULTATION_PDF_MAX_ITEMS overrides.
PDF_MAX_ITEMS = 20_000
MAX_SOURCES_SHOWN = 6  # sources listed per item; the rest are summed up
# An opinion's text as published: masked when it arrived (Opinion.masked_text), else as written.
PUBLISHED_TEXT = func.coalesce(Opinion.masked_text, Opinion.text)


def status_label(status):
    """已收到/已合并/已采纳/部分采纳/未采纳: the opinion status's own label (in context, never a ballot's 入选)."""
    return OpinionStatus(status).label


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
    _sources: dict = field(default_factory=dict)

    @classmethod
    def load(cls):
        """Translate the labels once."""
        points = db.session.execute(select(ContactPoint.id, ContactPoint.name)).all()
        return cls(
            status={s: status_label(s) for s in OpinionStatus},
            channel={str(k): str(v) for k, v in CHANNEL_LABELS.items()},
            submitter={str(k): str(v) for k, v in SUBMITTER_LABELS.items()},
            points=dict(points),
            whole_draft=gettext("The draft as a whole"),
        )

    def source(self, point_id, channel, submitter):
        """殷行街道联系点 · 二维码海报 · 居民; a few hundred combinations, each joined once."""
        key = (point_id, channel, submitter)
        text = self._sources.get(key)
        if text is None:
            parts = [self.points.get(point_id), self.channel.get(channel, channel), self.submitter.get(submitter)]
            text = self._sources[key] = " · ".join(p for p in parts if p)
        return text


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


def _streamed(query):
    """The rows of ``query`` a batch at a time (a server-side cursor on PostgreSQL), released even when the reader
    stops early (a download cut off). Plain Core rows: the ORM's row handling would double the cost per row."""
    result = db.session.connection().execute(query.execution_options(yield_per=BATCH))
    try:
        yield from result
    finally:
        result.close()


# -- the 汇总表 ------------------------------------------------------------------------------------


@dataclass(slots=True)
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
    merged = (Opinion.draft_id == draft.id, Opinion.status == OpinionStatus.MERGED)
    grouped = db.session.execute(
        select(Opinion.merged_into_id, Opinion.contact_point_id, Opinion.channel, Opinion.submitter_type, func.count())
        .where(*merged)
        .group_by(Opinion.merged_into_id, Opinion.contact_point_id, Opinion.channel, Opinion.submitter_type)
    ).all()
    # The few merged opinions that others were merged into: the links of the chains.
    targets = select(Opinion.merged_into_id).where(*merged)
    parent = dict(
        db.session.execute(select(Opinion.id, Opinion.merged_into_id).where(*merged, Opinion.id.in_(targets))).all()
    )

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
        Opinion.id, PUBLISHED_TEXT, Opinion.legal_text, Opinion.people_count, Opinion.status, Opinion.reason,
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
        first = True
        statuses, source = labels.status, labels.source
        for row in _streamed(query.order_by(Opinion.people_count.desc(), Opinion.id)):
            # Unpacked once: a Row's attribute lookups by name cost more than the rest of the loop.
            opinion_id, text, legal_text, people, status, reason, reply, point, channel, submitter = row[:10]
            number += 1
            group = merged.get(opinion_id)
            yield Item(
                number,
                article,
                first,
                text,
                mask_personal_data(legal_text) if legal_text else "",
                1 + sum(group.values()) if group else 1,
                people,
                _source_text(labels, (point, channel, submitter), group)
                if group
                else source(point, channel, submitter),
                statuses[status],
                mask_personal_data(reason) if reason else "",
                mask_personal_data(reply) if reply else "",
                masked_contact(row[10], row[11]) if include_contacts else "",
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
    styles = XlsxSheet.style_ids(
        ["number", "strong", "text", "text", "text", "number", "number", "text", "text", "text", "text", "text"]
    )
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
_PDF_LEADING = 10.5
_PDF_PADDING = 3
_PDF_MARGIN = 28
_PDF_FOOTER = 16  # room at the foot of each page for the page number
_GRID_GRAY = 0.45
_HEADER_GRAY = 0.87


def _pdf_columns(width, include_contacts):
    """(header, width) of the PDF's columns; handling is outcome, reason and reply in one cell."""
    columns = [
        (gettext("No."), 0.045),
        (gettext("Article"), 0.075),
        (gettext("Original text of the article"), 0.18),
        (gettext("Opinion"), 0.29),
        (gettext("People"), 0.045),
        (gettext("Source (contact point · channel · submitter)"), 0.145),
        (gettext("Handling (outcome, reason, reply)"), 0.22),
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


class _PdfTable:
    """A table drawn straight onto the canvas, row by row, with the column headers on every page.

    reportlab's platypus Table lays out and splits generic tables; for tens of thousands of rows it
    spends a millisecond and more per cell. Here a row is its cells' wrapped lines (``wrap_lines``),
    drawn with one text object per cell; a row taller than the room left continues on the next page.
    """

    def __init__(self, canvas, font, headers, widths, pagesize):
        self.canvas, self.font, self.widths = canvas, font, widths
        self.left = _PDF_MARGIN
        self.right = pagesize[0] - _PDF_MARGIN
        self.top = pagesize[1] - _PDF_MARGIN
        self.bottom = _PDF_MARGIN + _PDF_FOOTER
        self.headers = [self.wrap(h, i).split("\n") for i, h in enumerate(headers)]
        self.y = None  # the top of the next row; None before the first page's table starts

    def wrap(self, text, column):
        return wrap_lines(text, self.font, _PDF_FONT_SIZE, self.widths[column] - 2 * _PDF_PADDING)

    def start(self, y):
        """Begin the table at height ``y`` of the current page."""
        self.y = y
        self._row(self.headers, shade=True)

    def _new_page(self):
        self.canvas.showPage()
        self.start(self.top)

    def add(self, cells, thick=False):
        """Add a row of cell texts; ``thick`` draws a heavier line above it (a new article begins)."""
        lines = [self.wrap(text, i).split("\n") if text else [] for i, text in enumerate(cells)]
        while True:
            room = int((self.y - self.bottom - 2 * _PDF_PADDING) // _PDF_LEADING)
            needed = max(len(cell) for cell in lines) or 1
            if needed <= room:
                self._row(lines, thick=thick)
                return
            if room < 3:  # not even three lines left: start the row on the next page
                self._new_page()
                continue
            self._row([cell[:room] for cell in lines], thick=thick)
            lines = [cell[room:] for cell in lines]
            thick = False
            self._new_page()

    def _row(self, lines, shade=False, thick=False):
        c = self.canvas
        height = (max(len(cell) for cell in lines) or 1) * _PDF_LEADING + 2 * _PDF_PADDING
        top, bottom = self.y, self.y - height
        if shade:
            c.setFillGray(_HEADER_GRAY)
            c.rect(self.left, bottom, self.right - self.left, height, stroke=0, fill=1)
        c.setFillGray(0)
        x = self.left
        for width, cell in zip(self.widths, lines, strict=True):
            if cell:
                text = c.beginText(x + _PDF_PADDING, top - _PDF_PADDING - _PDF_FONT_SIZE)
                text.setFont(self.font, _PDF_FONT_SIZE, _PDF_LEADING)
                text.textLines(cell, trim=0)
                c.drawText(text)
            x += width
        c.setStrokeGray(_GRID_GRAY)
        c.setLineWidth(0.4)
        xs = [self.left]
        for width in self.widths:
            xs.append(xs[-1] + width)
        c.grid(xs, [top, bottom])
        if thick:
            c.setStrokeGray(0)
            c.setLineWidth(1.3)
            c.line(self.left, top, self.right, top)
        self.y = bottom


def write_pdf(draft, target, include_contacts=False, progress=None):
    """Write the 汇总表 of ``draft`` as a landscape A4 PDF with the embedded Chinese font to ``target``."""
    font = register_cjk_font()
    pagesize = landscape(A4)
    width = pagesize[0] - 2 * _PDF_MARGIN
    headers, widths = _pdf_columns(width, include_contacts)
    title = summary_title(draft)
    canvas_class = page_total_canvas(font, gettext("Page %(page)s of %(pages)s"), left_text=title,
                                     margin=_PDF_MARGIN)  # fmt: skip
    canvas = canvas_class(target, pagesize=pagesize, pageCompression=1)
    canvas.setTitle(title)
    canvas.setCreator("voting")
    y = pagesize[1] - _PDF_MARGIN
    canvas.setFillGray(0)
    for line in wrap_lines(title, font, 15, width).split("\n"):
        y -= 19
        canvas.setFont(font, 15)
        canvas.drawCentredString(pagesize[0] / 2, y, line)
    for line in wrap_lines(summary_note(draft_stats(draft)), font, 9.5, width).split("\n"):
        y -= 14
        canvas.setFont(font, 9.5)
        canvas.drawCentredString(pagesize[0] / 2, y, line)
    table = _PdfTable(canvas, font, headers, widths, pagesize)
    table.start(y - 10)
    for count, item in enumerate(_progress_every(summary_items(draft, include_contacts), progress), start=1):
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
        table.add(cells, thick=item.first_of_article and item.number > 1)
        if count % 200 == 0:
            cooperate()
    canvas.showPage()
    canvas.save()


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


def _utc_text_sql(column, dialect):
    """SQL for a naive UTC ``column`` as text "YYYY-MM-DD HH:MM:SS" (seconds cut, never rounded)."""
    if dialect == "sqlite":  # stored as "YYYY-MM-DD HH:MM:SS.ffffff"
        return func.substr(column, 1, 19)
    return func.to_char(column, "YYYY-MM-DD HH24:MI:SS")


class LocalMinutes:
    """"YYYY-MM-DD HH:MM" in UTC to the same in ``zone``, each minute converted once (zones move by whole minutes).

    A day of opinions has at most 1,440 minutes; 300,000 opinions a few tens of thousands of look-ups.
    """

    def __init__(self, zone):
        self.zone = zone
        self.known = {}

    def __call__(self, minute):
        local = self.known.get(minute)
        if local is None:
            moment = datetime.fromisoformat(minute).replace(tzinfo=UTC).astimezone(self.zone)
            local = self.known[minute] = moment.replace(tzinfo=None).isoformat(" ", "minutes")
        return local


def _utf8_sql(column, dialect):
    """SQL for a text ``column`` as its UTF-8 bytes: read as bytes and written as bytes, never decoded."""
    if dialect == "sqlite":
        return cast(column, LargeBinary)
    return type_coerce(func.convert_to(column, "UTF8"), LargeBinary)


def raw_lines(draft, include_contacts=False, progress=None):
    """Yield one CSV line per opinion as received (UTF-8 bytes, no line end), merged ones included, oldest first.

    Each line is one bytes template: every label is made a CSV field once, the text (masked when it
    arrived: ``PUBLISHED_TEXT``) is made a field, and the UTC time is turned into the service's zone a
    minute at a time (``LocalMinutes``). The text, code and time are read as UTF-8 bytes and written
    as they are: 300,000 opinions are 150 MB of text to decode and encode again otherwise. A call per
    cell made 300,000 opinions take 6 s against the 3 s allowed (docs/BENCHMARKS.md).
    """
    labels = Labels.load()
    local = LocalMinutes(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"]))
    articles = {a.id: csv_field(a.label.split("【")[0] if a.id is not None else a.label).encode()
                for a in articles_of(draft, labels)}  # fmt: skip
    submitters, channels, statuses, points = (
        {code: csv_field(label) for code, label in mapping.items()}
        for mapping in (labels.submitter, labels.channel, labels.status, labels.points)
    )
    statuses = {code: label.encode() for code, label in statuses.items()}
    points = {point: name.encode() for point, name in points.items()}
    # The codes of the opinions others were merged into, looked up once instead of joined 300,000 times.
    merged = aliased(Opinion)
    targets = {target: format_tracking_code(code).encode() for target, code in db.session.execute(
        select(Opinion.id, Opinion.tracking_code).where(Opinion.id.in_(
            select(merged.merged_into_id).where(merged.draft_id == draft.id, merged.merged_into_id.is_not(None))
        ))
    )}  # fmt: skip
    targets[None] = b""
    # Who and how, as one field pair: a few dozen combinations.
    sources = {(s, c): f"{submitter},{channel}".encode() for s, submitter in submitters.items()
               for c, channel in channels.items()}  # fmt: skip
    dialect = db.session.get_bind().dialect.name
    columns = [
        _utf8_sql(Opinion.tracking_code, dialect), _utf8_sql(_utc_text_sql(Opinion.created_at, dialect), dialect),
        Opinion.article_id, _utf8_sql(PUBLISHED_TEXT, dialect), Opinion.submitter_type, Opinion.channel,
        Opinion.contact_point_id, Opinion.status, Opinion.merged_into_id, Opinion.people_count,
    ]  # fmt: skip
    if include_contacts:
        columns += [OpinionContact.name, OpinionContact.phone]
    query = select(*columns).where(Opinion.draft_id == draft.id).order_by(Opinion.id)
    if include_contacts:
        query = query.outerjoin(OpinionContact, OpinionContact.opinion_id == Opinion.id)
    field, minutes, half = csv_field_bytes, {}, TRACKING_CODE_LENGTH // 2
    whole = articles[None]
    done = 0
    for row in _streamed(query):
        code, utc, article, text, submitter, channel, point, status, merged_into, people = row[:10]
        minute = minutes.get(utc[:16])
        if minute is None:
            minute = minutes[utc[:16]] = local(utc[:16].decode()).encode()
        source = sources.get((submitter, channel))
        if source is None:  # a kind the labels do not know (not stored by this code): shown as it is
            source = f"{csv_field(submitter)},{csv_field(channel)}".encode()
        # The code as the resident's receipt prints it (K7QX2-MNP8R), so that it can be searched for.
        line = b"%s-%s,%s%s,%s,%s,%s,%s,%s,%s,%d" % (
            code[:half], code[half:], minute, utc[16:], articles.get(article, whole), field(bytes(text)), source,
            points.get(point, b""), statuses[status], targets[merged_into], people,
        )  # fmt: skip
        if include_contacts:
            line += f",{csv_field(mask_name(row[10]))},{csv_field(mask_phone(row[11]))}".encode()
        yield line
        done += 1
        if progress is not None and done % 5000 == 0:
            progress(done)
    if progress is not None:
        progress(done)


def csv_stream(draft, include_contacts=False, progress=None):
    """The raw opinions as CSV bytes, a few thousand rows at a time (UTF-8 with BOM, formula-safe)."""
    lines = raw_lines(draft, include_contacts, progress=progress)
    return csv_line_chunks(raw_headers(include_contacts), lines, encoded=True)


def write_csv(draft, target, include_contacts=False, progress=None):
    """Write the raw opinions as CSV to the path ``target``."""
    with open(target, "wb") as out:
        for chunk in csv_stream(draft, include_contacts, progress):
            out.write(chunk)


WRITERS = {"xlsx": write_xlsx, "pdf": write_pdf, "csv": write_csv}


def export_filename(draft, fmt):
    """(name in the reader's language, ASCII fallback) for an export of ``draft``."""
    if fmt == "csv":
        stem, ascii_stem = gettext("All opinions"), f"draft-{draft.id}-opinions"
    else:
        stem, ascii_stem = gettext("Summary of opinions"), f"draft-{draft.id}-summary"
    return f"{stem}-{filename_part(draft.title, fallback='draft')}.{fmt}", f"{ascii_stem}.{fmt}"


def export_size(draft, fmt):
    """How many rows an export will have: items for the 汇总表, opinions for the CSV (for progress)."""
    query = select(func.count()).select_from(Opinion).where(Opinion.draft_id == draft.id)
    if fmt != "csv":
        query = query.where(Opinion.status != OpinionStatus.MERGED)
    return db.session.scalar(query)
