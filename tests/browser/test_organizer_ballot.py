"""An organizer runs a choose-K-of-M ballot in a real browser against the real server: paste the candidates,
open (refused until the quorum is present), watch the turnout, close after confirming, read results and chart."""

import importlib.util
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

DELEGATION = "城关街道代表团"  # 25 of the 300 demo deputies: quorum ceil(2 * 25 / 3) = 17
CANDIDATES = ["老旧小区加装电梯", "社区长者食堂", "口袋公园", "背街小巷整治", "社区卫生服务站改造"]
PASTED = "\n".join(f"{i}、{title}" for i, title in enumerate(CANDIDATES, start=1)) + "\n"
# Six phones tick at most three each: 老旧小区加装电梯 5; 社区长者食堂, 口袋公园 and 背街小巷整治 4 each (tied
# for the last two places: the rule asks for more than half of 6 valid ballots, i.e. 4); 社区卫生服务站改造 1.
TICKS = [(0, 1, 2), (0, 1, 3), (0, 2, 3), (0, 2, 3), (1, 2, 3), (0, 1, 4)]


def _web_target_checks():
    """The 48 px target and focus-ring measurements of tests/web/test_targets.py."""
    path = Path(__file__).resolve().parents[1] / "web" / "test_targets.py"
    spec = importlib.util.spec_from_file_location("_web_targets", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MEASURE_TARGETS, module.FOCUS_RING


MEASURE_TARGETS, FOCUS_RING = _web_target_checks()


def target_problems(page):
    """Controls smaller than 48 px, and controls the keyboard reaches without a visible focus ring."""
    where = page.url
    problems = [f"{where}: small target {s}" for s in page.evaluate(MEASURE_TARGETS)]
    page.locator("a.skip").focus()  # walk the page from its first control, wherever the focus was
    seen = 0
    for _ in range(60):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUS_RING)
        if focused is None:
            break
        seen += 1
        if not focused["ring"]:
            problems.append(f'{where}: no focus ring on {focused["tag"]} "{focused["text"]}"')
    if seen < 5:
        problems.append(f"{where}: the keyboard reaches only {seen} controls")
    return problems


