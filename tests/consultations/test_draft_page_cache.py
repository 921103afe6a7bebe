"""The resident's article page keeps the draft's rendered text per worker: the same page, rendered once.

A published draft's text cannot change, so what is kept depends only on the draft, the language,
whether it is open for comment and whether a poster's code rides along; the code itself is put
into the links on every request.
"""

import re
from pathlib import Path

import pytest

from voting.consultations import operations as ops
from voting.consultations import public_views
from voting.errors import Conflict
from voting.extensions import db

DRAFTS = Path(__file__).parent / "drafts"


@pytest.fixture(autouse=True)
def empty_cache():
    public_views._DRAFT_TEXTS.clear()
    yield
    public_views._DRAFT_TEXTS.clear()


@pytest.fixture
def published(app, organizer):
    draft, _ = ops.create_draft(organizer, (DRAFTS / "03_measures_with_sections.txt").read_text(encoding="utf-8"))
    ops.publish_draft(organizer, draft)
    db.session.commit()
    return draft


@pytest.fixture
def renders(monkeypatch):
    """Count how often the draft's outline is built (once per rendering of its text)."""
    calls = []
    outline = public_views._outline

    def counted(draft):
        calls.append(draft.id)
        return outline(draft)

    monkeypatch.setattr(public_views, "_outline", counted)
    return calls


def comment_links(page):
    return re.findall(r'class="button secondary consult-say" href="([^"]+)"', page)


def test_the_text_is_rendered_once_and_the_page_stays_the_same(client, published, renders):
    first = client.get(f"/c/drafts/{published.id}").get_data(as_text=True)
    again = client.get(f"/c/drafts/{published.id}").get_data(as_text=True)
    assert first == again and renders == [published.id]
    links = comment_links(first)
    assert len(links) == len(published.articles) and all("p=" not in link for link in links)
    for article in published.articles:
        assert f'<section id="a{article.id}">' in first and article.paragraphs[0] in first


def test_each_poster_code_goes_into_its_own_links(client, organizer, published, renders):
    district = ops.create_contact_point(organizer, "区联系点", "district")
    point = ops.create_contact_point(organizer, "街道联系点", "point", district)
    db.session.commit()
    pages = {code: client.get(f"/c/drafts/{published.id}?p={code.lower()}").get_data(as_text=True)
             for code in (district.code, point.code, "FORGED99")}  # fmt: skip
    assert renders == [published.id]  # one rendering serves every code
    for code, page in pages.items():
        links = comment_links(page)
        assert len(links) == len(published.articles) and all(link.endswith(f"&amp;p={code}") for link in links)
        assert public_views._POSTER_SLOT not in page
        assert all(other not in page for other in pages if other != code)
    hostile = client.get(f'/c/drafts/{published.id}?p="><script>alert(1)</script>').get_data(as_text=True)
    assert "<script>alert" not in hostile  # folded to letters and digits, cut to 16
    assert all(link.endswith("&amp;p=SCRIPTALERT1SCRI") for link in comment_links(hostile))


def test_closing_the_draft_and_the_language_change_what_is_shown(client, organizer, published, renders):
    open_page = client.get(f"/c/drafts/{published.id}").get_data(as_text=True)
    english = client.get(f"/c/drafts/{published.id}?lang=en").get_data(as_text=True)
    assert ">提意见</a>" in open_page and ">Comment</a>" in english and "Contents (" in english
    ops.close_draft(organizer, published)
    db.session.commit()
    closed = client.get(f"/c/drafts/{published.id}").get_data(as_text=True)
    assert comment_links(closed) == [] and published.articles[0].paragraphs[0] in closed
    assert len(renders) == 3


def test_a_published_text_cannot_change_under_the_kept_page(organizer, published):
    """What the cache relies on: the text and structure are fixed once the draft is published."""
    for change in ({"text": "某规定\n第一条 改了。"}, {"title": "新标题"}, {"explanation": "新说明"},
                   {"structure": ops.structure_of(published).to_dict()}):  # fmt: skip
        with pytest.raises(Conflict):
            ops.update_draft(organizer, published, **change)


def test_the_kept_texts_are_bounded(client, published, monkeypatch):
    monkeypatch.setattr(public_views, "DRAFT_TEXTS_KEPT", 2)
    for query in ("", "?lang=en", "?p=ABC", "?p=ABC&lang=en"):
        assert client.get(f"/c/drafts/{published.id}{query}").status_code == 200
    assert len(public_views._DRAFT_TEXTS) == 2
