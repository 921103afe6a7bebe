"""The paper-ballot pages: record a hand-in, enter a paper twice by two people, see mismatches side by side and
settle them; CSRF on every form, organizers only, nothing changed by a GET, and pages that read well."""

import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from voting.ballots.models import CastBallot
from voting.ballots.operations import close_ballot, create_ballot, open_ballot
from voting.ballots.paper_models import PaperBallot
from voting.extensions import db
from voting.meetings.operations import manual_check_in

PAGE_CHECKS = Path(__file__).with_name("test_accessibility.py")


def _check_page(html):
    """The accessibility check of test_accessibility.py, loaded from its file (tests are not a package)."""
    spec = importlib.util.spec_from_file_location("accessibility_checks", PAGE_CHECKS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.check_page(html)


@pytest.fixture
def hall(app, organizer, make_user, make_deputies, make_meeting, bind_phone, signed_in):
    """Five signed-in deputies with phones, and three members of staff signed in on their own browsers."""

    def make(
        form="per_item", places=None, secret=True, state="open", items=("老旧小区加装电梯", "社区食堂"), staff=True
    ):
        deputies = make_deputies(5)
        tokens = [bind_phone(d) for d in deputies]
        meeting = make_meeting()
        for deputy in deputies:
            manual_check_in(organizer, meeting, deputy.id, "测试")
        ballot = create_ballot(organizer, meeting, "民生实事项目票决", form, list(items), places=places, secret=secret)
        if state != "draft":
            open_ballot(organizer, ballot)
        db.session.commit()
        if staff:
            staff = [signed_in(organizer), signed_in(make_user("organizer", "teller2")), signed_in(make_user("admin"))]
        return SimpleNamespace(
            meeting=meeting,
            deputies=deputies,
            phones=[{"Authorization": f"Bearer {t}"} for t in tokens],
            ballot=ballot,
            items=[item.id for item in ballot.items],
            staff=staff,
            page=f"/ballots/{ballot.id}/paper",
        )

    return make


def _close(h, organizer):
    close_ballot(organizer, h.ballot)
    db.session.commit()


def _counted():
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(CastBallot))


def _hand_in(h, deputy, who=0):
    return h.staff[who].post(f"{h.page}/voters", data={"deputy_id": deputy.id})


def _enter(h, who, number, **choices):
    data = {"number": str(number), **{f"item-{item}": choice for item, choice in choices.items()}}
    return h.staff[who].post(f"{h.page}/enter", data=data)


def test_a_hand_in_is_recorded_and_the_deputy_can_no_longer_vote_by_phone(hall, client):
    h = hall()
    page = h.staff[0].get(h.page)
    assert page.status_code == 200 and "Record a paper handed in" in page.text
    assert h.deputies[0].name in page.text, "signed-in deputies who have not voted are listed"
    response = _hand_in(h, h.deputies[0])
    assert response.status_code == 302
    page = h.staff[0].get(response.headers["Location"])
    assert f"{h.deputies[0].name} handed in a paper ballot: recorded." in page.text
    voters = page.text.split('id="voters"')[1]
    assert h.deputies[0].name in voters
    vote = client.post(
        f"/api/v1/ballots/{h.ballot.id}/votes", json={"choices": {str(h.items[0]): "yes"}}, headers=h.phones[0]
    )
    assert vote.status_code == 409 and vote.json["error"]["code"] == "voted_on_paper"
    again = _hand_in(h, h.deputies[0], who=1)
    assert again.status_code == 409 and "already recorded" in again.text


def test_a_deputy_who_voted_by_phone_is_not_offered_and_is_refused(hall, client):
    h = hall()
    client.post(f"/api/v1/ballots/{h.ballot.id}/votes", json={"choices": {}}, headers=h.phones[1])
    page = h.staff[0].get(h.page + "?q=" + h.deputies[1].number)
    assert "No signed-in deputy who has not voted matches." in page.text
    assert h.staff[0].get(h.page + "?q=" + h.deputies[2].number).text.count("Handed in a paper</button>") == 1
    refused = _hand_in(h, h.deputies[1])
    assert refused.status_code == 409 and "already voted by phone" in refused.text


def test_double_entry_by_two_people_counts_the_paper(hall, organizer):
    h = hall()
    _hand_in(h, h.deputies[0])
    _hand_in(h, h.deputies[1])
    _close(h, organizer)
    form = h.staff[0].get(f"{h.page}/enter")
    assert form.status_code == 200
    assert 'name="number"' in form.text and 'value="1"' in form.text, "the next number is offered"
    for item in h.items:
        assert len(re.findall(rf'name="item-{item}"', form.text)) == 4, "in favour, against, abstain, blank"
    first = _enter(h, 0, 1, **{str(h.items[0]): "yes"})
    assert first.status_code == 302 and first.headers["Location"].endswith(f"{h.page}/enter")
    assert "Paper 1 is entered once. A second person must now enter it." in h.staff[0].get(h.page).text
    assert _counted() == 0
    assert 'value="1"' in h.staff[1].get(f"{h.page}/enter").text, "the second person is offered paper 1"
    assert 'value="2"' in h.staff[0].get(f"{h.page}/enter").text, "the first person moves on to paper 2"
    second = _enter(h, 1, 1, **{str(h.items[0]): "yes"})
    assert second.status_code == 302
    receipt = db.session.scalar(select(PaperBallot.receipt))
    assert _counted() == 1 and receipt
    page = h.staff[1].get(h.page).text
    assert f"Paper 1 is counted. Write its receipt on the paper: {receipt}." in page
    assert receipt in page.split('id="counted"')[1]


