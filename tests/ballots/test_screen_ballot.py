"""The big screen during a vote: the ballot, its countdown and how many have voted (never how) while open;
per-item counts, outcomes, ties and a bar chart after close; the sign-in view otherwise."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from voting.ballots.models import Ballot
from voting.extensions import db
from voting.timeutil import utcnow


@pytest.fixture
def screen(client, organizer, login):
    """The organizer's browser on the projector, reading English."""
    login(organizer)
    client.set_cookie("lang", "en")

    class Screen:
        def state(self, meeting, query=""):
            response = client.get(f"/meetings/{meeting.id}/screen.json{query}")
            assert response.status_code == 200
            return response.json

        def page(self, meeting, query=""):
            response = client.get(f"/meetings/{meeting.id}/screen{query}")
            assert response.status_code == 200
            return response.text

    return Screen()


def view_of(html):
    return re.search(r'data-screen-view="([^"]+)"', html).group(1)


def test_without_a_ballot_the_screen_shows_sign_in(hall, screen, api):
    h = hall(6, present=4)
    api.create(h.meeting)  # a draft changes nothing on the screen
    state = screen.state(h.meeting)
    assert (state["view"], state["ballot"]) == ("signin", None)
    html = screen.page(h.meeting)
    assert view_of(html) == "signin"
    assert 'id="qr"' in html and "screen-ballot" not in html


def test_while_open_the_screen_shows_how_many_voted_never_how(hall, screen, api):
    h = hall(6, present=4)
    ballot = api.open(api.create(h.meeting, title="关于区政府工作报告的决议", countdown_seconds=300))
    state = screen.state(h.meeting)
    assert state["view"] == f"open:{ballot['id']}"
    assert state["ballot"]["voters"] == 0 and state["present"] == 4
    assert 295 <= state["ballot"]["seconds_left"] <= 300
    html = screen.page(h.meeting)
    assert view_of(html) == f"open:{ballot['id']}"
    assert '<h2 id="ballot-title">关于区政府工作报告的决议</h2>' in html
    assert re.search(r'data-ballot="voters">0</dd>.*data-ballot="present">4</dd>', html, re.S)
    assert re.search(r"Time left: [45]:\d\d", html)
    assert 'id="qr"' not in html

    item = ballot["items"][0]["id"]
    api.vote(ballot, h.phones[0], {str(item): "no"})
    api.vote(ballot, h.phones[1], {str(item): "yes"})
    state = screen.state(h.meeting)
    assert state["ballot"]["voters"] == 2
    text = str(state)
    assert "'yes'" not in text and "'no'" not in text and "choices" not in text, "counts only, never choices"
    html = screen.page(h.meeting)
    assert 'data-ballot="bar" width="500.0"' in html, "2 of 4 present: half the bar"
    assert "In favour" not in html and "Against" not in html


def test_when_the_time_is_up_the_screen_says_so(hall, screen, api):
    h = hall(3)
    ballot = api.open(api.create(h.meeting, countdown_seconds=60))
    db.session.execute(update(Ballot).where(Ballot.id == ballot["id"]).values(closes_at=utcnow()))
    db.session.commit()
    assert screen.state(h.meeting)["ballot"]["seconds_left"] == 0
    assert re.search(r'data-ballot="countdown"[^>]*>Time is up\.</p>', screen.page(h.meeting))


