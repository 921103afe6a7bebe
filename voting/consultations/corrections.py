"""The organizer's corrections to a split, as edits of ``Structure.to_dict()``. Pure: dicts in, dicts out.

Each function returns a new dict in the shape ``operations.update_draft(structure=...)`` takes;
headings and articles are addressed by their position, the way the correction page lists them.
``fingerprint`` names one state of a split, so that a correction made on a page that has gone
stale (someone else corrected the draft meanwhile) is refused rather than applied to the wrong
article.
"""

import copy
import hashlib
import json

from voting.consultations import splitter

# Warnings point at articles by line; the stored split has no source lines, so articles and
# headings get stand-in lines: article i is line i + 1, heading j is HEADING_LINES + j + 1.
HEADING_LINES = 1_000_000


class CorrectionError(ValueError):
    """A correction that cannot apply to this split; ``code`` names why."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


def fingerprint(data):
    """Return a short hash of what the organizer sees of a split (numbers, titles, text, headings, notes).

    Heading notes and the trailer count only when there are some, so that a split without them
    keeps the fingerprint it had before they were stored: a page open across an upgrade stays current.
    """
    content = {
        "headings": [
            [h["level"], h["number"], h["title"], *([h["notes"]] if h.get("notes") else [])] for h in data["headings"]
        ],
        "articles": [[a["number"], a["suffix"], a["title"], a["paragraphs"], a["heading"]] for a in data["articles"]],
        "preamble": data.get("preamble") or [],
    }
    if data.get("trailer"):
        content["trailer"] = data["trailer"]
    raw = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def paragraphs_from_text(text):
    """Split an article's edited text into paragraphs: a blank line separates two paragraphs.

    Lines inside a paragraph (its items, （一）（二）) are kept as lines.
    """
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    blocks = []
    for block in text.split("\n\n"):
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        if lines:
            blocks.append("\n".join(lines))
    return blocks


def text_from_paragraphs(paragraphs):
    """Return an article's paragraphs as editable text, a blank line between two paragraphs."""
    return "\n\n".join(paragraphs)


def _article(data, index):
    if not isinstance(index, int) or not 0 <= index < len(data["articles"]):
        raise CorrectionError("no_such_article")
    return data["articles"][index]


def edit_article(data, index, *, number, suffix, title, paragraphs, heading):
    """Return the split with article ``index`` given a new number, title, text and heading."""
    data = copy.deepcopy(data)
    article = _article(data, index)
    if heading is not None and not 0 <= heading < len(data["headings"]):
        raise CorrectionError("no_such_heading")
    article.update(number=number, suffix=suffix, title=title or None, paragraphs=list(paragraphs), heading=heading)
    return data


def merge_into_previous(data, index):
    """Return the split with article ``index`` appended, paragraphs and all, to the article before it.

    For a 第X条 the splitter took for a new article though it continued the one before.
    """
    data = copy.deepcopy(data)
    article = _article(data, index)
    if index == 0:
        raise CorrectionError("first_article")
    previous = data["articles"][index - 1]
    paragraphs = list(article["paragraphs"])
    # The marker the splitter consumed belongs to the text again (依照本条例第五条规定…): no word is lost.
    marker = splitter.Article(article["number"], article["suffix"], style=data.get("style") or "article").label
    marker += f"【{article['title']}】" if article.get("title") else ""
    text = paragraphs.pop(0) if paragraphs else ""
    ends = previous["paragraphs"][-1] if previous["paragraphs"] else ""
    if ends and not splitter.ends_sentence(ends):  # a hard line break inside a sentence
        previous["paragraphs"] = [*previous["paragraphs"][:-1], ends + marker + text, *paragraphs]
    else:
        gap = " " if text and not article.get("title") else ""
        previous["paragraphs"] = [*previous["paragraphs"], marker + gap + text, *paragraphs]
    del data["articles"][index]
    return data


def split_article(data, index, paragraph):
    """Return the split with a new article starting at paragraph ``paragraph`` of article ``index``.

    A paragraph that opens with its own 第X条 (a line the splitter took for text) gives the new
    article its number and title; otherwise the new article takes the next number, which the
    organizer can correct.
    """
    data = copy.deepcopy(data)
    article = _article(data, index)
    if not isinstance(paragraph, int) or not 1 <= paragraph < len(article["paragraphs"]):
        raise CorrectionError("no_such_paragraph")
    head, tail = article["paragraphs"][:paragraph], article["paragraphs"][paragraph:]
    number, suffix, title = article["number"] + 1, 0, None
    found = splitter.split(tail[0]).articles
    if len(found) == 1 and found[0].line == 1:
        number, suffix, title = found[0].number, found[0].suffix, found[0].title
        tail = [*found[0].paragraphs, *tail[1:]]
    article["paragraphs"] = head
    new = {"number": number, "suffix": suffix, "title": title, "paragraphs": tail, "heading": article["heading"]}
    data["articles"].insert(index + 1, new)
    return data


def _heading(data, index):
    if not isinstance(index, int) or not 0 <= index < len(data["headings"]):
        raise CorrectionError("no_such_heading")
    return data["headings"][index]


def _rebuild_parents(headings):
    """Put each heading under the nearest heading before it of a higher rank (编 > 章 > 节)."""
    for i, heading in enumerate(headings):
        heading["parent"] = next((j for j in range(i - 1, -1, -1) if headings[j]["level"] < heading["level"]), None)


def edit_heading(data, index, *, level, number, title):
    """Return the split with heading ``index`` given a new level, number and title."""
    data = copy.deepcopy(data)
    heading = _heading(data, index)
    heading.update(level=level, number=number, title=" ".join((title or "").split()))
    _rebuild_parents(data["headings"])
    return data


def remove_heading(data, index):
    """Return the split without heading ``index``, for a line the splitter took for a heading.

    Its articles then stand where the text puts them: under the heading before it. Its notes (the
    text between it and its first article) are kept with them: they follow the notes of the
    heading before it, or, with no heading before it, the preamble. No word is lost.
    """
    data = copy.deepcopy(data)
    removed = _heading(data, index)
    before = index - 1 if index > 0 else None
    notes = list(removed.get("notes") or [])
    if notes and before is None:
        data["preamble"] = [*(data.get("preamble") or []), *notes]
    elif notes:
        data["headings"][before]["notes"] = [*(data["headings"][before].get("notes") or []), *notes]
    for article in data["articles"]:
        position = article["heading"]
        if position == index:
            article["heading"] = before
        elif position is not None and position > index:
            article["heading"] = position - 1
    del data["headings"][index]
    _rebuild_parents(data["headings"])
    return data


def anchored_warnings(structure):
    """Check a split; return (warning, kind, index) with kind "article" or "heading" (or None) it is about."""
    probe = copy.deepcopy(structure)
    for i, article in enumerate(probe.articles):
        article.line = i + 1
    for j, heading in enumerate(probe.headings):
        heading.line = HEADING_LINES + j + 1
    found = []
    for warning in splitter.check(probe):
        if warning.line > HEADING_LINES:
            found.append((warning, "heading", warning.line - HEADING_LINES - 1))
        elif warning.line > 0:
            found.append((warning, "article", warning.line - 1))
        else:
            found.append((warning, None, None))
    return found
