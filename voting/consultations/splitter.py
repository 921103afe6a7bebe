"""Split the text of a draft law into its structure. Pure: text in, plain values out.

A draft is parts, chapters and sections (编/章/节 headings), articles (条, e.g. 第一百零一条 or the
inserted 第十条之一), each article's paragraphs (款) in order, with its items (项, （一）（二）) kept
inside their paragraph, one item a line. Text before the first article is the preamble.

Real drafts are pasted from Word, web pages and PDF copies, so the splitter reads lines, not
layout. Its decisions, in order of strength:

- A line that opens with 第X条 starts an article only when it reads like one: the marker is
  followed by a space, a bracketed title (【适用范围】, （适用范围）), the end of the line or the
  article's own text (第一条为了...), and not by words that continue a cross-reference
  (第十二条规定, 第三条的规定, 第五条第二款, 第三条至第五条).
- A line that continues an unfinished sentence (the line before ends without 。；：！？) is a
  hard line break; a 第X条 at its start is then a cross-reference unless it is the very
  number the next article would have.
- Lines are joined into paragraphs until one ends a sentence; where the paragraphs of a PDF copy
  are marked by indentation, an unindented line after a full-width line is joined even after 。.

Traditional characters (第一條, 總則) are recognised through a same-length mapping used for
matching only; every text keeps the characters it was written in. Article numbers that are
skipped, repeated or out of order are not corrected: ``check`` reports them for the organizer.
"""

import re
from collections import deque
from dataclasses import asdict, dataclass, field

PART, CHAPTER, SECTION = 1, 2, 3
LEVEL_NAMES = {PART: "编", CHAPTER: "章", SECTION: "节"}
_LEVELS = {"编": PART, "章": CHAPTER, "节": SECTION}

# -- numerals ----------------------------------------------------------------------------------

_DIGITS = {
    "零": 0, "〇": 0, "○": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "貳": 2, "两": 2, "兩": 2,
    "三": 3, "叁": 3, "參": 3, "叄": 3, "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6,
    "陸": 6, "七": 7, "柒": 7, "八": 8, "捌": 8, "九": 9, "玖": 9,
}  # fmt: skip
_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_MYRIADS = {"万": 10_000, "萬": 10_000}
_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def parse_chinese_number(text):
    """Return the value of a numeral: 十 -> 10, 一百零一 -> 101, 一〇一 -> 101, ２０ -> 20.

    Raise ValueError for anything that is not a well-formed numeral.
    """
    s = "".join(text.split()).translate(_FULLWIDTH_DIGITS)
    if not s:
        raise ValueError("empty numeral")
    if s.isascii():
        if not s.isdigit():
            raise ValueError(f"not a numeral: {text!r}")
        return int(s)
    if all(c in _DIGITS for c in s):  # digit by digit, as in 一〇一 or a bare 三
        value = 0
        for c in s:
            value = value * 10 + _DIGITS[c]
        return value
    total = section = 0
    digit = None
    smallest_unit = 10**9  # units fall within a group: 一千零一十, never 十百
    for c in s:
        if c in _DIGITS:
            if digit:  # two digits in a row (一二十); a 零 before a digit is fine
                raise ValueError(f"not a numeral: {text!r}")
            digit = _DIGITS[c]
        elif c in _UNITS:
            unit = _UNITS[c]
            if unit >= smallest_unit or digit == 0:
                raise ValueError(f"not a numeral: {text!r}")
            section += (1 if digit is None else digit) * unit
            digit, smallest_unit = None, unit
        elif c in _MYRIADS:
            section += digit or 0
            if total or not section:
                raise ValueError(f"not a numeral: {text!r}")
            total, section, digit, smallest_unit = section * 10_000, 0, None, 10**9
        else:
            raise ValueError(f"not a numeral: {text!r}")
    return total + section + (digit or 0)


