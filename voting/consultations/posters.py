"""QR posters for contact points: one A4 page per point, a QR code big enough to scan from a step away.

Pure: takes plain poster data and translated labels, returns PDF bytes with the WenQuanYi font
embedded (voting/pdf.py), so any phone or print shop shows the Chinese text.
"""

import io
import re
from collections.abc import Mapping

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from voting.pdf import register_cjk_font
from voting.qr import draw_qr

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
WIDTH = PAGE_WIDTH - 2 * MARGIN
QR_SIZE = 135 * mm  # scanned from about a metre, at eye height on a notice board
LEADING = 1.25
ACCENT = (0.639, 0.071, 0.059)  # the red of the pages' top bar (#a3120f)

# (largest size, smallest size, most lines) of each text block, in points.
HEADING = (34, 20, 1)
SUBTITLE = (18, 11, 2)
NAME = (30, 14, 2)
KIND = (14, 10, 1)
INSTRUCTIONS = (15, 10, 3)
FOOTER = (9, 6, 2)

_CJK = "\u2e80-\u9fff\uf900-\uffef"
# Unbreakable pieces: a CJK character with its punctuation, or a run of other non-space text.
_TOKEN = re.compile(rf"[（《「『“‘]*[{_CJK}][，。、；：！？）》」』”’]*|[^\s{_CJK}]+|\s+")


def build_posters(posters, *, title, labels):
    """Return a PDF with one A4 poster per item of ``posters``.

    Each poster has ``url`` (what the QR code opens), ``name`` (the point's name), ``kind``
    (e.g. 基层立法联系点), ``code`` and optionally ``subtitle`` (a draft's title). ``labels``
    gives the translated ``heading``, ``instructions`` and ``code`` (with ``%(code)s``).
    """
    font = register_cjk_font()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1, initialFontName=font)
    canvas.setTitle(title)
    canvas.setCreator("voting")
    for poster in posters:
        _draw_poster(canvas, font, poster, labels)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _field(poster, key):
    value = poster.get(key) if isinstance(poster, Mapping) else getattr(poster, key, None)
    return "" if value is None else str(value)


def _draw_poster(canvas, font, poster, labels):
    """Draw one poster, top to bottom: heading, subtitle, QR code, point, instructions, footer."""
    canvas.setFillColorRGB(*ACCENT)
    canvas.rect(0, PAGE_HEIGHT - 12 * mm, PAGE_WIDTH, 12 * mm, stroke=0, fill=1)
    y = PAGE_HEIGHT - 12 * mm - 14 * mm
    y = _draw_text(canvas, font, labels["heading"], y, HEADING, color=ACCENT)
    subtitle = _field(poster, "subtitle")
    if subtitle:
        y = _draw_text(canvas, font, subtitle, y - 2 * mm, SUBTITLE)
    y -= 6 * mm
    draw_qr(canvas, _field(poster, "url"), (PAGE_WIDTH - QR_SIZE) / 2, y - QR_SIZE, QR_SIZE)
    y -= QR_SIZE + 6 * mm
    kind = _field(poster, "kind")
    if kind:
        y = _draw_text(canvas, font, kind, y, KIND, gray=0.3)
    y = _draw_text(canvas, font, _field(poster, "name"), y - 1 * mm, NAME)
    _draw_text(canvas, font, labels["instructions"], y - 4 * mm, INSTRUCTIONS, gray=0.15)
    footer = labels["code"] % {"code": _field(poster, "code")} if _field(poster, "code") else ""
    footer = f"{footer}  {_field(poster, 'url')}".strip()
    canvas.setStrokeGray(0.6)
    canvas.line(MARGIN, MARGIN + 12 * mm, PAGE_WIDTH - MARGIN, MARGIN + 12 * mm)
    _draw_text(canvas, font, footer, MARGIN + 10 * mm, FOOTER, gray=0.3)


def _draw_text(canvas, font, text, top, block, *, color=None, gray=0.0):
    """Draw ``text`` centred below ``top``, shrunk and wrapped to fit the block; return the new top."""
    if not text:
        return top
    size, lines = fit(font, text, WIDTH, block)
    canvas.saveState()
    if color:
        canvas.setFillColorRGB(*color)
    else:
        canvas.setFillGray(gray)
    canvas.setFont(font, size)
    for number, line in enumerate(lines):
        canvas.drawCentredString(PAGE_WIDTH / 2, top - size * (0.85 + number * LEADING), line)
    canvas.restoreState()
    return top - size * LEADING * len(lines)


def fit(font, text, width, block):
    """Return the largest size, and the lines, at which ``text`` fits ``width`` in the block's lines.

    At the smallest size a text still too long is cut with … on its last line.
    """
    largest, smallest, most = block
    size = largest
    while size > smallest:
        lines = wrap(font, text, size, width)
        if len(lines) <= most:
            return size, lines
        size -= 1
    lines = wrap(font, text, smallest, width)
    if len(lines) > most:
        last = lines[most - 1] + "…"
        while len(last) > 1 and stringWidth(last, font, smallest) > width:
            last = last[:-2] + "…"
        lines = [*lines[: most - 1], last]
    return smallest, lines


def wrap(font, text, size, width):
    """Split ``text`` into lines no wider than ``width``, between CJK characters or at spaces."""
    lines, line = [], ""
    for token in _TOKEN.findall(" ".join(text.split())):
        pieces = [token] if stringWidth(token, font, size) <= width else list(token)
        for piece in pieces:
            if line and not piece.isspace() and stringWidth(line + piece, font, size) > width:
                lines.append(line.rstrip())
                line = ""
            if line or not piece.isspace():
                line += piece
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines
