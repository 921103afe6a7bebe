"""The organizer's ballot pages: create, edit a draft, open with a quorum, close after asking, results,
ties and re-votes, the chart and its text, and the page-level safety rules (CSRF, roles, GET, escaping)."""

import importlib.util
import json
import re
from functools import partial
from pathlib import Path

import pytest
from flask import url_for
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from voting.audit.models import AuditEntry
from voting.ballots import operations
from voting.ballots.models import Ballot
from voting.extensions import db

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def _load_check_page():
    """The accessibility check of tests/web (headings, labels, names, SVGs), reused for these pages."""
    spec = importlib.util.spec_from_file_location("_web_a11y", ROOT / "tests/web/test_accessibility.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.check_page


check_page = _load_check_page()


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    monkeypatch.setattr(
        "voting.accounts.models.generate_password_hash", partial(generate_password_hash, method="pbkdf2:sha256:1000")
    )


@pytest.fixture
def signed_in(app, login):
    """A browser signed in as ``user``, reading English (so a better Chinese wording breaks no test)."""

    def make(user):
        client = app.test_client()
        client.set_cookie("lang", "en")
        login(user, target=client)
        return client

    return make


@pytest.fixture
def staff(signed_in, organizer):
    return signed_in(organizer)


@pytest.fixture
def meeting(make_deputies, make_meeting):
    """A meeting of six expected deputies, sign-in open, nobody signed in yet."""
    make_deputies(6)
    return make_meeting()


@pytest.fixture
def db_dump(app):
    """Every committed row of every table, read on a connection of its own."""

    def dump():
        tables = {}
        with db.engine.connect() as connection:
            for table in db.metadata.sorted_tables:
                columns = [c for c in table.columns if (table.name, c.name) != ("user_session", "last_seen_at")]
                rows = connection.execute(select(*columns).order_by(*table.primary_key.columns)).all()
                tables[table.name] = [tuple(repr(v) for v in row) for row in rows]
        return tables

    return dump


def ballot_count():
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Ballot))


def audit_actions():
    db.session.expire_all()
    return db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()


def reload(ballot_id):
    db.session.expire_all()
    return db.session.get(Ballot, ballot_id)


def make_ballot(
    meeting, organizer, title="测试表决", form="per_item", items=("项目甲", "项目乙", "项目丙"), **settings
):
    ballot = operations.create_ballot(organizer, meeting, title, form, list(items), **settings)
    db.session.commit()
    return ballot


def vote(client, ballot, phone, choices):
    response = client.post(f"/api/v1/ballots/{ballot.id}/votes", json={"choices": choices}, headers=phone)
    assert response.status_code == 200, response.json
    return response.json


def form_data(**overrides):
    data = {
        "title": "2027年区民生实事项目票决",
        "kind": "per_item",
        "items": "老旧小区加装电梯\n社区食堂\n口袋公园",
        "places": "",
        "secret": "secret",
        "submission": "first",
        "results": "after_close",
        "countdown_minutes": "",
        "base": "expected",
        "threshold": "half",
        "numerator": "",
        "denominator": "",
        "comparison": "more",
    }
    data.update(overrides)
    return data


def checked_radios(html):
    """Which radio button of each group is checked: {name: value}."""
    inputs = re.findall(r"<input [^>]*>", html)
    return {
        re.search(r'name="(\w+)"', i).group(1): re.search(r'value="(\w+)"', i).group(1)
        for i in inputs
        if 'type="radio"' in i and " checked" in i
    }


