"""The deputy's voting pages: waiting (page, state document, stream), the ballot of each form, the review
step and submission without JavaScript, void papers, double submissions, refusals, receipts, the published
receipt codes, and the page weight."""

import gzip
import importlib.util
import re
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from voting.ballots import live
from voting.ballots.models import Ballot, CastBallot
from voting.ballots.operations import receipt_for
from voting.extensions import db
from voting.timeutil import utcnow

ROOT = Path(__file__).resolve().parents[2]
CSRF_MESSAGE = "This form has expired or was not sent from this site."


# -- helpers -----------------------------------------------------------------------------------------


@pytest.fixture
def phone(app):
    """A browser whose device cookie is this token, reading English: phone(token) -> test client."""

    def make(token, language="en"):
        client = app.test_client()
        client.set_cookie(app.config["DEVICE_COOKIE_NAME"], token)
        if language:
            client.set_cookie("lang", language)
        return client

    return make


@pytest.fixture
def booth(hall, api, phone):
    """A hall of 6 (5 signed in) and a phone for each deputy: booth(form="per_item", **ballot) -> namespace."""
    from types import SimpleNamespace

    def make(open_=True, **body):
        h = hall(6, present=5)
        ballot = api.create(h.meeting, **body)
        if open_:
            ballot = api.open(ballot)
        return SimpleNamespace(
            hall=h,
            meeting=h.meeting,
            ballot=ballot,
            items=[item["id"] for item in ballot["items"]],
            phones=[phone(token) for token in h.tokens],
            tokens=h.tokens,
        )

    return make


class Forms(HTMLParser):
    """Read the forms of a page as a browser submits them: hidden fields, checked boxes, the buttons."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action"), "fields": [], "buttons": []})
        elif self.forms and tag == "input":
            kind = attrs.get("type", "text")
            if kind == "hidden" or (kind in ("checkbox", "radio") and "checked" in attrs):
                self.forms[-1]["fields"].append((attrs["name"], attrs.get("value", "")))
        elif self.forms and tag == "button":
            self.forms[-1]["buttons"].append(attrs)


def forms_of(html):
    parser = Forms()
    parser.feed(html)
    return parser.forms


def submit(client, html, action, button=0):
    """Submit the page's form with this action the way a browser without JavaScript would."""
    form = next(f for f in forms_of(html) if f["action"] == action)
    pressed = form["buttons"][button]
    data = {}
    for name, value in form["fields"]:
        data.setdefault(name, []).append(value)
    if pressed.get("name"):
        data[pressed["name"]] = pressed.get("value", "")
    return client.post(pressed.get("formaction", form["action"]), data=data)


def alert(html):
    match = re.search(r'role="alert">([^<]+)<', html)
    return match.group(1).strip() if match else None


def ballot_row(ballot_id):
    db.session.expire_all()
    return db.session.get(Ballot, ballot_id)


@pytest.fixture
def dump(app):
    """Every committed row of every table, read on a connection of its own."""

    def read():
        with db.engine.connect() as connection:
            return {
                table.name: connection.execute(select(table).order_by(*table.primary_key.columns)).all()
                for table in db.metadata.sorted_tables
                if table.name != "user_session"
            }

    return read


