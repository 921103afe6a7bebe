"""Read an uploaded draft (.txt or .docx) into plain text. Pure: bytes in, text out.

Uploads come from the public side of the office, so nothing in a file is trusted: the size
of the upload, the number of entries and the unpacked size of every part of a .docx are
capped before anything is inflated (a zip bomb is refused, not unpacked), and the XML is
parsed with defusedxml with DTDs forbidden (no entity expansion, no external entities).

A .docx is read from word/document.xml with the standard library and defusedxml rather than
python-docx, because drafts number their articles with Word's automatic numbering (第%1条 in
chineseCounting) and python-docx drops those numbers; here they are rendered back into the
text so the splitter sees 第一条.
"""

import io
import re
import zipfile

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from voting.consultations.splitter import chinese_number

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PART_BYTES = 40 * 1024 * 1024  # one unpacked XML part; a 300-article draft is under 2 MB
MAX_ENTRIES = 1000
MAX_RATIO = 200  # unpacked / packed size of one part; Word's XML packs about 10:1
_READ_CHUNK = 64 * 1024

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .doc, and .docx files protected by a password


class DocumentError(ValueError):
    """The upload cannot be read; ``code`` names why (too_large, old_word, not_docx, zip_bomb, ...)."""

    def __init__(self, code, detail=""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


def read_document(filename, data):
    """Return the text of an uploaded .txt or .docx file."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise DocumentError("too_large", f"{len(data)} bytes")
    name = (filename or "").lower()
    if data.startswith(_OLE_MAGIC):
        raise DocumentError("old_word", "a .doc file or a password-protected .docx")
    if data.startswith(b"PK\x03\x04") or name.endswith(".docx"):
        return read_docx(data)
    if name.endswith((".txt", ".text")) or "." not in name:
        return read_text(data)
    raise DocumentError("unsupported_type", name.rsplit(".", 1)[-1])


# -- plain text ----------------------------------------------------------------------------------


def read_text(data):
    """Decode a text file: UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030 (GBK, GB2312)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise DocumentError("unknown_encoding", str(error)) from None
    if b"\x00" in data:
        raise DocumentError("binary", "the file holds NUL bytes")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DocumentError("unknown_encoding", "neither UTF-8 nor GB18030")


# -- .docx ---------------------------------------------------------------------------------------


def read_docx(data):
    """Return the paragraphs of a .docx, one a line, with automatic numbering written out."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as error:
        raise DocumentError("not_docx", str(error)) from None
    with archive:
        if len(archive.infolist()) > MAX_ENTRIES:
            raise DocumentError("zip_bomb", f"{len(archive.infolist())} entries")
        document = _xml(archive, "word/document.xml")
        if document is None:
            raise DocumentError("not_docx", "no word/document.xml")
        numbering = _Numbering(_xml(archive, "word/numbering.xml"), _xml(archive, "word/styles.xml"))
    body = document.find(f"{W}body")
    if body is None:
        raise DocumentError("not_docx", "no document body")
    return "\n".join(_block_lines(body, numbering))


def _xml(archive, name):
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.flag_bits & 0x1:
        raise DocumentError("old_word", "encrypted entry")
    if info.file_size > MAX_PART_BYTES or info.file_size > MAX_RATIO * max(info.compress_size, 1) + 1024 * 1024:
        raise DocumentError("zip_bomb", f"{name}: {info.file_size} bytes unpacked from {info.compress_size}")
    chunks, size = [], 0
    try:
        with archive.open(info) as part:  # zipfile stops at the declared size and checks the CRC
            while chunk := part.read(_READ_CHUNK):
                size += len(chunk)
                if size > MAX_PART_BYTES:
                    raise DocumentError("zip_bomb", f"{name} is larger than declared")
                chunks.append(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError) as error:
        raise DocumentError("not_docx", f"{name}: {error}") from None
    try:
        return fromstring(b"".join(chunks), forbid_dtd=True)
    except (ParseError, DefusedXmlException) as error:
        raise DocumentError("bad_xml", f"{name}: {error}") from None


def _block_lines(container, numbering):
    """Yield the lines of body-level content in order: paragraphs, table cells, content controls."""
    for child in container:
        if child.tag == f"{W}p":
            text = _paragraph_text(child)
            prefix = numbering.prefix(child)
            if text.strip() or prefix:
                yield from (prefix + text).split("\n")
        elif child.tag == f"{W}tbl":
            for row in child.iter(f"{W}tr"):
                for cell in row.iter(f"{W}tc"):
                    yield from _block_lines(cell, numbering)
        elif child.tag in (f"{W}sdt", f"{W}sdtContent", f"{W}customXml", f"{W}ins", f"{W}smartTag"):
            yield from _block_lines(child, numbering)


_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
# Deleted text of tracked changes, formatting, field codes, and the second copy of a text box.
_SKIPPED = {f"{W}{name}" for name in ("del", "moveFrom", "pPr", "rPr", "instrText", "delText", "footnoteReference")}
_SKIPPED.add(f"{_MC}Fallback")


def _paragraph_text(paragraph):
    parts = []

    def walk(element):
        for child in element:
            tag = child.tag
            if tag in _SKIPPED:
                continue
            if tag == f"{W}t":
                parts.append(child.text or "")
            elif tag == f"{W}tab":
                parts.append("\t")
            elif tag in (f"{W}br", f"{W}cr"):
                parts.append("\n")
            elif tag == f"{W}noBreakHyphen":
                parts.append("-")
            else:
                walk(child)

    walk(paragraph)
    return "".join(parts)


# -- automatic numbering ---------------------------------------------------------------------------

_ROMAN = ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l"), (40, "xl"),
          (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"))  # fmt: skip
_HEAVENLY_STEMS = "甲乙丙丁戊己庚辛壬癸"


def _roman(n):
    out = ""
    for value, letters in _ROMAN:
        while n >= value:
            out, n = out + letters, n - value
    return out


def _format_number(n, fmt):
    if fmt in ("chineseCounting", "chineseCountingThousand", "chineseLegalSimplified", "japaneseCounting",
               "taiwaneseCounting", "taiwaneseCountingThousand", "ideographLegalTraditional"):  # fmt: skip
        return chinese_number(n)
    if fmt == "ideographTraditional":
        return _HEAVENLY_STEMS[(n - 1) % 10]
    if fmt == "decimalFullWidth":
        return str(n).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    if fmt == "decimalEnclosedCircle" and 1 <= n <= 20:
        return chr(0x2460 + n - 1)
    if fmt in ("lowerLetter", "upperLetter"):
        letter = chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)
        return letter.upper() if fmt == "upperLetter" else letter
    if fmt in ("lowerRoman", "upperRoman"):
        return _roman(n).upper() if fmt == "upperRoman" else _roman(n)
    if fmt in ("bullet", "none"):
        return ""
    return str(n)


def _val(element, path):
    found = element.find(path) if element is not None else None
    return found.get(f"{W}val") if found is not None else None


def _int(value, default):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class _Numbering:
    """Word's list numbering (numbering.xml), counted paragraph by paragraph as Word counts it."""

    def __init__(self, numbering, styles):
        self.levels = {}  # numId -> {ilvl: (format, text, start, suffix)}
        self.style_numbering = {}  # styleId -> (numId, ilvl)
        self.counters = {}  # numId -> {ilvl: current value}
        if numbering is not None:
            abstract = {a.get(f"{W}abstractNumId"): self._levels(a) for a in numbering.findall(f"{W}abstractNum")}
            for num in numbering.findall(f"{W}num"):
                levels = dict(abstract.get(_val(num, f"{W}abstractNumId"), {}))
                for override in num.findall(f"{W}lvlOverride"):
                    ilvl = _int(override.get(f"{W}ilvl"), 0)
                    start = _val(override, f"{W}startOverride")
                    if start is not None and ilvl in levels:
                        levels[ilvl] = (*levels[ilvl][:2], _int(start, 1), levels[ilvl][3])
                self.levels[num.get(f"{W}numId")] = levels
        if styles is not None:
            self._read_styles(styles)

    @staticmethod
    def _levels(abstract_num):
        levels = {}
        for lvl in abstract_num.findall(f"{W}lvl"):
            levels[_int(lvl.get(f"{W}ilvl"), 0)] = (
                _val(lvl, f"{W}numFmt") or "decimal",
                _val(lvl, f"{W}lvlText") or "",
                _int(_val(lvl, f"{W}start"), 1),
                _val(lvl, f"{W}suff") or "tab",
            )
        return levels

    def _read_styles(self, styles):
        raw = {}
        for style in styles.findall(f"{W}style"):
            ppr = style.find(f"{W}pPr")
            raw[style.get(f"{W}styleId")] = (
                _val(ppr, f"{W}numPr/{W}numId"),
                _val(ppr, f"{W}numPr/{W}ilvl"),
                _val(style, f"{W}basedOn"),
            )
        for style_id in raw:
            seen, current = set(), style_id
            while current in raw and current not in seen:  # follow basedOn, guarding against loops
                seen.add(current)
                num_id, ilvl, based_on = raw[current]
                if num_id is not None:
                    self.style_numbering[style_id] = (num_id, _int(ilvl, 0))
                    break
                current = based_on

    def prefix(self, paragraph):
        """Advance the paragraph's list counter and return its rendered number ('第三条 '), or ''."""
        ppr = paragraph.find(f"{W}pPr")
        num_id, ilvl = _val(ppr, f"{W}numPr/{W}numId"), _val(ppr, f"{W}numPr/{W}ilvl")
        if num_id is None:
            num_id, style_ilvl = self.style_numbering.get(_val(ppr, f"{W}pStyle"), (None, 0))
            ilvl = ilvl if ilvl is not None else style_ilvl
        levels = self.levels.get(num_id)
        ilvl = _int(ilvl, 0)
        if not levels or ilvl not in levels:
            return ""  # numId 0 switches numbering off
        counters = self.counters.setdefault(num_id, {})
        counters[ilvl] = counters.get(ilvl, levels[ilvl][2] - 1) + 1
        for deeper in [level for level in counters if level > ilvl]:
            del counters[deeper]
        fmt, text, _start, suffix = levels[ilvl]
        if fmt in ("bullet", "none"):
            return ""

        def number(match):
            level = int(match[1]) - 1
            value = counters.get(level, levels.get(level, ("decimal", "", 1, ""))[2])
            return _format_number(value, levels.get(level, (fmt,))[0])

        rendered = re.sub(r"%([1-9])", number, text)
        return rendered + {"tab": " ", "space": " "}.get(suffix, "") if rendered else ""