def text_of(html):
    """The page's words with tags removed and whitespace collapsed, as a reader sees them."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# -- creating --------------------------------------------------------------------------------------


def test_the_new_ballot_page_explains_every_setting_and_starts_from_the_defaults(staff, meeting):
    response = staff.get(f"/meetings/{meeting.id}/ballots/new")
    assert response.status_code == 200
    html = response.text
    checked = checked_radios(html)
    assert checked == {
        "kind": "per_item",
        "secret": "secret",
        "submission": "first",
        "results": "after_close",
        "base": "expected",
        "threshold": "half",
        "comparison": "more",
    }
    for words in (
        "nobody, not even the staff, can see who voted how",
        "The first submission is final",
        "Shown only after the ballot closes",
        "numbering such as",
        "A ballot paper with more ticks is void",
        "more than half of all expected deputies",
        "Leave empty to close by hand.",
    ):
        assert words in html, words
    assert check_page(html)[0] == []


@pytest.mark.parametrize(
    "overrides, expected",
    [
        pytest.param(
            {},
            {"form": "per_item", "places": None, "items": ["老旧小区加装电梯", "社区食堂", "口袋公园"]},
            id="per-item",
        ),
        pytest.param(
            {"kind": "choose", "places": "2", "items": "1、甲\n(2) 乙\n- 丙\n\n\u3000 4. 2024年项目\n"},
            {"form": "choose", "places": 2, "items": ["甲", "乙", "丙", "2024年项目"]},
            id="choose-pasted-list",
        ),
        pytest.param(
            {"kind": "rating", "items": "区教育局局长\n区卫健委主任", "places": "3"},
            {"form": "rating", "places": None, "items": ["区教育局局长", "区卫健委主任"]},
            id="rating-ignores-places",
        ),
        pytest.param(
            {
                "secret": "named",
                "submission": "last",
                "results": "live",
                "countdown_minutes": "1.5",
                "base": "present",
                "threshold": "two_thirds",
            },
            {
                "secret": False,
                "last_submission_counts": True,
                "results_live": True,
                "countdown_seconds": 90,
                "threshold_base": "present",
                "threshold_numerator": 2,
                "threshold_denominator": 3,
                "threshold_strict": False,
            },
            id="every-setting-changed",
        ),
        pytest.param(
            {"base": "cast", "threshold": "custom", "numerator": "3", "denominator": "5", "comparison": "at_least"},
            {"threshold_base": "cast", "threshold_numerator": 3, "threshold_denominator": 5, "threshold_strict": False},
            id="custom-fraction",
        ),
    ],
)
def test_creating_a_ballot(staff, meeting, overrides, expected):
    response = staff.post(f"/meetings/{meeting.id}/ballots/new", data=form_data(**overrides))
    assert response.status_code == 302, text_of(response.text)
    ballot = db.session.scalars(select(Ballot)).one()
    assert response.headers["Location"].endswith(f"/ballots/{ballot.id}")
    defaults = {
        "title": "2027年区民生实事项目票决",
        "state": "draft",
        "secret": True,
        "last_submission_counts": False,
        "results_live": False,
        "countdown_seconds": None,
        "threshold_base": "expected",
        "threshold_numerator": 1,
        "threshold_denominator": 2,
        "threshold_strict": True,
    }
    for name, value in {**defaults, **expected}.items():
        actual = [i.title for i in ballot.items] if name == "items" else getattr(ballot, name)
        assert actual == value, name
    assert audit_actions()[-1] == "ballot.create"
    page = staff.get(response.headers["Location"])
    assert "Ballot created as a draft." in page.text


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"title": "  "}, "title", "Give the ballot a title."),
        ({"title": "x" * 201}, "title", "A title can have at most 200 characters."),
        ({"items": "\n \n"}, "items", "List at least one item, one a line."),
        ({"items": "甲\n乙\n甲"}, "items", "Item 3 repeats item 1: 甲."),
        ({"items": "甲\n" + "乙" * 201}, "items", "Item 2 is longer than 200 characters."),
        (
            {"items": "\n".join(f"项目{i}" for i in range(101))},
            "items",
            "A ballot needs 1 to 100 items; this one has 101.",
        ),
        ({"kind": "choose"}, "places", "Say how many candidates each deputy may choose."),
        (
            {"kind": "choose", "places": "4"},
            "places",
            "The number of places must be between 1 and the number of candidates (3).",
        ),
        ({"kind": "choose", "places": "0"}, "places", "The number of places must be at least 1."),
        ({"kind": "choose", "places": "two"}, "places", "Not a valid integer value."),
        ({"kind": "ballot-box"}, "kind", "Not a valid choice."),
        ({"threshold": "custom"}, "numerator", "Enter the fraction, e.g. 3 and 5 for three fifths."),
        (
            {"threshold": "custom", "numerator": "4", "denominator": "3"},
            "numerator",
            "The adoption rule must be a fraction between 0 and 1",
        ),
        ({"threshold": "custom", "numerator": "1", "denominator": "101"}, "denominator", "from 1 to 100"),
        ({"countdown_minutes": "0.1"}, "countdown_minutes", "A countdown must be between 10 seconds and 24 hours."),
        ({"countdown_minutes": "1441"}, "countdown_minutes", "A countdown must be between 10 seconds and 24 hours."),
        ({"countdown_minutes": "NaN"}, "countdown_minutes", "Enter the countdown as a number of minutes"),
        ({"countdown_minutes": "-5"}, "countdown_minutes", "Enter the countdown as a number of minutes"),
        ({"countdown_minutes": "soon"}, "countdown_minutes", "Not a valid decimal value."),
    ],
)
def test_a_bad_form_creates_nothing_and_says_why_next_to_the_field(staff, meeting, db_dump, overrides, field, message):
    before = db_dump()
    response = staff.post(f"/meetings/{meeting.id}/ballots/new", data=form_data(**overrides))
    assert response.status_code == 400
    html = response.text
    error = re.search(rf'<p class="error" id="{field}-error" role="alert">(.*?)</p>', html)
    assert error and message in error.group(1), (field, text_of(html)[:3000])
    assert "Nothing was saved. Please correct the marked fields." in html
    assert db_dump() == before
    assert check_page(html)[0] == []
    # What was typed is kept, so it can be corrected rather than typed again.
    if "items" in overrides and overrides["items"].strip():
        assert overrides["items"].splitlines()[0] in html


def test_a_ballot_for_a_meeting_that_does_not_exist(staff):
    assert staff.get("/meetings/9999/ballots/new").status_code == 404
    assert staff.post("/meetings/9999/ballots/new", data=form_data()).status_code == 404
    assert ballot_count() == 0


# -- editing a draft -----------------------------------------------------------------------------


def test_a_draft_can_be_edited_and_the_form_shows_its_settings(staff, meeting, organizer):
    ballot = make_ballot(
        meeting,
        organizer,
        form="choose",
        items=["甲", "乙", "丙"],
        places=2,
        countdown_seconds=90,
        threshold_numerator=3,
        threshold_denominator=5,
        threshold_strict=False,
        threshold_base="present",
    )
    page = staff.get(f"/ballots/{ballot.id}/edit")
    assert page.status_code == 200
    html = page.text
    assert re.search(r'<textarea[^>]*name="items"[^>]*>\s*甲\n乙\n丙</textarea>', html)
    assert 'name="places" type="number" value="2"' in html or re.search(r'name="places"[^>]*value="2"', html)
    assert re.search(r'name="countdown_minutes"[^>]*value="1.5"', html)
    checked = checked_radios(html)
    assert checked["kind"] == "choose" and checked["threshold"] == "custom" and checked["comparison"] == "at_least"
    assert re.search(r'name="numerator"[^>]*value="3"', html)

    data = form_data(
        title="改过的标题",
        kind="choose",
        places="1",
        items="甲\n乙\n丁",
        countdown_minutes="",
        threshold="custom",
        numerator="3",
        denominator="5",
        comparison="at_least",
        base="present",
    )
    response = staff.post(f"/ballots/{ballot.id}/edit", data=data)
    assert response.status_code == 302
    ballot = reload(ballot.id)
    assert (ballot.title, ballot.places, ballot.countdown_seconds) == ("改过的标题", 1, None)
    assert [i.title for i in ballot.items] == ["甲", "乙", "丁"]
    assert audit_actions()[-1] == "ballot.update"
    assert "Ballot saved." in staff.get(f"/ballots/{ballot.id}").text


def test_a_bad_edit_changes_nothing(staff, meeting, organizer, db_dump):
    ballot = make_ballot(meeting, organizer)
    before = db_dump()
    response = staff.post(f"/ballots/{ballot.id}/edit", data=form_data(items="甲\n甲"))
    assert response.status_code == 400
    assert "Item 2 repeats item 1: 甲." in response.text
    assert db_dump() == before


def test_the_rules_cannot_change_once_open(staff, hall, organizer, db_dump):
    room = hall(6)
    ballot = make_ballot(room.meeting, organizer)
    operations.open_ballot(organizer, ballot)
    db.session.commit()
    before = db_dump()
    page = staff.get(f"/ballots/{ballot.id}/edit", follow_redirects=True)
    assert page.request.path == f"/ballots/{ballot.id}"
    assert "its rules can no longer change" in page.text
    for data in (form_data(title="偷偷改"), form_data(title="")):  # a valid form or not: refused all the same
        response = staff.post(f"/ballots/{ballot.id}/edit", data=data)
        assert response.status_code == 409
        assert "The ballot is open or closed; its rules can no longer change." in response.text
    assert db_dump() == before
    detail = staff.get(f"/ballots/{ballot.id}").text
    assert "The rules were frozen when voting opened; they can no longer change." in detail
    assert f'href="/ballots/{ballot.id}/edit"' not in detail


# -- opening and closing -------------------------------------------------------------------------


def test_opening_without_quorum_is_refused_with_the_numbers(staff, hall, organizer, db_dump):
    room = hall(6, present=3)  # quorum: ceil(2*6/3) = 4
    ballot = make_ballot(room.meeting, organizer)
    page = staff.get(f"/ballots/{ballot.id}").text
    assert 'data-count="present">3<' in page and "Quorum not met (at least 4)" in page
    before = db_dump()
    response = staff.post(f"/ballots/{ballot.id}/open")
    assert response.status_code == 409
    message = re.search(r'<p class="flash error" role="alert">(.*?)</p>', response.text).group(1)
    assert message == "The quorum is not met: 3 of 6 expected deputies are present, 4 are required."
    assert db_dump() == before
    assert reload(ballot.id).state == "draft"


def test_open_follow_and_close_after_confirming(staff, hall, organizer, client):
    room = hall(6, present=5)
    ballot = make_ballot(room.meeting, organizer, countdown_seconds=600)
    response = staff.post(f"/ballots/{ballot.id}/open")
    assert response.status_code == 302
    assert reload(ballot.id).state == "open"
    vote(client, ballot, room.phones[0], {str(ballot.items[0].id): "yes"})
    vote(client, ballot, room.phones[1], {str(ballot.items[0].id): "no"})

    page = staff.get(f"/ballots/{ballot.id}").text
    assert "Voting is open." in page
    assert 'data-count="voters">2<' in page and 'data-count="present">5<' in page
    assert 'data-count="not_voted">3<' in page
    assert "Voting ends at" in page and 'role="timer"' in page
    assert "Results are shown after the ballot closes." in page and "results-table" not in page
    assert "ballot_admin.js" in page
    progress = staff.get(f"/ballots/{ballot.id}/progress.json").get_json()
    assert progress["voters"] == 2 and progress["present"] == 5 and progress["not_voted"] == 3
    assert progress["state"] == "open" and 590 <= progress["seconds_left"] <= 600

    # The close button leads to a question first; a POST without the answer closes nothing.
    confirm = staff.get(f"/ballots/{ballot.id}/close")
    assert confirm.status_code == 200
    assert "2 of 5 deputies present have voted." in confirm.text
    assert staff.post(f"/ballots/{ballot.id}/close").status_code == 200
    assert reload(ballot.id).state == "open"

    response = staff.post(f"/ballots/{ballot.id}/close", data={"confirm": "yes"})
    assert response.status_code == 302 and response.headers["Location"].endswith("#results")
    assert reload(ballot.id).state == "closed"
    assert audit_actions()[-2:] == ["ballot.open", "ballot.close"]

    again = staff.post(f"/ballots/{ballot.id}/close", data={"confirm": "yes"})
    assert again.status_code == 409
    assert "Cannot change the ballot from “Closed” to “Closed”." in again.text
    assert staff.get(f"/ballots/{ballot.id}/close").status_code == 409
    assert staff.post(f"/ballots/{ballot.id}/open").status_code == 409


# -- results -------------------------------------------------------------------------------------


def test_per_item_results_table_chart_and_reconciliation(staff, hall, organizer, client):
    room = hall(6)  # N = 6: an item passes with 4 votes in favour (more than half of all expected)
    ballot = make_ballot(room.meeting, organizer, items=["甲", "乙"])
    a, b = (str(i.id) for i in ballot.items)
    operations.open_ballot(organizer, ballot)
    db.session.commit()
    for phone, choices in zip(
        room.phones,
        [{a: "yes", b: "no"}, {a: "yes", b: "yes"}, {a: "yes", b: "abstain"}, {a: "yes"}, {a: "no", b: "yes"}],
        strict=False,
    ):
        vote(client, ballot, phone, choices)
    staff.post(f"/ballots/{ballot.id}/close", data={"confirm": "yes"})

    html = staff.get(f"/ballots/{ballot.id}").text
    words = text_of(html)
    assert "An item needs 4 votes: more than half of all expected deputies (6 expected)." in words
    rows = re.findall(r"<tr class=\"[^\"]*\">(.*?)</tr>", html, re.S)
    cells = [text_of(r).split() for r in rows]
    assert cells[0] == ["1", "甲", "4", "1", "0", "0", "✓", "Passed"]
    assert cells[1] == ["2", "乙", "2", "1", "1", "1", "✗", "Not", "passed"]

    # The chart: one bar per item on one scale (5 valid ballots), the line at the 4 votes needed.
    assert '<figure class="chart" aria-labelledby="chart-caption">' in html
    assert "the table above gives the same figures" in html
    bars = re.findall(r'<svg class="chart-bar".*?</svg>', html, re.S)
    assert len(bars) == 2
    assert re.findall(r'class="seg seg-(\w+)" x="([\d.]+)" width="([\d.]+)"', bars[0]) == [
        ("yes", "0.0", "800.0"),
        ("no", "800.0", "200.0"),
    ]
    assert 'x1="800.0"' in bars[0]
    values = [text_of(v).strip() for v in re.findall(r'<span class="chart-value">(.*?)</span>', html, re.S)]
    assert values == [
        "In favour 4, Against 1, Abstain 0, No choice 0",
        "In favour 2, Against 1, Abstain 1, No choice 1",
    ]
    # Reconciled: 5 voters, 5 ballot papers, 5 receipts; 1 present deputy did not vote (未按).
    assert "Receipts, ballot papers and voters agree: 5." in html
    assert re.search(r"Present but did not vote \(未按\)</dt><dd>1</dd>", html)
    assert 'data-count="not_voted">1<' in html
    assert check_page(html)[0] == []


def test_a_tie_is_flagged_and_a_revote_can_be_started(staff, hall, organizer, client):
    room = hall(6)
    ballot = make_ballot(
        room.meeting,
        organizer,
        form="choose",
        items=["甲", "乙", "丙", "丁"],
        places=2,
        threshold_numerator=1,
        threshold_denominator=3,
        threshold_strict=False,
    )
    a, b, c, d = (i.id for i in ballot.items)
    operations.open_ballot(organizer, ballot)
    db.session.commit()
    # 甲 6 votes; 乙 and 丙 3 each: tied for the one place left; 丁 0.
    for phone, ticks in zip(room.phones, [[a, b], [a, b], [a, b], [a, c], [a, c], [a, c]], strict=True):
        vote(client, ballot, phone, ticks)
    staff.post(f"/ballots/{ballot.id}/close", data={"confirm": "yes"})

    html = staff.get(f"/ballots/{ballot.id}").text
    cells = [text_of(r).split() for r in re.findall(r"<tr class=\"[^\"]*\">(.*?)</tr>", html, re.S)]
    assert cells == [
        ["1", "甲", "6", "1", "✓", "Adopted"],
        ["2", "乙", "3", "2", "=", "Tied:", "not", "decided"],
        ["3", "丙", "3", "2", "=", "Tied:", "not", "decided"],
        ["4", "丁", "0", "4", "✗", "Not", "adopted"],
    ]
    assert "2 items are tied at the adoption boundary, so none of them is adopted yet: 乙, 丙." in html
    assert "Start a re-vote among the tied items" in html

    response = staff.post(f"/ballots/{ballot.id}/revote")
    assert response.status_code == 302
    revote = db.session.scalars(select(Ballot).where(Ballot.revote_of_id == ballot.id)).one()
    assert response.headers["Location"].endswith(f"/ballots/{revote.id}")
    assert (revote.state, revote.places, [i.title for i in revote.items]) == ("draft", 1, ["乙", "丙"])
    assert audit_actions()[-1] == "ballot.start_revote"
    page = staff.get(f"/ballots/{revote.id}").text
    assert "A re-vote among 2 tied items for 1 places is ready as a draft." in page
    assert "This is a re-vote of:" in page and f'href="/ballots/{ballot.id}"' in page

    # The original now links to its re-vote instead of offering a second one.
    html = staff.get(f"/ballots/{ballot.id}").text
    assert "Start a re-vote among the tied items" not in html
    assert f'href="/ballots/{revote.id}"' in html


def test_a_revote_without_a_tie_is_refused(staff, hall, organizer):
    room = hall(6)
    ballot = make_ballot(room.meeting, organizer, form="choose", items=["甲", "乙"], places=1)
    operations.open_ballot(organizer, ballot)
    operations.close_ballot(organizer, ballot)
    db.session.commit()
    response = staff.post(f"/ballots/{ballot.id}/revote")
    assert response.status_code == 409
    assert "No items are tied at the adoption boundary." in response.text
    assert ballot_count() == 1


def test_rating_results(staff, hall, organizer, client):
    room = hall(6)
    ballot = make_ballot(room.meeting, organizer, form="rating", items=["局长甲", "局长乙"])
    a, b = (str(i.id) for i in ballot.items)
    operations.open_ballot(organizer, ballot)
    db.session.commit()
    for phone in room.phones[:4]:
        vote(client, ballot, phone, {a: "satisfied", b: "basic"})
    staff.post(f"/ballots/{ballot.id}/close", data={"confirm": "yes"})
    html = staff.get(f"/ballots/{ballot.id}").text
    cells = [text_of(r).split() for r in re.findall(r"<tr class=\"[^\"]*\">(.*?)</tr>", html, re.S)]
    assert cells == [
        ["1", "局长甲", "4", "0", "0", "0", "Satisfied"],
        ["2", "局长乙", "0", "4", "0", "0", "Basically", "satisfied"],
    ]
    assert "seg-satisfied" in html and "seg-basic" in html


def test_live_results_while_open_and_hidden_otherwise(staff, hall, organizer, client):
    room = hall(6)
    live = make_ballot(room.meeting, organizer, title="公开", results_live=True, items=["甲"])
    hidden = make_ballot(room.meeting, organizer, title="保密", items=["甲"])
    for ballot in (live, hidden):
        operations.open_ballot(organizer, ballot)
    db.session.commit()
    vote(client, live, room.phones[0], {str(live.items[0].id): "yes"})
    html = staff.get(f"/ballots/{live.id}").text
    assert "Live results: voting is still open" in html
    assert f'data-results-panel="/ballots/{live.id}/results-panel"' in html
    panel = staff.get(f"/ballots/{live.id}/results-panel")
    assert panel.status_code == 200 and "In favour 1" in panel.text and "<html" not in panel.text
    assert "Receipts, ballot papers" not in panel.text, "the reconciliation waits for the close"

    html = staff.get(f"/ballots/{hidden.id}").text
    assert "Results are shown after the ballot closes." in html and "results-table" not in html
    refused = staff.get(f"/ballots/{hidden.id}/results-panel")
    assert refused.status_code == 409 and "In favour" not in refused.text


@pytest.fixture
def closed_page(staff, hall, organizer):
    """The page of a closed ballot: (ballot, meeting, html)."""
    room = hall(6)
    ballot = make_ballot(room.meeting, organizer)
    operations.open_ballot(organizer, ballot)
    operations.close_ballot(organizer, ballot)
    db.session.commit()
    return ballot, room.meeting, staff.get(f"/ballots/{ballot.id}").text


def test_a_closed_ballot_links_to_the_big_screen(closed_page):
    _, meeting, html = closed_page
    assert html.count(f'href="/meetings/{meeting.id}/screen"') == 2  # the toolbar and the results


@pytest.mark.parametrize(
    "endpoint, values, words",
    [
        ("ballot_exports.export", {"fmt": "pdf"}, "Tally report (PDF)"),
        ("ballot_exports.export", {"fmt": "xlsx"}, "Tally report (Excel)"),
        ("ballot_exports.export", {"fmt": "csv"}, "Raw anonymous ballots (CSV)"),
        ("paper_ballots.index", {}, "Paper ballots"),
        ("ballot_booth.receipts", {}, "Published receipt codes"),
    ],
)
def test_a_closed_ballot_links_to_the_other_ballot_pages(app, closed_page, endpoint, values, words):
    """Pages other parts of the service provide; a link is skipped only while its page does not exist."""
    ballot, _, html = closed_page
    if endpoint not in {rule.endpoint for rule in app.url_map.iter_rules()}:
        pytest.skip(f"{endpoint} is not built yet")
    with app.test_request_context():
        url = url_for(endpoint, ballot_id=ballot.id, **values)
    assert re.search(rf'<a class="[^"]*" href="{re.escape(url)}">{re.escape(words)}</a>', html) or (
        f'<a href="{url}">{words}</a>' in html
    ), (url, words)


# -- the meeting page and the list ---------------------------------------------------------------


def test_the_meeting_page_lists_its_ballots_and_offers_a_new_one(staff, meeting, organizer):
    html = staff.get(f"/meetings/{meeting.id}").text
    assert "No ballots yet." in html and f'href="/meetings/{meeting.id}/ballots/new"' in html
    ballot = make_ballot(meeting, organizer, title="关于预算的决议")
    html = staff.get(f"/meetings/{meeting.id}").text
    assert re.search(rf'<a href="/ballots/{ballot.id}">关于预算的决议</a> · Draft', html)
    index = staff.get(f"/meetings/{meeting.id}/ballots").text
    assert "关于预算的决议" in index and "Per item: yes, no or abstain" in index
    assert check_page(index)[0] == []


# -- safety --------------------------------------------------------------------------------------


def test_titles_and_items_are_escaped_everywhere(staff, hall, organizer, client):
    room = hall(6)
    response = staff.post(
        f"/meetings/{room.meeting.id}/ballots/new",
        # Anything ticked at all reaches this rule, so the two candidates tie for the one place.
        data=form_data(
            title=SCRIPT,
            kind="choose",
            places="1",
            items=f"{IMG}\n<b>乙</b>",
            threshold="custom",
            numerator="1",
            denominator="100",
            comparison="at_least",
        ),
    )
    assert response.status_code == 302
    ballot = db.session.scalars(select(Ballot)).one()
    assert ballot.title == SCRIPT and ballot.items[0].title == IMG
    pages = [
        f"/ballots/{ballot.id}",
        f"/ballots/{ballot.id}/edit",
        f"/meetings/{room.meeting.id}",
        f"/meetings/{room.meeting.id}/ballots",
    ]
    for path in pages:
        html = staff.get(path).text
        assert SCRIPT not in html and IMG not in html and "<b>乙</b>" not in html, path
        assert "&lt;script&gt;" in html, path
    staff.post(f"/ballots/{ballot.id}/open")
    vote(client, ballot, room.phones[0], [ballot.items[0].id])
    vote(client, ballot, room.phones[1], [ballot.items[1].id])
    close = staff.get(f"/ballots/{ballot.id}/close").text
    assert SCRIPT not in close and "Close voting on “&lt;script&gt;alert(1)&lt;/script&gt;”?" in close
    staff.post(f"/ballots/{ballot.id}/close", data={"confirm": "yes"})
    html = staff.get(f"/ballots/{ballot.id}").text
    assert SCRIPT not in html and IMG not in html and "<b>乙</b>" not in html
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") >= 4  # settings, table, chart, tie
    assert "so none of them is adopted yet: &lt;img src=x onerror=alert(1)&gt;, &lt;b&gt;乙&lt;/b&gt;." in html


@pytest.fixture
def csrf_on(app_config):
    app_config["WTF_CSRF_ENABLED"] = True


def csrf_token_of(html):
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def test_every_ballot_form_needs_its_csrf_token(csrf_on, app, organizer, hall, db_dump):
    room = hall(6)
    draft = make_ballot(room.meeting, organizer, title="草稿")
    opened = make_ballot(room.meeting, organizer, title="进行中")
    operations.open_ballot(organizer, opened)
    db.session.commit()
    staff = app.test_client()
    staff.set_cookie("lang", "en")
    token = csrf_token_of(staff.get("/login").text)
    login = staff.post(
        "/login", data={"username": organizer.username, "password": "correct horse battery", "csrf_token": token}
    )
    assert login.status_code == 302
    posts = [
        (f"/meetings/{room.meeting.id}/ballots/new", form_data()),
        (f"/ballots/{draft.id}/edit", form_data(title="改")),
        (f"/ballots/{draft.id}/open", {}),
        (f"/ballots/{opened.id}/close", {"confirm": "yes"}),
        (f"/ballots/{opened.id}/revote", {}),
    ]
    before = db_dump()
    for path, data in posts:
        for forged in (None, "forged"):
            response = staff.post(path, data={**data, **({"csrf_token": forged} if forged else {})})
            assert response.status_code == 400, path
            assert "This form has expired or was not sent from this site." in response.text
    assert db_dump() == before
    # With the page's token the same form goes through.
    page = staff.get(f"/ballots/{draft.id}")
    response = staff.post(f"/ballots/{draft.id}/open", data={"csrf_token": csrf_token_of(page.text)})
    assert response.status_code == 302 and reload(draft.id).state == "open"


def every_route(ballot, meeting):
    gets = [
        f"/meetings/{meeting.id}/ballots",
        f"/meetings/{meeting.id}/ballots/new",
        f"/ballots/{ballot.id}",
        f"/ballots/{ballot.id}/edit",
        f"/ballots/{ballot.id}/close",
        f"/ballots/{ballot.id}/progress.json",
        f"/ballots/{ballot.id}/results-panel",
    ]
    posts = [
        (f"/meetings/{meeting.id}/ballots/new", form_data()),
        (f"/ballots/{ballot.id}/edit", form_data()),
        (f"/ballots/{ballot.id}/open", {}),
        (f"/ballots/{ballot.id}/close", {"confirm": "yes"}),
        (f"/ballots/{ballot.id}/revote", {}),
    ]
    return gets, posts


@pytest.mark.parametrize("role", ["contact_staff", "department"])
def test_other_roles_are_refused(signed_in, make_user, hall, organizer, db_dump, role):
    room = hall(6)
    ballot = make_ballot(room.meeting, organizer)
    other = signed_in(make_user(role))
    before = db_dump()
    gets, posts = every_route(ballot, room.meeting)
    for path in gets:
        response = other.get(path)
        assert response.status_code == 403, path
        assert "Your role does not allow this." in response.text
    for path, data in posts:
        assert other.post(path, data=data).status_code == 403, path
    assert db_dump() == before


def test_a_deputy_phone_is_sent_to_the_staff_login(app, hall, organizer, db_dump):
    room = hall(6)
    ballot = make_ballot(room.meeting, organizer)
    phone = app.test_client()
    phone.set_cookie(app.config["DEVICE_COOKIE_NAME"], room.tokens[0])
    before = db_dump()
    gets, posts = every_route(ballot, room.meeting)
    for path in gets:
        response = phone.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    for path, data in posts:
        response = phone.post(path, data=data)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    # A deputy's bearer token is no organizer's either.
    assert phone.get(f"/ballots/{ballot.id}", headers=room.phones[0]).status_code == 302
    assert db_dump() == before


def test_no_get_changes_anything(staff, hall, organizer, client, db_dump):
    room = hall(6)
    draft = make_ballot(room.meeting, organizer, title="草稿")
    opened = make_ballot(room.meeting, organizer, title="进行中", results_live=True)
    closed = make_ballot(room.meeting, organizer, title="已结束", form="choose", items=["甲", "乙", "丙"], places=1)
    for ballot in (opened, closed):
        operations.open_ballot(organizer, ballot)
    db.session.commit()
    vote(client, closed, room.phones[0], [closed.items[0].id])
    vote(client, closed, room.phones[1], [closed.items[1].id])
    operations.close_ballot(organizer, closed)
    db.session.commit()
    staff.get("/meetings")  # a session's first request may touch it
    before = db_dump()
    statuses = {}
    for ballot in (draft, opened, closed):
        for path in every_route(ballot, room.meeting)[0]:
            response = staff.get(path)
            statuses[path] = response.status_code
            if not path.endswith((".json", "/results-panel")) and response.status_code in (200, 409):
                assert check_page(response.text)[0] == [], path
    assert db_dump() == before
    assert all(status < 500 for status in statuses.values()), statuses
    assert statuses[f"/ballots/{closed.id}/edit"] == 302  # to the ballot's page, with a note
    assert statuses[f"/ballots/{draft.id}/results-panel"] == 409
    assert statuses[f"/ballots/{opened.id}/results-panel"] == 200


def test_the_progress_feed_says_how_many_never_how(staff, hall, organizer, client):
    room = hall(6, present=4)
    ballot = make_ballot(room.meeting, organizer, secret=False)
    operations.open_ballot(organizer, ballot)
    db.session.commit()
    vote(client, ballot, room.phones[0], {str(ballot.items[0].id): "yes"})
    response = staff.get(f"/ballots/{ballot.id}/progress.json")
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body == {
        "state": "open",
        "voters": 1,
        "present": 4,
        "expected": 6,
        "not_voted": 3,
        "closes_at": None,
        "seconds_left": None,
    }
    assert "yes" not in json.dumps(body)