@pytest.fixture
def check_page():
    """The accessibility check of tests/web/test_accessibility.py, on these pages too."""
    spec = importlib.util.spec_from_file_location("page_check", ROOT / "tests" / "web" / "test_accessibility.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.check_page


# -- waiting -----------------------------------------------------------------------------------------


def test_the_waiting_page_waits_then_hands_over_the_ballot(booth, api):
    b = booth(open_=False)
    phone = b.phones[0]
    page = phone.get(f"/m/{b.meeting.id}/vote")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert "No vote is open right now." in page.text
    # Without JavaScript the page checks again by itself; with it, the meta tag is never parsed.
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in page.text
    assert 'data-version=""' in page.text and f'data-stream="/m/{b.meeting.id}/vote/stream"' in page.text
    assert '<script src="/static/js/booth.js" defer></script>' in page.text

    api.open(b.ballot)
    page = phone.get(f"/m/{b.meeting.id}/vote")
    assert page.status_code == 303 and page.location == f"/b/{b.ballot['id']}"

    api.vote(b.ballot, b.hall.phones[0], {str(b.items[0]): "yes"})
    page = phone.get(f"/m/{b.meeting.id}/vote")
    assert page.status_code == 200
    assert "You have voted on every open ballot." in page.text
    receipt = receipt_for(b.tokens[0], b.ballot["id"])
    assert receipt in page.text and f'data-version="{b.ballot["id"]}"' in page.text

    api.close(b.ballot)
    page = phone.get(f"/m/{b.meeting.id}/vote")
    assert "No vote is open right now." in page.text and 'data-version=""' in page.text
    assert "Earlier votes" in page.text and receipt in page.text
    assert f'href="/b/{b.ballot["id"]}/receipts?code={receipt}"' in page.text
    # A deputy who did not vote is told so, and is not sent anywhere.
    other = b.phones[1].get(f"/m/{b.meeting.id}/vote")
    assert other.status_code == 200 and "You did not vote." in other.text


def test_the_waiting_page_goes_to_the_next_ballot_not_yet_voted_on(booth, api):
    b = booth()
    second = api.open(api.create(b.meeting, title="第二项"))
    api.vote(b.ballot, b.hall.phones[0], {})
    page = b.phones[0].get(f"/m/{b.meeting.id}/vote")
    assert page.status_code == 303 and page.location == f"/b/{second['id']}"


def test_a_ballot_whose_time_is_up_is_not_offered(booth):
    b = booth(countdown_seconds=60)
    db.session.execute(update(Ballot).where(Ballot.id == b.ballot["id"]).values(closes_at=utcnow()))
    db.session.commit()
    page = b.phones[0].get(f"/m/{b.meeting.id}/vote")
    assert page.status_code == 200 and 'data-version=""' in page.text
    assert "Time is up; the result follows when the ballot is closed." in page.text


def test_the_state_document_follows_the_open_ballots(booth, api, app):
    b = booth(open_=False)
    hub = live.hub(app)
    now = [100.0]
    hub.clock = lambda: now[0]
    url = f"/m/{b.meeting.id}/vote/state.json"
    anonymous = app.test_client()
    response = anonymous.get(url)
    assert response.json == {"v": "", "open": []}
    assert response.headers["Cache-Control"] == "public, max-age=1"
    api.open(b.ballot)
    # Read at most once a second per meeting: within the second, the same answer.
    assert anonymous.get(url).json == {"v": "", "open": []}
    now[0] += 1.5
    assert anonymous.get(url).json == {"v": str(b.ballot["id"]), "open": [b.ballot["id"]]}
    api.close(b.ballot)
    now[0] += 1.5
    assert anonymous.get(url).json == {"v": "", "open": []}


# -- the stream --------------------------------------------------------------------------------------


@pytest.fixture
def streaming(app_config):
    """Serve server-sent events here (as on gevent), with short streams and a fast poller."""
    app_config.update(BALLOT_STREAM=True, BALLOT_STREAM_SECONDS=3, BALLOT_POLL_SECONDS=0.05)


@pytest.fixture
def hub(streaming, app):
    """The app's hub; at the end, wait for its poller to stop before the database goes away."""
    hub = live.hub(app)
    yield hub
    poller = hub._poller
    if poller is not None:
        poller.join(timeout=5)
    assert hub._poller is None, "the poller stops when no phone waits"


def events_of(chunks):
    """Yield (event name, data) of each server-sent event in the chunks."""
    for chunk in chunks:
        text = chunk.decode() if isinstance(chunk, bytes) else chunk
        for block in text.strip().split("\n\n"):
            fields = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith("retry"))
            yield fields.get("event", "message"), fields.get("data")