def test_after_close_per_item_results_with_a_chart(hall, screen, api, check_svgs):
    h = hall(6, present=5)
    ballot = api.open(api.create(h.meeting, items=["项目甲", "项目乙"]))
    first, second = (i["id"] for i in ballot["items"])
    for phone, choices in zip(
        h.phones,
        [{first: "yes", second: "no"}, {first: "yes", second: "yes"}, {first: "yes"}, {first: "yes"}, {first: "no"}],
        strict=False,
    ):
        api.vote(ballot, phone, {str(k): v for k, v in choices.items()})
    api.close(ballot)
    state = screen.state(h.meeting)
    assert state["view"] == f"results:{ballot['id']}"
    html = screen.page(h.meeting)
    assert view_of(html) == f"results:{ballot['id']}"
    rows = re.findall(r'<li class="(passed|failed|tied)">\s*<span class="screen-row-title">([^<]+)</span>', html)
    # 6 expected: more than half is 4 votes. 项目甲 has 4 in favour, 项目乙 1.
    assert rows == [("passed", "1. 项目甲"), ("failed", "2. 项目乙")]
    figures = re.findall(r'<span class="screen-row-figures">([^<]+)</span>', html)
    assert figures == ["In favour 4 · Against 1 · Abstain 0", "In favour 1 · Against 1 · Abstain 0 · No choice 3"]
    assert "Passed" in html and "Not passed" in html
    assert "An item needs 4 votes" in html
    assert "Expected 6 · present 5 · voted 5 (valid 5, void 0)" in html
    # The bars: one scale for every row (5 valid ballots), the line at 4 votes.
    bars = re.findall(r'<rect class="seg seg-(\w+)" x="([\d.]+)" width="([\d.]+)"', html)
    assert bars[:2] == [("yes", "0.0", "800.0"), ("no", "800.0", "200.0")]
    assert 'x1="800.0" x2="800.0"' in html
    check_svgs(html)


def test_a_tie_at_the_boundary_is_flagged(hall, screen, api):
    h = hall(6)
    rule = {"numerator": 1, "denominator": 3, "strict": False, "base": "expected"}  # 2 of 6 votes
    ballot = api.open(api.create(h.meeting, form="choose", places=1, items=["甲", "乙", "丙"], rule=rule))
    a, b, _ = (i["id"] for i in ballot["items"])
    for phone, ticks in zip(h.phones, [[a], [a], [a], [b], [b], [b]], strict=True):
        api.vote(ballot, phone, ticks)
    api.close(ballot)
    html = screen.page(h.meeting)
    tied = re.findall(r'<li class="tied">\s*<span class="screen-row-title">([^<]+)</span>', html)
    assert tied == ["1. 甲", "2. 乙"]
    assert re.search(r'class="screen-tie" role="note">.*Tie for the last places: 甲, 乙 have the same number', html)
    assert "3 votes" in html and "Tied: not decided" in html


def test_results_leave_the_screen_after_a_while_unless_pinned(hall, screen, api, app):
    h = hall(3)
    ballot = api.open(api.create(h.meeting))
    api.close(ballot)
    assert screen.state(h.meeting)["view"] == f"results:{ballot['id']}"
    db.session.execute(
        update(Ballot)
        .where(Ballot.id == ballot["id"])
        .values(closed_at=utcnow() - timedelta(minutes=app.config["SCREEN_RESULTS_MINUTES"] + 1))
    )
    db.session.commit()
    assert screen.state(h.meeting)["view"] == "signin"
    pinned = f"?ballot={ballot['id']}"
    assert screen.state(h.meeting, pinned)["view"] == f"results:{ballot['id']}"
    assert view_of(screen.page(h.meeting, pinned)) == f"results:{ballot['id']}"
    # An open ballot comes first, pinned or not.
    other = api.open(api.create(h.meeting, title="下一项"))
    assert screen.state(h.meeting, pinned)["view"] == f"open:{other['id']}"


def test_a_ballot_of_another_meeting_cannot_be_pinned(hall, screen, api, make_meeting):
    h = hall(3)
    ballot = api.open(api.create(h.meeting))
    api.close(ballot)
    elsewhere = make_meeting("另一会议")
    assert screen.state(elsewhere, f"?ballot={ballot['id']}")["view"] == "signin"


def test_the_screen_script_reloads_on_a_new_view():
    script = (Path(__file__).resolve().parents[2] / "static" / "js" / "screen.js").read_text(encoding="utf-8")
    assert "data-screen-view" in script and "window.location.reload()" in script


@pytest.fixture
def check_svgs():
    """Every SVG on the screen is decoration (aria-hidden): its figures are written out as text."""

    def check(html):
        svgs = re.findall(r"<svg[^>]*>", html)
        assert svgs and all('aria-hidden="true"' in svg for svg in svgs)

    return check
