"""Mask personal data typed into free text before anything is published (PIPL; DOMAIN.md D, E).

Residents write phone numbers, ID numbers and e-mail addresses into their opinions ("请联系我
13812345678"). Whatever shows an opinion or a reply to anyone but the organizers (the tracking
page, exports, the big screen) passes the text through ``mask_personal_data``; a contact phone
kept apart from the text goes through ``mask_phone``. Pure functions: no Flask, no database.

What is masked, and how it reads afterwards:

========================  =========================  ==========================
kind                      written                    shown
========================  =========================  ==========================
mobile (with +86/0086)    13812345678, 138-1234-5678 138****5678, 138-****-5678
landline (area code)      021-65432100, (010)6543210 021-****2100, (010)***3210
local number after 电话   电话：62345678             电话：****5678
ID number (18 or 15)      11010119900101123X         110***********123X
other runs of 15+ digits    6222021234567890123        622************0123
e-mail                    zhang.san@example.com      z********@example.com
QQ / 微信 after its name  QQ：12345678, 微信 wx_abc1  QQ：12****78, 微信 wx***c1
========================  =========================  ==========================

Numbers people write about laws are left alone: article numbers, dates (20240910), amounts
(13800000000元), postal codes, standard numbers (GB 50016-2014), times and percentages. Full-width
digits (１３８…) are recognised too, and the text keeps its own characters where nothing is
masked. Masking is idempotent: masked text masks to itself.
"""

import re

STAR = "*"

# Full-width ASCII (ＦＦ01-ＦＦ5Ｅ) folds one to one onto ASCII, so positions in the folded copy are
# positions in the original text: matches are found in the copy and starred in the original.
_FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20, 0xFF08: 0x28, 0xFF09: 0x29}
_ASCII_DIGIT = re.compile(r"[0-9]")

# Patterns that start with look-behinds first look ahead at the one character a match can start with: re then
# skips most positions at once (a third of the time over 6,000 opinions with numbers in them).
# A number is standalone when no digit touches it: "第12条" has no phone in it, nor has "2013812345678".
_UNITS = r"(?:元|圆|块|角|万|亿|千|百|%|‰|米|克|斤|吨|亩|平方|公里|人|户|个|件|次|年|月|日|号|条|款|项)"
_MOBILE = re.compile(
    r"(?=[+0-9])(?<![0-9])(?<![¥$￥.])"
    r"(?P<cc>(?:\+|00)?86[ -]?)?"
    r"(?P<number>1[3-9][0-9](?:[ -]?[0-9]{4}){2})"
    rf"(?![0-9])(?!\s*{_UNITS})"
)
_LANDLINE = re.compile(
    r"(?<![0-9])(?<![¥$.])"
    r"(?P<area>\((?:0[12][0-9]|0[3-9][0-9]{2})\)|0[12][0-9]|0[3-9][0-9]{2})"  # 010, 02x; else four digits
    r"(?P<sep>[ -]?)"
    r"(?P<local>[1-9][0-9]{6,7})"
    r"(?![0-9])"
)
# A bare 7 or 8 digit number is only a phone number when it says so: "电话：62345678".
_LOCAL_AFTER_WORD = re.compile(
    r"(?=[联电座固手号TtPp])"
    r"(?P<word>(?:联系)?(?:电话|座机|固话|手机|号码)(?:号码?)?|[Tt][Ee][Ll]\.?|[Pp]hone)[ :：是为]*"
    r"(?P<local>[0-9]{7,8})(?![0-9])"
)
_ID = re.compile(r"(?=[0-9])(?<![0-9A-Za-z])(?P<number>[0-9]{6} ?[0-9]{8} ?[0-9]{3}[0-9Xx])(?![0-9A-Za-z])")
_LONG_NUMBER = re.compile(r"(?<![0-9.])(?P<number>[0-9]{15,})(?![0-9])(?!\.[0-9])")
_EMAIL = re.compile(
    r"(?=[A-Za-z0-9])(?<![A-Za-z0-9._%+-])(?P<local>[A-Za-z0-9][A-Za-z0-9._%+-]*)@(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
)
_MESSENGER = re.compile(
    r"(?=[Qq扣微WwVv])(?<![A-Za-z])(?P<word>[Qq][Qq]|扣扣|微信|[Ww]e[Cc]hat|[Vv][Xx]|[Ww][Xx])(?:号码?)?[ :：是为]*"
    r"(?P<id>[A-Za-z0-9][A-Za-z0-9_-]{4,19})(?![A-Za-z0-9_-])"
)


