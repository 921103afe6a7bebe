"""Every page's structure, read as a screen reader would: language, headings, labels, names, live regions.
And every template's words go through _() so that both languages are complete."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# Attributes whose text people read or hear.
TEXT_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "aria-description", "value", "content"}
LETTER = re.compile(r"[^\W\d_]")


# -- templates: no text outside _() -----------------------------------------------------------


class LiteralText(HTMLParser):
    """Collect the text and text attributes that a template writes literally."""

    def __init__(self):
        super().__init__()
        self.found = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1
        for name, value in attrs:
            # A text field's value and a meta tag's content are data, not words on the page.
            data = (tag, name) in (("input", "value"), ("meta", "content"))
            if name in TEXT_ATTRIBUTES and value and LETTER.search(value) and not data:
                self.found.append(f'{tag} {name}="{value}"')

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip and LETTER.search(data):
            self.found.append(data.strip())


def without_jinja(source):
    """Blank out Jinja statements, expressions and comments, keeping the markup around them."""
    source = re.sub(r"\{% block body_class %\}.*?\{% endblock %\}", "", source)  # a class name, not text
    return re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", "", source, flags=re.S)


@pytest.mark.parametrize("template", sorted(p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.html")))
def test_every_word_in_a_template_is_translatable(template):
    parser = LiteralText()
    parser.feed(without_jinja((TEMPLATES / template).read_text(encoding="utf-8")))
    assert parser.found == [], 'wrap in {{ _("...") }}: ' + " | ".join(parser.found)


def test_the_literal_text_check_finds_literal_text():
    parser = LiteralText()
    parser.feed(without_jinja('<p>{{ _("Fine") }}</p><p>应到</p><input placeholder="Reason"><b>{{ x }}</b>'))
    assert parser.found == ["应到", 'input placeholder="Reason"']


# -- rendered pages ----------------------------------------------------------------------------


class Outline(HTMLParser):
    """Read a page's landmarks, headings, controls and their names."""

    def __init__(self):
        super().__init__()
        self.stack = []  # (tag, attrs) of open elements
        self.html_lang = None
        self.headings = []
        self.ids = []
        self.labels_for = set()
        self.controls = []  # (tag, attrs, inside_label)
        self.buttons = []  # [attrs, text]
        self.links = []
        self.live = []
        self.forms_in_paragraphs = 0
        self.svgs = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.html_lang = attrs.get("lang")
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "label" and attrs.get("for"):
            self.labels_for.add(attrs["for"])
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag in ("input", "select", "textarea") and attrs.get("type") not in ("hidden", "submit", "button"):
            self.controls.append((tag, attrs, any(t == "label" for t, _ in self.stack)))
        if tag == "form" and any(t == "p" for t, _ in self.stack):
            self.forms_in_paragraphs += 1
        if attrs.get("aria-live") or attrs.get("role") in ("status", "alert"):
            self.live.append(attrs)
        if tag == "svg":
            self.svgs.append(attrs)
        if tag == "button":
            self.buttons.append([attrs, ""])
        if tag == "a":
            self.links.append([attrs, ""])
        if tag not in VOID:
            self.stack.append((tag, attrs))

    def handle_endtag(self, tag):
        while self.stack:
            open_tag, _ = self.stack.pop()
            if open_tag == tag:
                break

    def handle_data(self, data):
        open_tags = [t for t, _ in self.stack]
        if "button" in open_tags and self.buttons:
            self.buttons[-1][1] += data
        if "a" in open_tags and self.links:
            self.links[-1][1] += data