def test_the_stream_tells_waiting_phones_when_a_ballot_opens_and_closes(hub, booth, api):
    b = booth(open_=False)
    response = b.phones[0].get(f"/m/{b.meeting.id}/vote/stream", buffered=False)
    try:
        assert response.status_code == 200
        assert response.mimetype == "text/event-stream"
        assert response.headers["X-Accel-Buffering"] == "no"
        chunks = iter(response.response)
        first = next(chunks)
        assert first.startswith(b"retry: 3000\n")
        events = events_of([first])
        assert next(events) == ("message", '{"v":"","open":[]}')
        # Opened through the API: only the database knows; the stream's poller finds out.
        started = time.monotonic()
        api.open(b.ballot)
        name, data = next(events_of(chunks))
        assert (name, data) == ("message", f'{{"v":"{b.ballot["id"]}","open":[{b.ballot["id"]}]}}')
        assert time.monotonic() - started < 1.0
        api.close(b.ballot)
        assert next(events_of(chunks)) == ("message", '{"v":"","open":[]}')
    finally:
        response.close()
    assert hub._channels == {}, "a closed stream leaves its meeting's channel"


def test_the_stream_sends_heartbeats_and_ends(hub, booth, monkeypatch):
    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.2)
    b = booth(open_=False)
    started = time.monotonic()
    response = b.phones[0].get(f"/m/{b.meeting.id}/vote/stream", buffered=False)
    events = list(events_of(response.response))
    response.close()
    assert time.monotonic() - started < 3.5, "bounded: the browser reconnects, proxies recycle the connection"
    assert events[0] == ("message", '{"v":"","open":[]}')
    assert ("ping", "1") in events[1:]


def test_one_poller_wakes_every_stream_of_a_meeting(hub, booth, api):
    b = booth(open_=False)
    responses = [p.get(f"/m/{b.meeting.id}/vote/stream", buffered=False) for p in b.phones[:3]]
    try:
        streams = [iter(r.response) for r in responses]
        for stream in streams:
            next(stream)
        assert list(hub._channels) == [b.meeting.id] and hub._channels[b.meeting.id].listeners == 3
        api.open(b.ballot)
        for stream in streams:
            assert next(events_of(stream))[1] == f'{{"v":"{b.ballot["id"]}","open":[{b.ballot["id"]}]}}'
    finally:
        for response in responses:
            response.close()


def test_the_stream_is_refused_where_it_cannot_be_held_cheaply(booth, app):
    # Under pytest no gevent is running: "auto" answers 204, and EventSource falls back to polling.
    b = booth(open_=False)
    assert app.config["BALLOT_STREAM"] == "auto"
    response = b.phones[0].get(f"/m/{b.meeting.id}/vote/stream")
    assert response.status_code == 204 and response.data == b""


def test_the_stream_is_for_bound_phones(hub, booth, app):
    b = booth(open_=False)
    response = app.test_client().get(f"/m/{b.meeting.id}/vote/stream")
    assert response.status_code == 401


# -- the ballot page of each form ----------------------------------------------------------------------


def test_the_per_item_ballot_offers_three_big_choices_per_item(booth, check_page):
    b = booth(form="per_item", countdown_seconds=300)
    page = b.phones[0].get(f"/b/{b.ballot['id']}")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.text
    for item in b.items:
        values = re.findall(rf'<input type="radio" name="item-{item}" value="(\w+)"', html)
        assert values == ["yes", "no", "abstain"]
    labels = re.findall(r'<label class="booth-opt opt-(\w+)"><input[^>]+><span>([^<]+)</span>', html)
    assert labels[:3] == [("yes", "In favour"), ("no", "Against"), ("abstain", "Abstain")]
    assert "For each item, choose In favour, Against or Abstain." in html
    assert re.search(r'data-countdown="(29\d|300)"', html), "the countdown starts at the time left"
    assert re.search(r"Voting closes at \d\d:\d\d\.", html), "without JavaScript: the closing time"
    assert re.search(r'name="nonce" value="[A-Za-z0-9_-]{16,}"', html)
    assert f'action="/b/{b.ballot["id"]}/review"' in html
    assert check_page(html)[0] == []