# Most opinions hold no number of five digits, no @ and no messenger's name: they skip the rest.
_MAYBE = re.compile(
    r"[@＠]|[0-9０-９](?:[ \-－()（）]?[0-9０-９]){4}|[QqＱｑ]{2}|扣扣|微信|[Ww]e[Cc]hat|[VvWwＶｖＷｗ][XxＸｘ]"
)
# The first character of every _MAYBE match, as one character class: searching for it costs a tenth of
# _MAYBE's alternation on Chinese text (1 us against 10 us for 160 characters), which is most of the
# cost of exporting 300,000 opinions. Keep the two in step.
_MAYBE_START = re.compile(r"[@＠0-9０-９QqＱｑ扣微WwVvＷｗＶｖ]")


def mask_personal_data(text):
    """Return ``text`` with phone, ID and account numbers and e-mail addresses masked.

    ``None`` and the empty string come back as they are, so callers can pass optional fields.
    """
    if not text or not _MAYBE_START.search(text) or not _MAYBE.search(text):
        return text
    folded = text.translate(_FOLD)
    chars = list(folded)
    hidden = []  # positions of the characters to star
    for find in _FINDERS:
        found = [i for start, end in find(folded) for i in range(start, end) if chars[i] != STAR]
        if found:
            for i in found:
                chars[i] = STAR
            hidden += found
            # Later finders see the stars: a phone inside an ID number is not masked a second way.
            folded = "".join(chars)
    if not hidden:
        return text
    masked = list(text)
    for i in hidden:
        masked[i] = STAR
    return "".join(masked)


def mask_phone(phone):
    """Mask a contact phone number kept apart from the text: ``13812345678`` -> ``138****5678``.

    Mobile numbers keep their first three and last four digits (and a +86 prefix); other
    numbers of eight digits or more keep the first three and the last four, shorter ones the
    last two. ``None`` or an empty value gives "".
    """
    if not phone:
        return ""
    value = str(phone).strip().translate(_FOLD)
    plus = "+" if value.startswith("+") else ""
    digits = "".join(_ASCII_DIGIT.findall(value))
    if not digits:
        return STAR * len(value)
    prefix = ""
    for country in ("0086", "86"):
        rest = digits[len(country) :]
        if digits.startswith(country) and len(rest) == 11 and rest[0] == "1":
            prefix, digits = plus + country, rest
            break
    else:
        prefix = plus
    if len(digits) >= 8:
        return prefix + digits[:3] + STAR * (len(digits) - 7) + digits[-4:]
    return prefix + STAR * max(len(digits) - 2, 0) + digits[-2:]


# -- finders: each yields (start, end) spans of characters to star ------------------------------


def _keep_ends(text, start, end, first, last):
    """Star the digits of text[start:end] except the first ``first`` and the last ``last``."""
    digits = [i for i in range(start, end) if text[i] in "0123456789Xx"]
    for i in digits[first : len(digits) - last]:
        yield i, i + 1


def _ids(text):
    for match in _ID.finditer(text):
        yield from _keep_ends(text, *match.span("number"), 3, 4)


def _long_numbers(text):
    for match in _LONG_NUMBER.finditer(text):
        yield from _keep_ends(text, *match.span("number"), 3, 4)


def _mobiles(text):
    for match in _MOBILE.finditer(text):
        yield from _keep_ends(text, *match.span("number"), 3, 4)


def _landlines(text):
    for match in _LANDLINE.finditer(text):
        yield from _keep_ends(text, *match.span("local"), 0, 4)


def _local_numbers(text):
    for match in _LOCAL_AFTER_WORD.finditer(text):
        yield from _keep_ends(text, *match.span("local"), 0, 4)


def _emails(text):
    for match in _EMAIL.finditer(text):
        start, end = match.span("local")
        if end - start > 1:
            yield start + 1, end
        else:
            yield start, end


def _messengers(text):
    for match in _MESSENGER.finditer(text):
        start, end = match.span("id")
        keep = 2 if end - start >= 7 else 1
        yield start + keep, end - keep


# In this order: an ID number is masked as one, not as a phone number inside it.
_FINDERS = (_ids, _long_numbers, _mobiles, _landlines, _local_numbers, _emails, _messengers)