def chinese_number(n):
    """Write a number as legal texts do: 10 -> 十, 101 -> 一百零一, 110 -> 一百一十."""
    if n < 0:
        raise ValueError("negative numeral")
    if n == 0:
        return "零"
    if n >= 10_000:
        high, low = divmod(n, 10_000)
        return chinese_number(high) + "万" + ("零" if 0 < low < 1000 else "") + (chinese_number(low) if low else "")
    digits = "零一二三四五六七八九"
    out, pending_zero = "", False
    for value, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d == 0:
            pending_zero = bool(out)
            continue
        out += ("零" if pending_zero else "") + digits[d] + name
        pending_zero = False
    return out[1:] if out.startswith("一十") else out


# -- the result --------------------------------------------------------------------------------


@dataclass
class Heading:
    """A part, chapter or section heading (编/章/节); number is None for an unnumbered 总则."""

    level: int
    number: int | None
    title: str
    parent: int | None = None  # index of the enclosing heading in Structure.headings
    line: int = 0  # 1-based line of the source text
    notes: list[str] = field(default_factory=list)  # text found between this heading and the next article

    @property
    def label(self):
        if self.number is None:
            return ""
        return f"第{chinese_number(self.number)}{LEVEL_NAMES[self.level]}"


@dataclass
class Article:
    """An article (条) with its paragraphs (款); suffix 1 is 之一 of an inserted article."""

    number: int
    suffix: int = 0
    title: str | None = None
    paragraphs: list[str] = field(default_factory=list)
    heading: int | None = None  # index of the innermost heading it stands under
    line: int = 0
    style: str = "article"

    @property
    def label(self):
        if self.style == "point":
            return f"{chinese_number(self.number)}、"
        suffix = f"之{chinese_number(self.suffix)}" if self.suffix else ""
        return f"第{chinese_number(self.number)}条{suffix}"

    @property
    def text(self):
        return "\n".join(self.paragraphs)


@dataclass
class Structure:
    """What the splitter found; ``style`` is "article" (第X条) or "point" (一、 in a 决定).

    ``title`` is the draft's own first line when it reads like a title; ``preamble`` holds the
    paragraphs after it and before the first article (a 决定's opening sentence, a date line).
    """

    title: str | None = None
    preamble: list[str] = field(default_factory=list)
    headings: list[Heading] = field(default_factory=list)
    articles: list[Article] = field(default_factory=list)
    toc: list[str] = field(default_factory=list)
    trailer: list[str] = field(default_factory=list)  # an attached 说明 or 附件 after the articles
    style: str = "article"

    def to_dict(self):
        data = asdict(self)
        for heading, raw in zip(self.headings, data["headings"], strict=True):
            raw["label"] = heading.label
        for article, raw in zip(self.articles, data["articles"], strict=True):
            raw["label"] = article.label
        return data


@dataclass(frozen=True)
class SplitWarning:
    """Something the organizer should look at before publishing; ``line`` is 1-based, 0 if none."""

    code: str
    message: str
    line: int = 0


# -- lines -------------------------------------------------------------------------------------