def test_a_mismatch_is_shown_side_by_side_and_settled_by_a_third_person(hall, organizer):
    h = hall()
    _hand_in(h, h.deputies[0])
    _close(h, organizer)
    first, second = (str(item) for item in h.items)
    _enter(h, 0, 3, **{first: "yes", second: "no"})
    response = _enter(h, 1, 3, **{first: "yes", second: "abstain"})
    assert response.status_code == 302 and response.headers["Location"].endswith("#paper-3")
    assert "the entries differ, so it is not counted" in h.staff[1].get(h.page).text
    page = h.staff[0].get(h.page).text
    card = page.split('id="paper-3"')[1].split("</table>")[0]
    rows = re.findall(r"<tr class=\"([^\"]*)\">\s*<th scope=\"row\">(.*?)</th>", card, re.S)
    marked = [title for cls, title in rows if cls == "differs"]
    assert len(marked) == 1 and "社区食堂" in marked[0] and "Differs:" in marked[0]
    assert "Against" in card and "Abstain" in card
    assert "Count this entry" not in card, "those who entered it cannot settle it"
    assert _counted() == 0
    third = h.staff[2].get(h.page).text.split('id="paper-3"')[1]
    entry_ids = re.findall(r'name="entry_id" value="(\d+)"', third.split("</table>")[0])
    settled = h.staff[2].post(f"{h.page}/resolve", data={"number": "3", "entry_id": entry_ids[0]})
    assert settled.status_code == 302
    assert _counted() == 1
    assert "settled by" in h.staff[2].get(h.page).text


def test_the_same_person_twice_is_refused_and_keeps_what_was_typed(hall, organizer):
    h = hall()
    _hand_in(h, h.deputies[0])
    _close(h, organizer)
    _enter(h, 0, 5, **{str(h.items[0]): "no"})
    again = _enter(h, 0, 5, **{str(h.items[0]): "no"})
    assert again.status_code == 409
    assert "You have already entered paper 5; another person must enter it." in again.text
    assert re.search(r'<p class="error" role="alert">', again.text)
    assert 'value="5"' in again.text
    assert re.search(rf'name="item-{h.items[0]}" value="no" checked', again.text), "the choice stays ticked"
    assert _counted() == 0


def test_a_choose_paper_may_carry_more_ticks_and_counts_as_void(hall, organizer):
    h = hall(form="choose", places=1, items=("甲", "乙", "丙"))
    _hand_in(h, h.deputies[0])
    _close(h, organizer)
    form = h.staff[0].get(f"{h.page}/enter").text
    assert form.count('type="checkbox" name="tick"') == 3 and "paper.js" in form
    ticks = {"number": "1", "tick": [str(h.items[0]), str(h.items[2])]}
    h.staff[0].post(f"{h.page}/enter", data=ticks)
    h.staff[1].post(f"{h.page}/enter", data=ticks)
    assert "is counted as void" in h.staff[1].get(h.page).text
    db.session.expire_all()
    assert db.session.scalar(select(CastBallot.valid)) is False


def test_a_mistyped_entry_is_discarded(hall, organizer, audit_count):
    h = hall()
    _hand_in(h, h.deputies[0])
    _close(h, organizer)
    _enter(h, 0, 71)
    page = h.staff[1].get(h.page).text
    entry_id = re.search(r'name="entry_id" value="(\d+)"', page.split('id="waiting"')[1]).group(1)
    entries = audit_count()
    assert h.staff[1].post(f"{h.page}/discard", data={"entry_id": entry_id}).status_code == 302
    assert audit_count() == entries + 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(PaperBallot)) == 0


def test_a_hand_in_for_the_wrong_deputy_is_withdrawn_with_a_reason(hall):
    h = hall()
    _hand_in(h, h.deputies[0])
    without = h.staff[0].post(f"{h.page}/withdraw", data={"deputy_id": h.deputies[0].id, "reason": ""})
    assert without.status_code == 400
    response = h.staff[0].post(f"{h.page}/withdraw", data={"deputy_id": h.deputies[0].id, "reason": "点错了"})
    assert response.status_code == 302
    assert "The paper hand-in is withdrawn." in h.staff[0].get(h.page).text