def check_page(html):
    """Return the accessibility problems of one page."""
    page = Outline()
    page.feed(html)
    problems = []
    if page.html_lang not in ("zh-CN", "en"):
        problems.append(f"html lang is {page.html_lang!r}")
    if page.headings.count(1) != 1:
        problems.append(f"{page.headings.count(1)} h1 headings")
    for before, after in zip(page.headings, page.headings[1:], strict=False):
        if after > before + 1:
            problems.append(f"heading h{before} is followed by h{after}")
    duplicates = {i for i in page.ids if page.ids.count(i) > 1}
    if duplicates:
        problems.append(f"duplicate ids {sorted(duplicates)}")
    for tag, attrs, inside_label in page.controls:
        named = (
            inside_label
            or attrs.get("id") in page.labels_for
            or attrs.get("aria-label")
            or attrs.get("aria-labelledby")
        )
        if not named:
            problems.append(f"{tag} {attrs.get('name')} has no label")
    for attrs, text in page.buttons:
        if not text.strip() and not attrs.get("aria-label"):
            problems.append("a button without a name")
    for attrs, text in page.links:
        if not text.strip() and not attrs.get("aria-label"):
            problems.append(f"a link without a name: {attrs.get('href')}")
    for attrs in page.svgs:
        if not (attrs.get("aria-hidden") == "true" or (attrs.get("role") == "img" and attrs.get("aria-label"))):
            problems.append("an SVG without a name that is not hidden")
    if page.forms_in_paragraphs:
        problems.append("a form inside a <p> (browsers close the paragraph before it)")
    return problems, page


def test_the_page_check_finds_problems():
    problems, _ = check_page(
        '<html><h1>a</h1><h3>b</h3><p><form><input name="q"><button></button></form></p>'
        '<svg></svg><a href="/x"></a><i id="d"></i><i id="d"></i></html>'
    )
    assert len(problems) == 8, problems


def staff_pages(site):
    meeting = site.meeting.id
    return [
        "/meetings",
        "/meetings/new",
        f"/meetings/{meeting}",
        f"/meetings/{site.planned.id}",
        f"/meetings/{meeting}/screen",
        f"/meetings/{site.planned.id}/screen",
        "/deputies",
        "/deputies/new",
        f"/deputies/{site.deputies[1].id}",
        "/deputies/import",
        "/deputies/cards",
        "/audit",
        "/admin/users",
        "/account/password",
        "/meetings/404404",
    ]


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_every_staff_page_reads_well(signed_in, site, language):
    staff = signed_in(site.admin)
    staff.set_cookie("lang", language)
    for path in staff_pages(site):
        response = staff.get(path)
        problems, _ = check_page(response.text)
        assert problems == [], (path, problems)


def test_the_forms_that_answer_with_errors_read_well(signed_in, site, browser):
    staff = signed_in(site.admin)
    responses = {
        "login": browser().post("/login", data={"username": "x", "password": "y"}),
        "empty login": browser().post("/login", data={}),
        "new meeting": staff.post("/meetings/new", data={"title": ""}),
        "deputy": staff.post("/deputies/new", data={"number": "=1"}),
        "import": staff.post("/deputies/import", data={}, content_type="multipart/form-data"),
        "card": staff.post(f"/deputies/{site.deputies[3].id}/activation-code"),
    }
    for name, response in responses.items():
        problems, page = check_page(response.text)
        assert problems == [], (name, problems)
        if response.status_code >= 400:
            assert any(a.get("role") == "alert" for a in page.live), f"{name}: the error is announced"


def test_every_phone_page_reads_well(site, browser):
    pages = {
        "activation": browser().get(f"/a/{site.card_code}"),
        "typed code": browser().get("/a"),
        "unbound me": browser().get("/me"),
        "me": site.phone.get("/me"),
        "unbound scan": browser().get(f"/c/{site.scan_code}"),
        "bad code": site.phone.get("/c/1-2-3-x"),
    }
    scan = site.phone.get(f"/c/{site.scan_code}")
    pages["scan"] = scan
    ticket = re.search(r'name="ticket" value="([^"]+)"', scan.text).group(1)
    pages["signed in"] = site.phone.post(f"/c/{site.scan_code}", data={"ticket": ticket})
    pages["already"] = site.phone.get(f"/c/{site.scan_code}")
    for name, response in pages.items():
        problems, page = check_page(response.text)
        assert problems == [], (name, problems)
        if name in ("unbound scan", "bad code", "signed in", "already"):
            assert page.live, f"{name}: the outcome is announced"


def test_live_counts_are_polite(signed_in, site):
    staff = signed_in(site.admin)
    for path in (f"/meetings/{site.meeting.id}", f"/meetings/{site.meeting.id}/screen"):
        _, page = check_page(staff.get(path).text)
        assert any(a.get("aria-live") == "polite" and "counts" in a.get("class", "") for a in page.live), path