# Matching happens on a same-length copy with traditional characters and full-width digits mapped.
_MATCH_MAP = str.maketrans(
    "條節編則總錄規項與關於執處罰辦確範圍兩萬為並後刪這",
    "条节编则总录规项与关于执处罚办确范围两万为并后删这",
)
_MATCH_MAP.update(_FULLWIDTH_DIGITS)
_SPACES = re.compile(r"[\s\u3000\xa0\u2000-\u200a\u202f\u205f]+")
_INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PAGE_NUMBER = re.compile(r"^(?:[-—–－_ ]*\d{1,4}[-—–－_ ]*|第 ?\d+ ?页(?: ?共 ?\d+ ?页)?|\d+ ?/ ?\d+)$")
_NUM = "[0-9零〇○一二两三四五六七八九十百千]"
_NUMERAL = rf"{_NUM}(?: ?{_NUM})*"
_ARTICLE = re.compile(rf"第 ?({_NUMERAL}) ?条(?: ?之 ?({_NUM}+))?")
_HEADING = re.compile(rf"第 ?({_NUMERAL}) ?(编|章|节)")
_POINT = re.compile(rf"({_NUM}+)、")
_ITEM = re.compile(rf"(?:[（(] ?{_NUM}+ ?[)）]|{_NUM}{{1,3}}、|\d{{1,2}}[.．](?!\d)|[①-⑳])")
_OPEN_CLOSE = {"【": "】", "（": "）", "(": ")", "[": "]", "［": "］", "〔": "〕"}
_TITLE = re.compile(r"([【（(\[［〔]) ?[（(]?([^【】()（）\[\]［］〔〕，。；：！？,;]{1,30})[）)]? ?([】）)\]］〕])")
_ITEM_REF = re.compile(rf"[（(]{_NUM}+[)）]")
# Words that continue a cross-reference: 第十二条规定, 第三条的规定, 第五条第二款, 第三条至第五条.
_REFERENCE_WORDS = (
    "规定", "的", "第", "之", "、", "，", ",", "。", "；", "）", ")", "”", "」", "所称", "所规定", "所列",
    "所指", "所述", "至第", "到第", "和第", "与第", "及第", "或第", "或者第", "中的", "中规定", "以外", "以及",
    "等规定", "等条", "后增加", "修改", "改为", "删去", "删除", "增加",
)  # fmt: skip
_TERMINAL = "。！？；：!?;:…"
_CLOSERS = "”’」』）)】》\"'"
_KNOWN_HEADINGS = {"总则", "附则", "分则", "罚则", "法律责任", "总纲"}
_TOC = {"目录", "目次"}
_TRAILER = re.compile(r"^(?:(?:附件|附表|附录) ?\d*(?: ?[：:].*)?|关于《.+》.*的(?:起草)?说明)$")
_DRAFT_MARK = re.compile(r"^[（(](?:[^（）()]*(?:草案|征求意见稿|送审稿|修订稿|修改稿|代拟稿)[^（）()]*)[）)]$")
_TITLE_ENDINGS = ("条例", "办法", "规定", "决定", "细则", "规则", "法", "决议", "草案）", "意见稿）", "送审稿）")
_CJK_TITLE = re.compile(r"^[\u4e00-\u9fff、与和及 ]{2,15}$")


@dataclass
class _Line:
    number: int
    text: str  # stripped, whitespace runs made single spaces
    key: str  # the same with traditional characters and digits mapped, for matching
    indented: bool
    at_break: bool = False  # next to a blank line or a page number: where a PDF puts its running header


def _prepare(text):
    text = _INVISIBLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = []
    after_break = True
    for number, raw in enumerate(text.split("\n"), start=1):
        spaced = _SPACES.sub(" ", raw)
        stripped = spaced.strip()
        if not stripped or _PAGE_NUMBER.match(stripped.translate(_FULLWIDTH_DIGITS)):
            if lines:
                lines[-1].at_break = True
            after_break = True
            continue
        lines.append(_Line(number, stripped, stripped.translate(_MATCH_MAP), spaced.startswith(" "), after_break))
        after_break = False
    return _drop_running_headers(lines)


def _drop_running_headers(lines):
    """Drop the page header a PDF copy repeats at every page break (the draft's title, usually)."""
    first = next((i for i, line in enumerate(lines) if _article_candidate(line)), len(lines))
    seen = {}
    for i in range(first, len(lines)):
        line = lines[i]
        if line.at_break and len(line.text) <= 40 and not ends_sentence(line.text) and not _structural(line):
            seen.setdefault(_compact(line.key), []).append(i)
    dropped = {i for found in seen.values() if len(found) >= 2 for i in found}
    return [line for i, line in enumerate(lines) if i not in dropped]


def _structural(line):
    return bool(_article_candidate(line) or _heading_candidate(line) or _ITEM.match(line.key))


def _compact(text):
    return text.replace(" ", "")


def _tidy_title(text):
    """Drop the letter-spacing of centred headings (总　　则) but keep spaces between Latin words."""
    return re.sub(r"(?<=[^\x00-\x7f]) +|(?<=[\x00-\x7f]) +(?=[^\x00-\x7f])", "", text).strip()


def ends_sentence(text):
    """Tell whether a line ends a sentence (。；：！？, also before a closing quote or bracket)."""
    stripped = text.rstrip(_CLOSERS + " ")
    return bool(stripped) and stripped[-1] in _TERMINAL


def _join(left, right):
    if left[-1:].isascii() and left[-1:].isalnum() and right[:1].isascii() and right[:1].isalnum():
        return f"{left} {right}"
    return left + right


# -- recognising structure ---------------------------------------------------------------------