@pytest.mark.parametrize("state", ["draft", "open", "closed"])
def test_pages_in_every_state_change_nothing_and_read_well(hall, organizer, state, db_dump):
    h = hall(secret=state != "closed", state=state)
    if state != "draft":
        _hand_in(h, h.deputies[0])
        _hand_in(h, h.deputies[1])
    if state == "closed":
        _close(h, organizer)
        _enter(h, 0, 1, **{str(h.items[0]): "yes"})
        _enter(h, 1, 1, **{str(h.items[0]): "no"})  # a mismatch, shown side by side
        _enter(h, 0, 2)
    before = db_dump()
    for language in ("en", "zh_CN"):
        h.staff[2].set_cookie("lang", language)
        for path in (h.page, f"{h.page}/enter", f"{h.page}?q=代表"):
            response = h.staff[2].get(path)
            assert response.status_code == 200, (path, response.status_code)
            problems, _ = _check_page(response.text)
            assert problems == [], (state, language, path, problems)
    assert db_dump() == before


def test_only_organizers_reach_the_paper_pages(hall, make_user, signed_in, db_dump, client):
    h = hall()
    outsider = signed_in(make_user("contact_staff", "point"))
    before = db_dump()
    assert outsider.get(h.page).status_code == 403
    assert outsider.get(f"{h.page}/enter").status_code == 403
    assert outsider.post(f"{h.page}/voters", data={"deputy_id": h.deputies[0].id}).status_code == 403
    assert outsider.post(f"{h.page}/enter", data={"number": "1"}).status_code == 403
    assert client.get(h.page).status_code == 302, "strangers are sent to the login page"
    assert db_dump() == before


@pytest.fixture
def csrf_checked(app_config):
    """Check CSRF tokens as production does (requested before ``app``)."""
    app_config["WTF_CSRF_ENABLED"] = True


def test_every_paper_form_needs_its_csrf_token(csrf_checked, hall, organizer, browser, db_dump, audit_count):
    h = hall(staff=False)  # signing in through the login form needs a token too: done below
    staff = browser()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', staff.get("/login").text).group(1)
    staff.post(
        "/login", data={"username": organizer.username, "password": "correct horse battery", "csrf_token": token}
    )
    page = staff.get(h.page)
    assert page.status_code == 200 and 'name="csrf_token"' in page.text
    forms = {
        "voters": {"deputy_id": h.deputies[0].id},
        "withdraw": {"deputy_id": h.deputies[0].id, "reason": "x"},
        "enter": {"number": "1"},
        "resolve": {"number": "1", "entry_id": "1"},
        "discard": {"entry_id": "1"},
    }
    before, entries = db_dump(), audit_count()
    for action, data in forms.items():
        for forged in (None, "forged-token"):
            sent = dict(data, **({"csrf_token": forged} if forged else {}))
            response = staff.post(f"{h.page}/{action}", data=sent)
            assert response.status_code == 400 and "This form has expired" in response.text, action
    assert db_dump() == before and audit_count() == entries
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    accepted = staff.post(f"{h.page}/voters", data={"deputy_id": h.deputies[0].id, "csrf_token": token})
    assert accepted.status_code == 302


@pytest.mark.browser
def test_paper_pages_have_big_targets_on_a_desktop_and_a_phone(hall, organizer, chromium_options, tmp_path):
    """Measured in headless Chromium with the helpers of test_targets.py: 48 px targets, focus rings, no sideways
    scrolling at 390 px."""
    import threading

    from playwright.sync_api import sync_playwright

    spec = importlib.util.spec_from_file_location("target_checks", Path(__file__).with_name("test_targets.py"))
    targets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(targets)
    h = hall()
    _hand_in(h, h.deputies[0])
    _close(h, organizer)
    _enter(h, 0, 1, **{str(h.items[0]): "yes"})
    _enter(h, 1, 1, **{str(h.items[0]): "no"})
    staff = h.staff[2]
    outcome = {}

    def work():
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(**chromium_options)
                try:
                    found, widths = [], {}
                    for viewport in (targets.DESKTOP, targets.PHONE):
                        page = targets._open_page(browser, staff, viewport)
                        for path in (h.page, f"{h.page}/enter"):
                            found += targets.problems_on(page, path)
                            widths[(viewport["width"], path)] = page.evaluate("document.documentElement.scrollWidth")
                            page.screenshot(path=str(tmp_path / f"{viewport['width']}-{path.count('/')}.png"))
                    outcome["value"] = found, widths
                finally:
                    browser.close()
        except BaseException as error:  # handed to the test's thread below
            outcome["error"] = error

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=100)
    assert "error" not in outcome, outcome.get("error")
    problems, widths = outcome["value"]
    assert problems == [], "\n".join(problems)
    assert all(width <= targets.PHONE["width"] for (vw, _), width in widths.items() if vw == targets.PHONE["width"])
