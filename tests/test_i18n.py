"""Chinese first: every user-facing string is in the zh_CN catalog and translated."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "voting/translations/zh/LC_MESSAGES/messages.po"
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w+\}")


def _catalog():
    with CATALOG.open("rb") as f:
        return read_po(f)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """Extract the messages the code uses now, as `make extract-messages` does."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_l",
         "-k", "lazy_gettext", "-k", "lazy_ngettext:1,2", "-o", str(pot), "--no-location", "."],
        cwd=ROOT, check=True,
    )
    with pot.open("rb") as f:
        return read_po(f)


def test_every_message_in_the_code_is_in_the_chinese_catalog(extracted):
    known = {m.id for m in _catalog() if m.id}
    missing = sorted(str(m.id) for m in extracted if m.id and m.id not in known)
    assert missing == [], "run `make extract-messages` and translate: " + "; ".join(missing[:20])


def test_every_chinese_message_is_translated():
    untranslated = [m.id for m in _catalog() if m.id and not all(_texts(m.string))]
    assert untranslated == []


def _texts(value):
    return value if isinstance(value, tuple) else (value,)


def test_translations_keep_their_placeholders():
    wrong = [
        m.id
        for m in _catalog()
        if m.id
        for translated in _texts(m.string)
        if sorted(set(PLACEHOLDER.findall(_texts(m.id)[-1]))) != sorted(set(PLACEHOLDER.findall(translated)))
    ]
    assert wrong == []


def test_pages_default_to_chinese_and_switch_to_english(client):
    page = client.get("/login")
    assert 'lang="zh-CN"' in page.get_data(as_text=True)
    zh_title = _catalog().get("Staff sign-in").string
    assert zh_title and zh_title in page.get_data(as_text=True)
    english = client.get("/login?lang=en").get_data(as_text=True)
    assert 'lang="en"' in english and "Staff sign-in" in english
    assert "Staff sign-in" in client.get("/login").get_data(as_text=True), "the choice is remembered"