@dataclass
class _Candidate:
    kind: str  # "alone", "spaced", "titled", "glued", "reference"
    number: int
    suffix: int = 0
    title: str | None = None
    rest: str = ""  # the article's own text on its first line


def _article_candidate(line):
    match = _ARTICLE.match(line.key)
    if not match:
        return None
    try:
        number = parse_chinese_number(match[1])
        suffix = parse_chinese_number(match[2]) if match[2] else 0
    except ValueError:
        return None
    rest_key, rest = line.key[match.end() :], line.text[match.end() :]
    if not rest_key.strip():
        return _Candidate("alone", number, suffix)
    bare = rest_key.lstrip()
    if bare[:1] in "：:":  # 第一条：为了... in informal drafts
        text = rest.lstrip()[1:].strip()
        return _Candidate("spaced" if text else "alone", number, suffix, rest=text)
    if bare.startswith(_REFERENCE_WORDS) or _ITEM_REF.match(bare):
        return _Candidate("reference", number, suffix, rest=rest.strip())
    title = _TITLE.match(bare)
    if title and _OPEN_CLOSE[title[1]] == title[3] and not re.fullmatch(_NUMERAL, title[2].strip()):
        lead = len(rest_key) - len(bare)  # key and text have the same length, so offsets carry over
        name = _tidy_title(rest[lead + title.start(2) : lead + title.end(2)])
        return _Candidate("titled", number, suffix, name, rest[lead + title.end() :].strip())
    return _Candidate("spaced" if rest_key[0] == " " else "glued", number, suffix, rest=rest.strip())


def _point_candidate(line):
    match = _POINT.match(line.key)
    if not match:
        return None
    try:
        number = parse_chinese_number(match[1])
    except ValueError:
        return None
    return _Candidate("spaced", number, rest=line.text[match.end() :].strip())


def _heading_candidate(line):
    """Return (level, number, title) for 第一章 总则, 第二节..., or an unnumbered 总 则."""
    compact = _compact(line.key)
    if compact in _KNOWN_HEADINGS:
        return CHAPTER, None, _tidy_title(line.text)
    match = _HEADING.match(line.key)
    if not match:
        return None
    rest_key = line.key[match.end() :].strip()
    if rest_key.startswith(_REFERENCE_WORDS) or len(rest_key) > 40 or any(c in rest_key for c in "，。；,;"):
        return None
    try:
        number = parse_chinese_number(match[1])
    except ValueError:
        return None
    return _LEVELS[match[2]], number, _tidy_title(line.text[match.end() :])


def _toc_entry(line):
    """Read a table-of-contents line, dropping page numbers, dot leaders and article ranges."""
    cleaned = re.sub(r"[ .·…．\-—_]*\d*$", "", line.key)
    cleaned = re.sub(rf"[（(]第{_NUM}+条.*[）)]$", "", cleaned).strip()
    if not cleaned:
        return None
    found = _heading_candidate(_Line(line.number, cleaned, cleaned, False))
    if found is None:
        return None
    level, number, title = found
    return level, number, _compact(title)


# -- the splitter ------------------------------------------------------------------------------