def api(page, method, path, body=None, token=None):
    """Call the JSON API as a phone would (a bearer token; the API ignores the page's cookies)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = page.request.fetch(path, method=method, data=body, headers=headers)
    assert response.ok, (path, response.status, response.text())
    return response.json()


def csrf_token(page):
    return page.locator("input[name=csrf_token]").first.get_attribute("value")


def sign_in_by_hand(page, meeting, deputy_ids):
    page.goto(meeting)
    token = csrf_token(page)
    for deputy_id in deputy_ids:
        response = page.request.post(
            f"{meeting}/manual-checkin",
            form={"csrf_token": token, "deputy_id": str(deputy_id), "reason": "浏览器测试"},
            max_redirects=0,
        )
        assert response.status == 302, response.text()


def bind_phone(server, page, deputy_id):
    """Issue a card on the organizer's page and bind a phone with it; return the phone's token."""
    page.goto(f"/deputies/{deputy_id}")
    response = page.request.post(
        f"/deputies/{deputy_id}/activation-code", form={"csrf_token": csrf_token(page)}, max_redirects=0
    )
    code = re.search(r'<p class="code">([^<]+)</p>', response.text()).group(1)
    return api(page, "POST", "/api/v1/activate", {"activation_code": code})["device_token"]


def new_meeting(page, zh, title, delegation):
    """Create a meeting of one delegation (25 deputies) and open sign-in; return its path and deputy ids."""
    page.goto("/meetings/new")
    page.get_by_label(zh("Title")).fill(title)
    page.locator("select[name=delegations]").select_option(delegation)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/meetings/\d+$"))
    meeting = re.search(r"/meetings/\d+$", page.url).group(0)
    page.get_by_role("button", name=zh("Open sign-in"), exact=True).click()
    expect(page.locator('[data-count="expected"]')).to_have_text("25")
    deputy_ids = [
        int(v)
        for v in page.locator("form[action$='/leave'] input[name=deputy_id]").evaluate_all(
            "els => els.map(e => e.value)"
        )
    ]
    assert len(deputy_ids) == 25
    return meeting, deputy_ids


@pytest.fixture
def desktop(organizer):
    """A new tab of the signed-in organizer, 1280x800."""
    page = organizer.context.new_page()
    page.set_viewport_size({"width": 1280, "height": 800})
    yield page
    page.close()


def test_organizer_runs_a_choose_k_of_m_ballot(server, desktop, zh, screenshot, traffic):
    page = desktop
    errors_before = len(traffic.errors)
    problems = []

    meeting, deputy_ids = new_meeting(page, zh, "街道议事会（票决浏览器测试）", DELEGATION)

    # From the meeting's 表决/票决 section to the new ballot form.
    expect(page.get_by_role("heading", name=zh("Votes and ballots"))).to_be_visible()
    page.get_by_role("link", name=zh("New ballot")).click()
    page.wait_for_url(f"**{meeting}/ballots/new")
    expect(page.locator("h1")).to_have_text(zh("New ballot"))
    # The places field shows only for the choose form (with JavaScript).
    expect(page.get_by_label(zh("Places (K)"))).to_be_hidden()
    page.get_by_label(zh("Ballot title")).fill("2027年街道民生实事项目票决")
    choose = page.locator("label.check", has=page.locator("input[name=kind][value=choose]"))
    expect(choose).to_have_text(zh("Choose up to K of M: tick at most K candidates (more candidates than places)"))
    choose.click()
    expect(page.get_by_label(zh("Places (K)"))).to_be_visible()
    page.get_by_label(zh("Items")).fill(PASTED)
    page.get_by_label(zh("Places (K)")).fill("3")
    page.get_by_label(zh("The valid ballots cast")).check()
    expect(page.get_by_label(zh("More than half (过半数)"))).to_be_checked()
    expect(page.get_by_label(zh("Secret: nobody, not even the staff, can see who voted how"))).to_be_checked()
    screenshot(page, "organizer-ballot-new.png", full_page=True)
    problems += target_problems(page)
    page.get_by_role("button", name=zh("Create ballot")).click()
    page.wait_for_url(re.compile(r"/ballots/\d+$"))
    ballot_path = re.search(r"/ballots/\d+$", page.url).group(0)
    ballot_id = int(ballot_path.rsplit("/", 1)[1])
    expect(page.locator("h1")).to_have_text("2027年街道民生实事项目票决")
    expect(page.locator("ol.items li")).to_have_text(CANDIDATES)  # the numbering of the pasted list is gone

    # Ten present: opening is refused with the numbers.
    sign_in_by_hand(page, meeting, deputy_ids[:10])
    page.goto(ballot_path)
    expect(page.locator('[data-count="present"]')).to_have_text("10")
    page.get_by_role("button", name=zh("Open voting")).click()
    expect(page.get_by_role("alert")).to_have_text(
        zh(
            "The quorum is not met: %(present)s of %(expected)s expected deputies are present, "
            "%(required)s are required.",
            present=10,
            expected=25,
            required=17,
        )
    )
    screenshot(page, "organizer-ballot-quorum.png")
    problems += target_problems(page)

    # Seventeen present: the draft page's counts follow by themselves, and voting opens.
    sign_in_by_hand(page, meeting, deputy_ids[10:17])
    page.goto(ballot_path)
    tokens = [bind_phone(server, page, deputy_id) for deputy_id in deputy_ids[:6]]
    page.goto(ballot_path)
    expect(page.locator('[data-count="present"]')).to_have_text("17")
    page.get_by_role("button", name=zh("Open voting")).click()
    expect(
        page.get_by_role("status").filter(has_text=zh("Voting is open. Deputies' phones show the ballot now."))
    ).to_be_visible()
    expect(page.locator(".note")).to_have_text(
        zh("The rules were frozen when voting opened; they can no longer change.")
    )
    expect(page.get_by_role("link", name=zh("Edit"), exact=True)).to_have_count(0)

    # Phones vote; the organizer's page counts them without reloading (never shows how).
    progress = page.request.get(f"/ballots/{ballot_id}/progress.json").json()
    assert progress["voters"] == 0 and progress["present"] == 17
    item_ids = [int(v) for v in page.locator("ol.items li").evaluate_all("els => els.map(e => e.dataset.itemId)")]
    for token, ticks in zip(tokens, TICKS, strict=True):
        api(page, "POST", f"/api/v1/ballots/{ballot_id}/votes", {"choices": [item_ids[i] for i in ticks]}, token)
    expect(page.locator('[data-count="voters"]')).to_have_text("6")
    expect(page.locator('[data-count="not_voted"]')).to_have_text("11")
    screenshot(page, "organizer-ballot-open.png", full_page=True)
    problems += target_problems(page)

    # Close: a question first, then the results.
    page.get_by_role("link", name=zh("Close voting…")).click()
    expect(page.locator(".card p.big")).to_have_text(
        zh("%(voters)s of %(present)s deputies present have voted.", voters=6, present=17)
    )
    screenshot(page, "organizer-ballot-close.png")
    problems += target_problems(page)
    page.get_by_role("button", name=zh("Close voting now")).click()
    page.wait_for_url(f"**{ballot_path}#results")
    expect(page.locator("#results-heading")).to_have_text(zh("Results"))
    rows = page.locator(".results-table tbody tr")
    expect(rows).to_have_count(5)
    expect(rows.nth(0)).to_contain_text(zh("Adopted"))
    for n in (1, 2, 3):
        expect(rows.nth(n)).to_contain_text(zh("Tied: not decided"))
    expect(rows.nth(4)).to_contain_text(zh("Not adopted"))
    expect(page.locator(".chart-bar")).to_have_count(5)
    expect(page.locator(".chart-value").first).to_have_text(f"{zh('Votes')} 5")
    expect(page.locator(".reconcile .mark.passed")).to_have_text(
        re.compile(re.escape(zh("Receipts, ballot papers and voters agree: %(n)s.", n=6)))
    )
    expect(page.get_by_role("button", name=zh("Start a re-vote among the tied items"))).to_be_visible()
    screenshot(page, "organizer-ballot-results.png", full_page=True)
    problems += target_problems(page)
    bar = page.locator(".chart-bar").first.bounding_box()
    assert bar["width"] > 400, "the bars use the desktop's width"

    # A 390 px phone: no sideways scrolling, the chart's labels stay readable.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    label = page.locator(".chart-label").first
    assert float(label.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")) >= 16
    assert page.locator(".chart-bar").first.bounding_box()["width"] >= 300
    screenshot(page, "organizer-ballot-results-390.png", full_page=True)
    problems += target_problems(page)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{meeting}/ballots/new")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    problems += target_problems(page)

    # The re-vote: a draft among the three tied items for the two places left.
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(ballot_path)
    page.get_by_role("button", name=zh("Start a re-vote among the tied items")).click()
    page.wait_for_url(re.compile(r"/ballots/\d+$"))
    expect(page.locator("ol.items li")).to_have_text(CANDIDATES[1:4])
    expect(page.locator("p.ballot-status")).to_contain_text(
        zh("Choose up to %(places)s of %(count)s", places=2, count=3)
    )

    # The meeting's page lists both ballots.
    page.goto(meeting)
    ballots = page.locator("ul.ballot-list li")
    expect(ballots).to_have_count(2)
    expect(ballots.first).to_contain_text("2027年街道民生实事项目票决")
    screenshot(page, "organizer-ballot-meeting.png")
    assert traffic.errors[errors_before:] == []
    assert problems == [], "\n".join(problems)


def test_live_results_and_the_countdown_follow_without_reloading(server, desktop, zh, traffic):
    page = desktop
    errors_before = len(traffic.errors)
    meeting, deputy_ids = new_meeting(page, zh, "常委会（实时结果浏览器测试）", "东湖街道代表团")
    sign_in_by_hand(page, meeting, deputy_ids[:17])
    tokens = [bind_phone(server, page, deputy_id) for deputy_id in deputy_ids[:2]]

    page.goto(f"{meeting}/ballots/new")
    page.get_by_label(zh("Ballot title")).fill("关于区政府专项工作报告的满意度测评")
    page.locator("label.check", has=page.locator("input[name=kind][value=rating]")).click()
    expect(page.get_by_label(zh("Places (K)"))).to_be_hidden()
    page.get_by_label(zh("Items")).fill("区教育局\n区卫健委\n")
    page.get_by_label(zh("Shown live while voting is open, here and on the big screen")).check()
    page.get_by_label(zh("Countdown in minutes (optional)")).fill("5")
    page.get_by_role("button", name=zh("Create ballot")).click()
    page.wait_for_url(re.compile(r"/ballots/\d+$"))
    ballot_id = int(page.url.rsplit("/", 1)[1])
    item_ids = [int(v) for v in page.locator("ol.items li").evaluate_all("els => els.map(e => e.dataset.itemId)")]
    page.get_by_role("button", name=zh("Open voting")).click()

    # The countdown ticks on the page (m:ss), and the live results follow each vote.
    left = page.locator("[data-countdown] [data-left]")
    expect(left).to_have_text(re.compile(r"^[45]:\d\d$"))
    expect(page.locator("#results-heading")).to_have_text(zh("Live results: voting is still open"))
    expect(page.locator(".chart-value").first).to_contain_text(f"{zh('Satisfied')} 0")
    for token, choice in zip(tokens, ("satisfied", "basic"), strict=True):
        api(page, "POST", f"/api/v1/ballots/{ballot_id}/votes", {"choices": {str(item_ids[0]): choice}}, token)
    expect(page.locator('[data-count="voters"]')).to_have_text("2")
    expect(page.locator(".chart-value").first).to_contain_text(f"{zh('Satisfied')} 1")
    expect(page.locator(".chart-value").first).to_contain_text(f"{zh('Basically satisfied')} 1")
    # Two of 25 expected are far from the more-than-half rule: rated unsatisfied so far.
    expect(page.locator(".results-table tbody tr").first.locator(".mark")).to_have_text(zh("Unsatisfied"))
    assert page.locator(".reconcile").count() == 0, "the counts are reconciled after close"

    # Closed elsewhere (here: another tab of the organizer): the page notices and shows the results.
    other = page.context.new_page()
    other.goto(f"/ballots/{ballot_id}/close")
    other.get_by_role("button", name=zh("Close voting now")).click()
    other.close()
    expect(page.locator("#results-heading")).to_have_text(zh("Results"))
    expect(page.locator(".reconcile .mark.passed")).to_be_visible()
    assert traffic.errors[errors_before:] == []