def test_the_choose_ballot_counts_ticks(booth, check_page):
    b = booth(form="choose", places=2, items=["甲", "乙", "丙", "丁"])
    html = b.phones[0].get(f"/b/{b.ballot['id']}").text
    assert re.findall(r'<input type="checkbox" name="tick" value="(\d+)"', html) == [str(i) for i in b.items]
    assert 'data-places="2"' in html
    assert 'data-left="You can tick {n} more."' in html
    assert "Tick at most 2 of the 4 candidates." in html
    assert re.search(r'<p class="booth-left" data-left-text aria-live="polite">Tick at most 2\.</p>', html)
    assert check_page(html)[0] == []


def test_the_rating_ballot(booth, check_page):
    b = booth(form="rating", items=["教育局局长", "卫健委主任"])
    html = b.phones[0].get(f"/b/{b.ballot['id']}").text
    labels = re.findall(r'<label class="booth-opt opt-(\w+)"><input[^>]+><span>([^<]+)</span>', html)
    assert labels[:3] == [("satisfied", "Satisfied"), ("basic", "Basically satisfied"), ("unsatisfied", "Unsatisfied")]
    assert "Secret ballot" in html and check_page(html)[0] == []


def test_the_pages_are_chinese_by_default(booth):
    b = booth(form="per_item")
    client = b.phones[0]
    client.delete_cookie("lang")  # the other tests read English
    html = client.get(f"/b/{b.ballot['id']}").text
    assert '<html lang="zh-CN">' in html
    assert re.search(r"<span>赞成</span>.*<span>反对</span>.*<span>弃权</span>", html, re.S)


# -- review and submit without JavaScript ----------------------------------------------------------------


@pytest.fixture
def csrf_on(app_config):
    app_config["WTF_CSRF_ENABLED"] = True