class _Splitter:
    def __init__(self, lines):
        self.lines = deque(lines)
        self.result = Structure()
        self.style = "article" if self._has_articles(lines) else ("point" if self._has_points(lines) else "article")
        self.result.style = self.style
        self.phase = "preamble"
        self.toc_entries = []
        self.paragraphs = self.result.preamble  # where content lines go now (lists of visual lines)
        self.open = None  # the paragraph being written (list of visual lines), or None
        self.last_raw = ""
        self.current = {}  # level -> index of the innermost open heading at that level
        self.layout = _Layout(lines)

    @staticmethod
    def _has_articles(lines):
        return any((c := _article_candidate(line)) and c.kind != "reference" for line in lines)

    @staticmethod
    def _has_points(lines):
        return sum(1 for line in lines if _point_candidate(line)) >= 2

    # -- the walk

    def run(self):
        while self.lines:
            line = self.lines.popleft()
            if self.phase == "toc" and self._toc_line(line):
                continue
            if self.phase == "preamble" and _compact(line.key) in _TOC and not self.result.articles:
                self.phase = "toc"
                continue
            if self.phase == "trailer":
                self.result.trailer.append(line.text)  # kept line by line, as written
                continue
            if self._structure(line):
                continue
            self._content(line)
        self._finish()
        return self.result

    def _mid_sentence(self):
        return self.open is not None and not ends_sentence(self.open[-1])

    def _structure(self, line):
        """Start a heading, an article or the trailer if the line is one; tell whether it was."""
        in_body = bool(self.result.articles)
        if in_body and not self._mid_sentence() and _TRAILER.match(_compact(line.key)):
            self._close()
            self.phase = "trailer"
            self.result.trailer.append(line.text)
            return True
        heading = _heading_candidate(line)
        if heading and self._accept_heading(*heading):
            self._heading(line, *heading)
            return True
        if in_body and self._generic_heading(line):
            self._heading(line, CHAPTER, None, _tidy_title(line.text))
            return True
        candidate = (_article_candidate if self.style == "article" else _point_candidate)(line)
        if candidate and self._accept_article(candidate):
            self._article(line, candidate)
            return True
        return False

    def _accept_heading(self, level, number, title):
        if not self.result.articles:
            return True
        if number is None:
            return not self._mid_sentence()
        if self._mid_sentence():
            siblings = [h.number for h in self.result.headings if h.level == level and h.parent == self._parent(level)]
            return number == (siblings[-1] if siblings and siblings[-1] else 0) + 1
        return True

    def _generic_heading(self, line):
        """An unnumbered chapter title (物业服务) standing alone between two articles."""
        if self._mid_sentence() or not _CJK_TITLE.match(line.key) or not self.lines:
            return False
        following = self.lines[0]
        nxt = _article_candidate(following) if self.style == "article" else _point_candidate(following)
        return bool((nxt and nxt.kind != "reference") or _HEADING.match(following.key))

    def _expected(self):
        if not self.result.articles:
            return {(1, 0)}
        last = self.result.articles[-1]
        return {(last.number + 1, 0), (last.number, last.suffix + 1)}

    def _accept_article(self, candidate):
        if candidate.kind == "reference":
            return False
        if not self.result.articles or not self._mid_sentence():
            return True
        return (candidate.number, candidate.suffix) in self._expected()

    # -- building

    def _parent(self, level):
        parents = [self.current[lvl] for lvl in sorted(self.current) if lvl < level]
        return parents[-1] if parents else None

    def _heading(self, line, level, number, title):
        self._close()
        if not title and self.lines and self._bare_title(self.lines[0]):
            title = _tidy_title(self.lines.popleft().text)
        heading = Heading(level, number, title, self._parent(level), line.number)
        self.result.headings.append(heading)
        index = len(self.result.headings) - 1
        self.current = {lvl: i for lvl, i in self.current.items() if lvl < level}
        self.current[level] = index
        self.paragraphs = heading.notes if self.result.articles else self.result.preamble
        self.open = None

    def _bare_title(self, line):
        return (
            len(line.key) <= 20
            and not any(c in line.key for c in _TERMINAL + "，,")
            and not _article_candidate(line)
            and not _HEADING.match(line.key)
        )

    def _article(self, line, candidate):
        self._close()
        heading = self.current[max(self.current)] if self.current else None
        article = Article(candidate.number, candidate.suffix, candidate.title, [], heading, line.number, self.style)
        self.result.articles.append(article)
        self.paragraphs = article.paragraphs
        self.open = None
        rest = candidate.rest
        if rest and candidate.kind == "spaced" and article.title is None and self._unbracketed_title(line, rest):
            article.title, rest = _tidy_title(rest), ""
        if rest:
            self._content(_Line(line.number, rest, rest.translate(_MATCH_MAP), False))

    def _unbracketed_title(self, line, rest):
        """第二条 适用范围 on a line of its own, the text below it: a short title, not a wrapped line."""
        if not _CJK_TITLE.match(rest) or "、" in rest or not self.lines or self.layout.wrap == _UNKNOWN:
            return False
        following = self.lines[0]
        if _article_candidate(following) or _heading_candidate(following) or _ITEM.match(following.key):
            return False
        return len(line.text) < 0.6 * self.layout.wrap

    def _content(self, line):
        if self.result.articles and self.style == "article":
            line = self._split_inline(line)
        if self.open is None:
            self.open = [line.text]
        elif _ITEM.match(line.key):
            self.open.append(line.text)
        elif self._continues(line):
            self.open[-1] = _join(self.open[-1], line.text)
        else:
            self._close()
            self.open = [line.text]
        self.last_raw = line.text

    def _continues(self, line):
        previous = self.open[-1]
        if self.paragraphs is self.result.preamble:
            if _DRAFT_MARK.match(line.key):
                return not ends_sentence(previous)
            if previous.endswith(_TITLE_ENDINGS) or line.key[:1] in "（(":
                return False
        if not ends_sentence(previous):
            return True
        return self.layout.wrapped(self.last_raw, line)

    def _split_inline(self, line):
        """Cut "...。第二条 本条例..." (a line holding several articles) at the next article's marker."""
        expected = {number for number, suffix in self._expected() if suffix == 0}
        for match in re.finditer(r"(?<=[。；！？”])\s*(?=第)", line.key):
            tail = line.key[match.end() :]
            found = _ARTICLE.match(tail)
            if not found or not re.match(r"[ 【〔\[［（(]", tail[found.end() : found.end() + 1] or "x"):
                continue
            candidate = _article_candidate(_Line(line.number, line.text[match.end() :], tail, False))
            if candidate and candidate.kind in ("spaced", "titled") and candidate.number in expected:
                self.lines.appendleft(_Line(line.number, line.text[match.end() :], tail, False))
                head = line.text[: match.start()].rstrip()
                return _Line(line.number, head, line.key[: match.start()].rstrip(), line.indented)
        return line

    def _close(self):
        if self.open:
            self.paragraphs.append("\n".join(self.open))
        self.open = None

    def _toc_line(self, line):
        entry = _toc_entry(line)
        if entry is None:
            self.phase = "preamble"
            return False
        if self.toc_entries and entry == self.toc_entries[0]:
            self.phase = "preamble"  # the body starts with the first heading again
            return False
        self.toc_entries.append(entry)
        self.result.toc.append(_tidy_title(re.sub(r"[ .·…．\-—_]*\d*$", "", line.text)))
        return True

    def _finish(self):
        self._close()
        preamble = self.result.preamble
        if preamble and len(preamble[0]) <= 80 and not ends_sentence(preamble[0]) and "\n" not in preamble[0]:
            self.result.title = preamble.pop(0)


