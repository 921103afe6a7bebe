"""The printable activation cards: eight per A4 page, each with a QR code and a typed code.

Pure: takes plain card data and translated labels, returns PDF bytes.
"""

import io
import re
from collections.abc import Mapping
from functools import lru_cache
from itertools import islice

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from voting.pdf import register_cjk_font
from voting.qr import draw_qr

COLUMNS, ROWS = 2, 4
CARDS_PER_PAGE = COLUMNS * ROWS

PAGE_WIDTH, PAGE_HEIGHT = A4
# Office printers cannot print to the paper edge; the bottom margin also holds the page number.
MARGIN_X, MARGIN_Y = 8 * mm, 12 * mm
CARD_WIDTH = (PAGE_WIDTH - 2 * MARGIN_X) / COLUMNS
CARD_HEIGHT = (PAGE_HEIGHT - 2 * MARGIN_Y) / ROWS
PADDING = 4 * mm
QR_SIZE = 40 * mm
GAP = 4 * mm
INNER_WIDTH = CARD_WIDTH - 2 * PADDING
SIDE_WIDTH = INNER_WIDTH - QR_SIZE - GAP

LEADING = 1.2
ASCENT = 0.8  # of WenQuanYi Micro Hei, in ems: where the first baseline sits below a block's top

# (largest size, smallest size, block height) in points for each text block; a block's text
# shrinks, then wraps, to stay inside its height and width, and is cut with … as a last resort.
HEADING_BLOCK = (10, 7, 14)
NAME_BLOCK = (20, 7, 26)
NUMBER_BLOCK = (9, 6, 13)
DELEGATION_BLOCK = (9, 6, 24)
CODE_LABEL_BLOCK = (8, 6, 11)
INSTRUCTIONS_BLOCK = (8, 5, CARD_HEIGHT - 2 * PADDING - HEADING_BLOCK[2] - QR_SIZE - 3)
CODE_MAX_SIZE = 18

# Break points for text without spaces: any CJK character may start a line, but closing
# punctuation stays with the character before it and opening punctuation with the one after.
_CJK = "\u2e80-\u9fff\uf900-\uffef"
_TOKEN = re.compile(rf"[（《「『“‘]*[{_CJK}][，。、；：！？）》」』”’]*|[^\s{_CJK}]+|\s+")


def build_activation_cards(cards, *, title: str, labels: dict) -> bytes:
    """Return a PDF with one cut-out activation card per deputy, eight to an A4 page."""
    font = register_cjk_font()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1, initialFontName=font)
    canvas.setTitle(title)
    cards = iter(cards)
    page = 1
    while batch := list(islice(cards, CARDS_PER_PAGE)):
        _draw_page(canvas, font, batch, labels, page)
        page += 1
    canvas.save()
    return buffer.getvalue()


def _draw_page(canvas, font, batch, labels, page):
    """Draw up to eight cards, the cut lines and the page number, then start a new page."""
    _draw_cut_lines(canvas)
    for index, card in enumerate(batch):
        column, row = index % COLUMNS, index // COLUMNS
        left = MARGIN_X + column * CARD_WIDTH
        top = PAGE_HEIGHT - MARGIN_Y - row * CARD_HEIGHT
        _draw_card(canvas, font, card, labels, left, top)
    canvas.setFont(font, 8)
    canvas.drawCentredString(PAGE_WIDTH / 2, MARGIN_Y / 2, labels["page"] % {"page": page})
    canvas.showPage()


def _draw_cut_lines(canvas):
    """Draw the dashed grid along which the sheet is cut into cards."""
    canvas.saveState()
    canvas.setDash(3, 3)
    canvas.setLineWidth(0.5)
    canvas.setStrokeGray(0.6)
    right, bottom = PAGE_WIDTH - MARGIN_X, MARGIN_Y
    for column in range(COLUMNS + 1):
        x = MARGIN_X + column * CARD_WIDTH
        canvas.line(x, bottom, x, PAGE_HEIGHT - MARGIN_Y)
    for row in range(ROWS + 1):
        y = bottom + row * CARD_HEIGHT
        canvas.line(MARGIN_X, y, right, y)
    canvas.restoreState()


def _draw_card(canvas, font, card, labels, left, top):
    """Draw one card whose top-left corner is at (left, top)."""
    x, y = left + PADDING, top - PADDING
    _draw_block(canvas, font, labels["heading"], x, y, INNER_WIDTH, HEADING_BLOCK, centred=True)
    y -= HEADING_BLOCK[2]
    draw_qr(canvas, _field(card, "url"), x, y - QR_SIZE, QR_SIZE)
    _draw_instructions(canvas, font, labels["instructions"], x, y - QR_SIZE - 3)
    _draw_side(canvas, font, card, labels, x + QR_SIZE + GAP, y)