def test_vote_without_javascript_review_then_submit(csrf_on, booth, stored, check_page):
    b = booth(form="per_item")
    phone = b.phones[0]
    ballot_id = b.ballot["id"]
    html = phone.get(f"/b/{ballot_id}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    nonce = re.search(r'name="nonce" value="([^"]+)"', html).group(1)
    choices = {f"item-{b.items[0]}": "yes", f"item-{b.items[1]}": "abstain"}

    review = phone.post(f"/b/{ballot_id}/review", data={"csrf_token": token, "nonce": nonce, **choices})
    assert review.status_code == 200 and review.headers["Cache-Control"] == "no-store"
    assert stored(ballot_id) == (0, 0), "the review stores nothing"
    listed = re.findall(
        r'<span class="booth-title">([^<]+)</span><strong class="booth-choice [^"]+">([^<]+)<', review.text
    )
    assert listed == [("项目甲", "In favour"), ("项目乙", "Abstain"), ("项目丙", "No choice")]
    assert "1 item has no choice; it counts as not voted on." in review.text
    assert check_page(review.text)[0] == []

    cast = submit(phone, review.text, f"/b/{ballot_id}/cast")
    assert cast.status_code == 303 and cast.location == f"/b/{ballot_id}/receipt"
    assert stored(ballot_id) == (1, 1)
    paper = db.session.scalar(select(CastBallot).where(CastBallot.ballot_id == ballot_id))
    assert paper.valid and paper.choices == f'{{"{b.items[0]}":"yes","{b.items[1]}":"abstain"}}'

    receipt = phone.get(f"/b/{ballot_id}/receipt")
    assert receipt.headers["Cache-Control"] == "no-store"
    code = receipt_for(b.tokens[0], ballot_id)
    assert re.search(rf'<span class="receipt-code" translate="no">{code}</span>', receipt.text)
    assert paper.receipt == code
    assert "Your vote was recorded" in receipt.text
    assert "the list of all receipt codes is published" in receipt.text
    assert check_page(receipt.text)[0] == []


def test_change_my_choices_returns_to_the_filled_in_ballot(booth, stored):
    b = booth(form="choose", places=2, items=["甲", "乙", "丙", "丁"])
    phone = b.phones[0]
    review = phone.post(f"/b/{b.ballot['id']}/review", data={"nonce": "n" * 22, "tick": [b.items[1], b.items[3]]})
    back = submit(phone, review.text, f"/b/{b.ballot['id']}/cast", button=1)
    assert back.status_code == 200
    checked = re.findall(r'<input type="checkbox" name="tick" value="(\d+)" checked>', back.text)
    assert checked == [str(b.items[1]), str(b.items[3])]
    assert 'name="nonce" value="' + "n" * 22 + '"' in back.text, "the same submission, so the same nonce"
    assert stored(b.ballot["id"]) == (0, 0)


def test_forms_without_their_token_are_refused(csrf_on, booth, stored):
    b = booth(form="per_item")
    for action in ("review", "cast"):
        response = b.phones[0].post(f"/b/{b.ballot['id']}/{action}", data={f"item-{b.items[0]}": "yes"})
        assert response.status_code == 400 and CSRF_MESSAGE in response.text
    assert stored(b.ballot["id"]) == (0, 0)


def test_ticking_too_many_without_javascript_voids_the_ballot_and_says_so_first(booth, api, stored):
    b = booth(form="choose", places=2, items=["甲", "乙", "丙", "丁"])
    phone = b.phones[0]
    review = phone.post(f"/b/{b.ballot['id']}/review", data={"nonce": "v" * 22, "tick": b.items[:3]})
    assert review.status_code == 200
    assert alert(review.text).startswith("You ticked 3, but at most 2 may be ticked. If you submit this, your ballot")
    assert "is void (废票)" in review.text
    assert "Submit a void ballot" in review.text
    assert stored(b.ballot["id"]) == (0, 0)

    # Going back is the big first button here; submitting anyway is the second.
    assert re.search(r'class="button primary huge"[^>]*name="change"', review.text)
    submit(phone, review.text, f"/b/{b.ballot['id']}/cast", button=1)
    assert stored(b.ballot["id"]) == (1, 1)
    assert db.session.scalar(select(CastBallot.valid).where(CastBallot.ballot_id == b.ballot["id"])) is False
    receipt = phone.get(f"/b/{b.ballot['id']}/receipt").text
    assert "Your ballot was recorded as void" in receipt
    api.close(b.ballot)
    results = api.get(b.ballot, "results").json
    assert (results["ballots"], results["valid"], results["void"]) == (1, 0, 1)


def test_a_double_tap_gets_the_same_receipt_and_counts_once(booth, stored):
    b = booth(form="choose", places=2, items=["甲", "乙", "丙"])
    data = {"nonce": "d" * 22, "tick": [b.items[0]]}
    first = b.phones[0].post(f"/b/{b.ballot['id']}/cast", data=data)
    second = b.phones[0].post(f"/b/{b.ballot['id']}/cast", data=data)
    assert first.status_code == second.status_code == 303
    assert first.location == second.location == f"/b/{b.ballot['id']}/receipt"
    assert stored(b.ballot["id"]) == (1, 1)
    page = b.phones[0].get(second.location).text
    assert "Your vote had already been recorded; nothing was changed." in page
    assert receipt_for(b.tokens[0], b.ballot["id"]) in page


def test_simultaneous_submissions_from_one_phone_count_once(booth, stored, race, app):
    b = booth(form="per_item")
    token = b.tokens[0]
    data = {"nonce": "r" * 22, f"item-{b.items[0]}": "no"}

    def send(client):
        client.set_cookie(app.config["DEVICE_COOKIE_NAME"], token)
        return client.post(f"/b/{b.ballot['id']}/cast", data=data)

    responses = race(app, [send] * 8)
    assert {r.status_code for r in responses} == {303}
    assert stored(b.ballot["id"]) == (1, 1)


def test_a_different_second_vote_is_refused_with_a_way_to_the_receipt(booth, stored):
    b = booth(form="per_item")
    b.phones[0].post(f"/b/{b.ballot['id']}/cast", data={f"item-{b.items[0]}": "yes"})
    again = b.phones[0].post(f"/b/{b.ballot['id']}/cast", data={f"item-{b.items[0]}": "no"})
    assert again.status_code == 409
    assert alert(again.text) == "You have already voted on this ballot."
    assert f'href="/b/{b.ballot["id"]}/receipt"' in again.text
    assert stored(b.ballot["id"]) == (1, 1)
    # The ballot page itself now shows the receipt instead of a form.
    page = b.phones[0].get(f"/b/{b.ballot['id']}")
    assert page.status_code == 303 and page.location == f"/b/{b.ballot['id']}/receipt"


def test_last_submission_counts_lets_the_deputy_vote_again(booth, stored):
    b = booth(form="per_item", last_submission_counts=True)
    b.phones[0].post(f"/b/{b.ballot['id']}/cast", data={f"item-{b.items[0]}": "yes"})
    page = b.phones[0].get(f"/b/{b.ballot['id']}")
    assert page.status_code == 200 and "Until it closes you may vote again; your last vote counts." in page.text
    changed = b.phones[0].post(f"/b/{b.ballot['id']}/cast", data={f"item-{b.items[0]}": "no"})
    assert changed.status_code == 303
    assert "Your new vote replaced your earlier one." in b.phones[0].get(changed.location).text
    assert stored(b.ballot["id"]) == (1, 1)


# -- refusals ----------------------------------------------------------------------------------------


def test_refusals_say_why_and_store_nothing(booth, api, phone, make_deputies, bind_phone, make_meeting, stored, app):
    b = booth(form="per_item")
    ballot_id = b.ballot["id"]
    outsider_deputy = make_deputies(1, prefix="X")[0]
    outsider = phone(bind_phone(outsider_deputy))  # bound, but not expected at this meeting
    cases = {
        "unbound": (app.test_client(), 401, "This phone is not bound to a deputy yet."),
        "other meeting": (outsider, 403, "You are not expected at this meeting, so you cannot vote on its ballots."),
        "not signed in": (b.phones[5], 403, "Sign in to the meeting first"),
    }
    for name, (client, status, message) in cases.items():
        client.set_cookie("lang", "en")
        for response in (
            client.get(f"/b/{ballot_id}"),
            client.post(f"/b/{ballot_id}/review", data={f"item-{b.items[0]}": "yes"}),
            client.get(f"/m/{b.meeting.id}/vote"),
        ):
            assert response.status_code == status, name
            assert alert(response.text).startswith(message), (name, alert(response.text))
        cast = client.post(f"/b/{ballot_id}/cast", data={f"item-{b.items[0]}": "yes"})
        assert cast.status_code == status, name
    assert 'href="/a"' in app.test_client().get(f"/b/{ballot_id}").text, "an unbound phone is shown where to bind"
    assert stored(ballot_id) == (0, 0)

    forged = b.phones[0].post(f"/b/{ballot_id}/cast", data={"item-999999": "yes"})
    assert forged.status_code == 400
    assert alert(forged.text).startswith("The ballot paper is not valid for this ballot.")
    twice = b.phones[0].post(f"/b/{ballot_id}/review", data={f"item-{b.items[0]}": ["yes", "no"]})
    assert twice.status_code == 400
    assert stored(ballot_id) == (0, 0)


def test_a_ballot_not_yet_open_or_closed_is_explained(booth, api, stored):
    b = booth(open_=False)
    ballot_id = b.ballot["id"]
    for response in (b.phones[0].get(f"/b/{ballot_id}"), b.phones[0].post(f"/b/{ballot_id}/cast", data={})):
        assert response.status_code == 409
        assert alert(response.text) == "Voting on this ballot has not opened yet."
        assert f'href="/m/{b.meeting.id}/vote"' in response.text, "back to the waiting page"
    api.open(b.ballot)
    api.close(b.ballot)
    for response in (b.phones[0].get(f"/b/{ballot_id}"), b.phones[0].post(f"/b/{ballot_id}/cast", data={})):
        assert response.status_code == 409
        assert alert(response.text) == "Voting on this ballot has closed."
        assert f'href="/b/{ballot_id}/receipts"' in response.text
    assert stored(ballot_id) == (0, 0)
    assert b.phones[0].get("/b/999999").status_code == 404


def test_time_up_is_explained(booth, stored):
    b = booth(countdown_seconds=60)
    db.session.execute(update(Ballot).where(Ballot.id == b.ballot["id"]).values(closes_at=utcnow()))
    db.session.commit()
    response = b.phones[0].get(f"/b/{b.ballot['id']}")
    assert response.status_code == 409 and alert(response.text) == "The time for voting on this ballot is up."
    cast = b.phones[0].post(f"/b/{b.ballot['id']}/cast", data={})
    assert cast.status_code == 409 and stored(b.ballot["id"]) == (0, 0)


# -- receipts ----------------------------------------------------------------------------------------


def test_the_receipt_page_when_there_is_none_on_this_phone(booth, api, second_phone):
    b = booth(form="per_item")
    page = b.phones[0].get(f"/b/{b.ballot['id']}/receipt")
    assert page.status_code == 200 and "You have not voted on this ballot." in page.text
    assert f'href="/b/{b.ballot["id"]}">' in page.text, "a way to vote while it is open"
    # Voted from another phone: this one cannot know the receipt, and says so.
    api.vote(b.ballot, second_phone(b.hall.deputies[0]), {})
    page = b.phones[0].get(f"/b/{b.ballot['id']}/receipt")
    assert "recorded on paper or from another phone" in page.text


def test_the_published_receipt_codes_and_the_check(booth, api, make_user, login, app, dump, check_page):
    b = booth(form="per_item")
    ballot_id = b.ballot["id"]
    for phone in b.hall.phones[:3]:
        api.vote(b.ballot, phone, {str(b.items[0]): "yes"})
    mine = receipt_for(b.tokens[0], ballot_id)
    early = b.phones[0].get(f"/b/{ballot_id}/receipts")
    assert early.status_code == 409 and alert(early.text) == "Receipt codes are published after the ballot closes."
    api.close(b.ballot)
    staff = app.test_client()
    login(make_user("organizer"), target=staff)
    before = dump()

    page = b.phones[0].get(f"/b/{ballot_id}/receipts")
    assert page.status_code == 200
    listed = re.findall(r"<li(?: class=\"found\")?>([0-9A-Z]{5}-[0-9A-Z]{5})</li>", page.text)
    assert listed == sorted(receipt_for(t, ballot_id) for t in b.tokens[:3])
    assert "3 codes, 3 ballot papers, 3 deputies who voted" in page.text
    assert f'href="/b/{ballot_id}/receipts?code={mine}"' in page.text, "this phone's own code, one tap away"
    assert check_page(page.text)[0] == []

    typed = mine.replace("-", " ").lower()
    found = b.phones[0].get(f"/b/{ballot_id}/receipts", query_string={"code": typed})
    assert f"Found: {mine} is in the list, so that ballot paper was counted." in found.text
    assert f'<li class="found">{mine}</li>' in found.text
    missing = b.phones[0].get(f"/b/{ballot_id}/receipts?code=ZZZZZ-ZZZZZ")
    assert alert(missing.text).startswith("ZZZZZ-ZZZZZ is not in the list.")
    bad = b.phones[0].get(f"/b/{ballot_id}/receipts?code=12")
    assert alert(bad.text) == "“12” is not a receipt code: a code has ten letters and digits."

    # Staff may read the list too; strangers may not.
    assert staff.get(f"/b/{ballot_id}/receipts").status_code == 200
    assert app.test_client().get(f"/b/{ballot_id}/receipts").status_code == 401
    assert dump() == before, "looking changes nothing"


def test_no_get_of_these_pages_changes_anything(booth, api, dump, app):
    b = booth(form="choose", places=1, items=["甲", "乙"])
    api.vote(b.ballot, b.hall.phones[1], [b.items[0]])
    paths = [
        f"/m/{b.meeting.id}/vote",
        f"/m/{b.meeting.id}/vote/state.json",
        f"/m/{b.meeting.id}/vote/stream",
        f"/b/{b.ballot['id']}",
        f"/b/{b.ballot['id']}/receipt",
        f"/b/{b.ballot['id']}/receipts",
        f"/b/{b.ballot['id']}/review",
        f"/b/{b.ballot['id']}/cast",
        "/me",
    ]
    before = dump()
    for client in (b.phones[0], b.phones[1], b.phones[5], app.test_client()):
        for path in paths:
            response = client.get(path)
            assert response.status_code < 500, path
            response.close()
    assert dump() == before


# -- ways in -----------------------------------------------------------------------------------------


def test_the_signed_in_and_me_pages_lead_to_the_waiting_page(booth, app):
    b = booth(open_=False)
    me = b.phones[0].get("/me").text
    assert f'href="/m/{b.meeting.id}/vote"' in me
    assert f'href="/m/{b.meeting.id}/vote"' not in b.phones[5].get("/me").text, "not signed in: nothing to vote in"


# -- weight ------------------------------------------------------------------------------------------


class Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and attrs.get("rel") == "stylesheet":
            self.urls.append(attrs["href"])
        elif tag in ("script", "img", "iframe", "source", "video", "audio") and attrs.get("src"):
            self.urls.append(attrs["src"])


def transfer(client, response):
    """Bytes of the page and everything it loads, gzip-compressed as a server would send them."""
    parser = Assets()
    parser.feed(response.text)
    sizes = {"page": len(gzip.compress(response.data, 6))}
    for url in parser.urls:
        parts = urlsplit(url)
        assert parts.netloc == "", f"{url}: a phone in the hall may not reach other hosts"
        asset = client.get(parts.path)
        assert asset.status_code == 200, url
        sizes[parts.path] = len(gzip.compress(asset.data, 6))
        asset.close()
    return sizes


@pytest.mark.parametrize(
    "body",
    [
        {"form": "choose", "places": 24, "items": [f"候选项目{i}：老旧小区加装电梯与无障碍改造" for i in range(1, 31)]},
        {"form": "per_item", "items": [f"民生实事项目{i}：社区食堂与居家养老服务中心建设" for i in range(1, 21)]},
    ],
    ids=["choose-24-of-30", "per-item-20"],
)
def test_the_ballot_page_weighs_at_most_60_kb(booth, body, capsys):
    b = booth(**body)
    client = b.phones[0]
    pages = {"ballot": client.get(f"/b/{b.ballot['id']}")}
    review_data = {"tick": b.items[:3]} if body["form"] == "choose" else {f"item-{b.items[0]}": "yes"}
    pages["review"] = client.post(f"/b/{b.ballot['id']}/review", data=review_data)
    client.post(f"/b/{b.ballot['id']}/cast", data=review_data)
    pages["receipt"] = client.get(f"/b/{b.ballot['id']}/receipt")
    for name, response in pages.items():
        assert response.status_code == 200, name
        sizes = transfer(client, response)
        total = sum(sizes.values())
        with capsys.disabled():
            print(f"\n{body['form']} {name}: {total} bytes gzip ({sizes}); page {len(response.data)} bytes raw")
        assert total <= 60 * 1024, (name, sizes)