_UNKNOWN = 10**6  # line width of a text too short to tell


class _Layout:
    """What the line lengths and indentation of the whole text say about hard line breaks.

    A PDF copy breaks every line at the same width, so most lines end mid-sentence; where it
    also indents the first line of each paragraph, indentation tells paragraphs apart even when
    a full line happens to end in 。. Text pasted from Word or a web page has one paragraph a
    line, and indentation there means nothing.
    """

    def __init__(self, lines):
        articles = {i for i, line in enumerate(lines) if _article_candidate(line)}
        headings = {i for i, line in enumerate(lines) if _heading_candidate(line)}
        wrapped = [
            len(line.text)
            for i, line in enumerate(lines[:-1])
            if not ends_sentence(line.text) and i not in headings and i + 1 not in articles | headings
        ]
        lengths = sorted(len(line.text) for line in lines)
        longest = lengths[int(len(lengths) * 0.9)] if len(lengths) >= 5 else _UNKNOWN
        median_wrapped = sorted(wrapped)[len(wrapped) // 2] if wrapped else 0
        # Broken lines of a PDF copy are many and nearly as long as the longest lines; short
        # unfinished lines (titles, 第一条 立法目的) are not a sign of it.
        self.hard_wrapped = len(wrapped) >= max(3, 0.25 * len(lines)) and median_wrapped >= 0.8 * longest
        self.wrap = median_wrapped if self.hard_wrapped else longest
        indented = sum(1 for line in lines if line.indented)
        # Indentation marks paragraphs only where some lines have it and others do not.
        self.indentation_marks_paragraphs = bool(lines) and 0.1 < indented / len(lines) < 0.9

    def wrapped(self, previous_raw, line):
        """Tell whether a line continues the paragraph of a full-width line that ends in 。."""
        return (
            self.hard_wrapped
            and self.indentation_marks_paragraphs
            and not line.indented
            and len(previous_raw) >= self.wrap - 1
        )


def split(text):
    """Split a draft's text into headings, articles and paragraphs; return a Structure."""
    return _Splitter(_prepare(text)).run()


# -- warnings ----------------------------------------------------------------------------------


def _range_label(first, last, name="条"):
    return f"第{first}{name}" if first == last else f"第{first}–{last}{name}"


def check(structure):
    """List what looks wrong in a split: skipped, repeated or out-of-order numbers, empty articles, and
    what to read before publishing: text kept outside the articles (heading notes, the trailer)."""
    warnings = []
    if not structure.articles:
        warnings.append(SplitWarning("no_articles", "no articles found"))
        return warnings
    seen = set()
    highest = 0
    for article in structure.articles:
        key = (article.number, article.suffix)
        label = f"第{article.number}条" + (f"之{article.suffix}" if article.suffix else "")
        if key in seen:
            warnings.append(SplitWarning("duplicate", f"duplicate {label}", article.line))
        elif article.suffix:
            if (article.number, article.suffix - 1) not in seen:
                base = f"第{article.number}条" + (f"之{article.suffix - 1}" if article.suffix > 1 else "")
                warnings.append(SplitWarning("missing", f"{base} missing before {label}", article.line))
        elif article.number <= highest:
            warnings.append(SplitWarning("out_of_order", f"{label} out of order (after 第{highest}条)", article.line))
        elif article.number > highest + 1:
            missing = _range_label(highest + 1, article.number - 1)
            warnings.append(SplitWarning("missing", f"{missing} missing", article.line))
        seen.add(key)
        highest = max(highest, article.number)
        if not article.paragraphs:
            warnings.append(SplitWarning("empty", f"{label} has no text", article.line))
    warnings.extend(_heading_warnings(structure))
    # Heading notes and the trailer are stored and shown to residents (notes under their heading, the
    # trailer after the articles). They are still reported: the splitter may have taken a paragraph of an
    # article for them, and an attachment after the articles may be one the organizer does not mean to
    # publish. The messages are plain English like the others; the pages word them by ``code``.
    for heading in structure.headings:
        if heading.notes:
            message = f"text after heading “{heading.title}” before any article kept as a note under it"
            warnings.append(SplitWarning("stray_text", message, heading.line))
    found = {(h.level, h.number, _compact(h.title).translate(_MATCH_MAP)) for h in structure.headings}
    for entry in structure.toc:
        line = _Line(0, entry, entry.translate(_MATCH_MAP), False)
        if _toc_entry(line) not in found:
            message = f"the table of contents lists “{entry}” but the text has no such heading"
            warnings.append(SplitWarning("toc_mismatch", message))
    if structure.trailer:
        message = "text after the last article kept as an attachment, shown after the articles: "
        warnings.append(SplitWarning("trailer", message + structure.trailer[0][:40]))
    return warnings


def _heading_warnings(structure):
    """Chapters may restart in each part (民法典) or run on through all of them (刑法); both are fine."""
    warnings = []
    last, last_anywhere = {}, {}
    for heading in structure.headings:
        if heading.number is None:
            continue
        scope = (heading.parent, heading.level)
        name = LEVEL_NAMES[heading.level]
        previous = last.get(scope, 0)
        runs_on = scope not in last and heading.number == last_anywhere.get(heading.level, 0) + 1
        last_anywhere[heading.level] = heading.number
        if runs_on:
            last[scope] = heading.number
            continue
        if heading.number == previous:
            warnings.append(SplitWarning("duplicate_heading", f"duplicate 第{heading.number}{name}", heading.line))
        elif heading.number < previous:
            warnings.append(SplitWarning("heading_order", f"第{heading.number}{name} out of order", heading.line))
        elif heading.number > previous + 1:
            missing = _range_label(previous + 1, heading.number - 1, name)
            warnings.append(SplitWarning("missing_heading", f"{missing} missing", heading.line))
        last[scope] = max(previous, heading.number)
    return warnings