def _draw_side(canvas, font, card, labels, x, y):
    """Draw the name, number, delegation and typed code in the column beside the QR code."""
    bottom = y - QR_SIZE
    blocks = [
        (_field(card, "name"), NAME_BLOCK),
        (_labelled(labels["number"], _field(card, "number")), NUMBER_BLOCK),
        (_labelled(labels["delegation"], _field(card, "delegation")), DELEGATION_BLOCK),
        (labels["code"], CODE_LABEL_BLOCK),
    ]
    for text, block in blocks:
        _draw_block(canvas, font, text, x, y, SIDE_WIDTH, block)
        y -= block[2]
    _draw_code(canvas, font, _field(card, "code"), x, y, SIDE_WIDTH, y - bottom)


def _draw_instructions(canvas, font, text, x, y):
    """Draw the instructions across the card below the QR code, in grey."""
    canvas.saveState()
    canvas.setFillGray(0.25)
    _draw_block(canvas, font, text, x, y, INNER_WIDTH, INSTRUCTIONS_BLOCK)
    canvas.restoreState()


def _field(card, key):
    """Return a card's ``key`` as text, whether the card is a mapping or an object."""
    value = card[key] if isinstance(card, Mapping) else getattr(card, key)
    return "" if value is None else str(value)


def _labelled(label, value):
    """Return ``label value``, or nothing when there is no value to label."""
    return f"{label} {value}" if value else ""


def _draw_block(canvas, font, text, x, top, width, block, *, centred=False):
    """Draw ``text`` fitted into a block of ``width`` below ``top``."""
    size, lines = _fit(font, text, width, block)
    canvas.setFont(font, size)
    for number, line in enumerate(lines):
        baseline = top - size * (ASCENT + number * LEADING)
        if centred:
            canvas.drawCentredString(x + width / 2, baseline, line)
        else:
            canvas.drawString(x, baseline, line)


# Headings, labels and instructions repeat on every card: fitting them once saves most of the time.
@lru_cache(maxsize=256)
def _fit(font, text, width, block):
    """Return the largest font size, and the wrapped lines, at which ``text`` fits the block."""
    largest, smallest, height = block
    size = largest
    while size >= smallest:
        lines = _wrap(font, text, size, width)
        if len(lines) * size * LEADING <= height:
            return size, tuple(lines)
        size -= 0.5
    return _truncate(font, text, smallest, width, height)


def _truncate(font, text, size, width, height):
    """Return as many wrapped lines as fit the height at ``size``, the last ending in …."""
    room = max(1, int(height // (size * LEADING)))
    lines = _wrap(font, text, size, width)[:room]
    last = lines[-1] + "…"
    while len(last) > 1 and stringWidth(last, font, size) > width:
        last = last[:-2] + "…"
    return size, (*lines[:-1], last)


def _wrap(font, text, size, width):
    """Split ``text`` into lines no wider than ``width``, breaking at spaces or between CJK characters."""
    lines, line, used = [], "", 0.0
    for token in _tokens(font, text, size, width):
        token_width = stringWidth(token, font, size)
        if line and not token.isspace() and used + token_width > width:
            lines.append(line.rstrip())
            line, used = "", 0.0
        if line or not token.isspace():
            line += token
            used += token_width
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def _tokens(font, text, size, width):
    """Yield the unbreakable pieces of ``text``, splitting any piece wider than a line into characters."""
    for token in _TOKEN.findall(text):
        if stringWidth(token, font, size) > width:
            yield from token
        else:
            yield token


def _draw_code(canvas, font, code, x, top, width, height):
    """Draw the activation code in large letters on equal-width cells, two groups a line."""
    groups = code.split("-")
    lines = ["-".join(groups[i : i + 2]) for i in range(0, len(groups), 2)]
    cells = max(len(line) for line in lines)
    # Equal cells keep the groups aligned and make a narrow letter easy to count when typing.
    cell_em = max(stringWidth(ch, font, 1) for ch in code + "W") * 1.1
    size = min(CODE_MAX_SIZE, width / (cells * cell_em), height / (len(lines) * LEADING))
    cell = cell_em * size
    # One text object for the whole code: a text object per letter doubled the time of a card.
    text = canvas.beginText()
    text.setFont(font, size)
    for number, line in enumerate(lines):
        baseline = top - size * (ASCENT + number * LEADING)
        for position, ch in enumerate(line):
            text.setTextOrigin(x + (position + 0.5) * cell - stringWidth(ch, font, size) / 2, baseline)
            text.textOut(ch)
    canvas.drawText(text)
