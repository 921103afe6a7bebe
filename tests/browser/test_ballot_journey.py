"""A vote in the hall, in real browsers against the real server (gunicorn with gevent workers): deputies wait on
their phones (WeChat's browser, 390 and 360 px wide, one without JavaScript), the organizer opens a ballot, the
phones turn into the ballot by themselves, the deputies vote and get receipts, and the big screen shows the
turnout and then the results."""

import json
import os
import re
import subprocess
import time
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

DELEGATION = "经开区代表团"  # a demo delegation no other journey touches: 25 deputies, quorum 17
SECRET_KEY = "browser-tests-secret-key-not-for-production"  # as tests/browser/conftest.py starts the server
ROOT = Path(__file__).resolve().parents[2]

BIG_TARGETS = """() => {
  const small = [];
  const targets = 'main label.booth-opt, main label.booth-pick, main button, main a.button';
  for (const el of document.querySelectorAll(targets)) {
    const box = el.getBoundingClientRect();
    if (box.width && (box.height < 48 || box.width < 48)) {
      small.push(`${el.innerText.trim()} ${box.width}x${box.height}`);
    }
  }
  return small;
}"""


class Api:
    """The organizer's API on the running server (bearer token), and deputies' phones through it."""

    def __init__(self, server, token):
        self.parts = urlsplit(server.base_url)
        self.token = token

    def call(self, method, path, body=None, token=None):
        connection = HTTPConnection(self.parts.hostname, self.parts.port, timeout=30)
        headers = {"Authorization": f"Bearer {token or self.token}", "Accept-Language": "zh-CN"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            connection.request(method, "/api/v1" + path, body=data, headers=headers)
            response = connection.getresponse()
            payload = json.loads(response.read() or b"null")
        finally:
            connection.close()
        assert response.status < 300, (method, path, response.status, payload)
        return payload


def organizer_token(server):
    """Make an API token for the staff account with the server's own CLI and database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOTING_") and k != "TEST_DATABASE_URL"}
    env.update(
        DATABASE_URL=f"sqlite:///{server.log_path.parent}/voting.db", VOTING_SECRET_KEY=SECRET_KEY, FLASK_APP="wsgi"
    )
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", "create-token", server.staff_username],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def hall(server, organizer):
    """A meeting of one demo delegation (25 expected), sign-in open, 15 deputies signed in by hand.

    ``organizer`` first: its first login replaces the staff account's one-time password.
    """
    api = Api(server, organizer_token(server))
    deputies = api.call("GET", "/deputies?" + urlencode({"delegation": DELEGATION, "limit": 100}))["items"]
    assert len(deputies) == 25
    meeting = api.call("POST", "/meetings", {"title": "票决演示：经开区代表团会议", "delegations": [DELEGATION]})
    api.call("POST", f"/meetings/{meeting['id']}/signin/open")
    for deputy in deputies[3:18]:
        api.call("POST", f"/meetings/{meeting['id']}/manual-checkin", {"deputy_id": deputy["id"], "reason": "测试"})
    return api, meeting, deputies


def activation_url(api, deputy):
    return api.call("POST", f"/deputies/{deputy['id']}/activation-code")["activation_url"]


def device_token(api, deputy):
    """Bind a phone through the API (for the deputies who are not in a browser); return its bearer token."""
    code = api.call("POST", f"/deputies/{deputy['id']}/activation-code")["activation_code"]
    return api.call("POST", "/activate", {"activation_code": code}, token="-")["device_token"]


def bind(page, url):
    page.goto(url)
    page.locator("form[action*='/a/'] button").click()
    page.wait_for_url("**/me")


def scan_url(api, meeting):
    """The screen's current sign-in URL, one that verifies and is shown a few seconds more."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        code = api.call("GET", f"/meetings/{meeting['id']}/checkin-code")
        # Codes with a '-' in their signature are refused (tests/meetings/test_checkin_codes.py pins it).
        left = (time.mktime(time.strptime(code["shown_until"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone) - time.time()
        if code["code"].count("-") == 3 and left > 3:
            return code["url"]
        time.sleep(max(left, 0) + 0.3)
    raise AssertionError("no usable sign-in code within a minute")


def wait_for_ballot(page, ballot, opened_at, limit):
    """Wait for ``page`` to turn into the ballot by itself; return how long it took after the opening."""
    page.wait_for_url(re.compile(rf"/b/{ballot['id']}$"), timeout=limit * 1000 + 5000, wait_until="commit")
    took = time.monotonic() - opened_at
    assert took <= limit, f"{page.url}: the ballot came after {took:.1f} s"
    return took


@pytest.fixture(scope="module")
def phones(session_context, browser, server):
    """Phone pages: phones("phone" | "small-phone" | "no-js") -> a new page in a browser of its own."""
    made = []

    def make(kind):
        if kind != "no-js":
            return session_context(kind).new_page()
        # A phone whose browser runs no JavaScript (an old in-app browser, or a setting).
        user_agent = session_context("phone").new_page().evaluate("navigator.userAgent")
        context = browser.new_context(
            viewport={"width": 390, "height": 844},
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            base_url=server.base_url,
            user_agent=user_agent,
            java_script_enabled=False,
        )
        made.append(context)
        return context.new_page()

    yield make
    for context in made:
        context.close()


def expect_alert(page, text):
    expect(page.get_by_role("alert").filter(has_text=text)).to_have_text(text)


def layout_problems(page, width):
    problems = [f"{page.url}: small target {s}" for s in page.evaluate(BIG_TARGETS)]
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        problems.append(f"{page.url}: scrollWidth {scroll} > {width}")
    return problems


CANDIDATES = ["老旧小区加装电梯", "社区长者食堂", "口袋公园改造提升", "中小学校门口交通疏导"]


def test_phones_turn_into_the_ballot_deputies_vote_and_the_screen_shows_results(
    hall, organizer, phones, zh, screenshot
):
    api, meeting, deputies = hall
    a, b, c = deputies[:3]

    # Phone A (390 px, WeChat) binds and signs in by scanning, then stays on the signed-in page.
    phone_a = phones("phone")
    bind(phone_a, activation_url(api, a))
    phone_a.goto(scan_url(api, meeting))
    phone_a.get_by_role("button", name=zh("Sign in"), exact=True).click()
    expect(phone_a.get_by_role("link", name=zh("Go to the voting page"))).to_be_visible()

    # Phone B runs no JavaScript: it waits on the waiting page, which reloads itself every 5 s.
    phone_b = phones("no-js")
    bind(phone_b, activation_url(api, b))
    api.call("POST", f"/meetings/{meeting['id']}/manual-checkin", {"deputy_id": b["id"], "reason": "测试"})
    phone_b.goto(f"/m/{meeting['id']}/vote")

    # Phone C (360 px) is signed in by the staff and finds the waiting page from its home page.
    phone_c = phones("small-phone")
    bind(phone_c, activation_url(api, c))
    api.call("POST", f"/meetings/{meeting['id']}/manual-checkin", {"deputy_id": c["id"], "reason": "测试"})
    phone_c.goto("/me")
    phone_c.get_by_role("link", name=zh("Vote in %(title)s", title=meeting["title"])).click()
    phone_c.wait_for_url(f"**/m/{meeting['id']}/vote")
    expect(phone_c.get_by_role("status").filter(has_text=zh("No vote is open right now."))).to_be_visible()
    screenshot(phone_c, "ballot-waiting.png", full_page=True)

    # The big screen, on the organizer's desktop browser.
    screen = organizer.context.new_page()
    screen.goto(f"/meetings/{meeting['id']}/screen")
    expect(screen.locator("[data-screen-view]")).to_have_attribute("data-screen-view", "signin")

    rule = {"numerator": 1, "denominator": 2, "strict": True, "base": "cast"}
    ballot = api.call(
        "POST",
        f"/meetings/{meeting['id']}/ballots",
        {
            "title": "2027年区民生实事项目票决",
            "form": "choose",
            "places": 2,
            "items": CANDIDATES,
            "countdown_seconds": 600,
            "rule": rule,
        },
    )
    items = [item["id"] for item in ballot["items"]]
    api.call("POST", f"/ballots/{ballot['id']}/open")
    opened_at = time.monotonic()
    took = {
        name: wait_for_ballot(page, ballot, opened_at, limit)
        for name, page, limit in (
            ("signed-in page", phone_a, 3),
            ("waiting page", phone_c, 3),
            ("no JavaScript", phone_b, 7),
        )
    }
    print("the ballot reached the phones after " + ", ".join(f"{k} {v:.2f} s" for k, v in took.items()))

    # Phone A ticks: the count of ticks left, and a third tick refused.
    phone_a.wait_for_load_state()
    left = phone_a.locator("[data-left-text]")
    expect(left).to_have_text(zh("You can tick %(num)s more.", num=2))
    expect(phone_a.locator(".booth-countdown")).to_have_text(re.compile(r"剩余时间 (10:00|9:[0-5]\d)"))
    boxes = phone_a.locator("input[name=tick]")
    boxes.nth(0).check()
    expect(left).to_have_text(zh("You can tick %(num)s more.", num=1))
    boxes.nth(2).check()
    expect(left).to_have_text(zh("You have ticked %(places)s, the most allowed.", places=2))
    boxes.nth(3).click()
    expect(boxes.nth(3)).not_to_be_checked()
    expect_alert(phone_a, zh("At most %(places)s may be ticked. To change, untick one first.", places=2))
    assert layout_problems(phone_a, 390) == []
    screenshot(phone_a, "ballot-choose.png", full_page=True)

    phone_a.get_by_role("button", name=zh("Review my vote")).click()
    phone_a.wait_for_url(f"**/b/{ballot['id']}/review")
    expect(phone_a.locator(".booth-review .booth-title")).to_have_text([CANDIDATES[0], CANDIDATES[2]])
    screenshot(phone_a, "ballot-review.png", full_page=True)
    phone_a.get_by_role("button", name=zh("Submit my vote")).click()
    phone_a.wait_for_url(f"**/b/{ballot['id']}/receipt")
    expect(phone_a.locator("h1")).to_contain_text(zh("Your vote was recorded"))
    receipt_a = phone_a.locator(".booth-receipt-code").inner_text().strip()
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{5}-[2-9A-HJ-NP-Z]{5}", receipt_a)
    expect(phone_a.get_by_role("button", name=zh("Copy the code"))).to_be_visible()
    assert layout_problems(phone_a, 390) == []
    screenshot(phone_a, "ballot-receipt.png", full_page=True)

    # The screen counts the vote (how many, never how).
    screen.wait_for_load_state()
    expect(screen.locator("[data-screen-view]")).to_have_attribute("data-screen-view", f"open:{ballot['id']}")
    expect(screen.locator('[data-ballot="voters"]')).to_have_text("1", timeout=3000)
    expect(screen.locator('[data-ballot="present"]')).to_have_text("18")

    # Phone B, without JavaScript, ticks three of two: told before confirming that the ballot is void.
    for index in (0, 1, 3):
        phone_b.locator("input[name=tick]").nth(index).check()
    phone_b.get_by_role("button", name=zh("Review my vote")).click()
    expect(phone_b.locator(".booth-void")).to_be_visible()
    screenshot(phone_b, "ballot-void-review.png", full_page=True)
    phone_b.get_by_role("button", name=zh("Submit a void ballot")).click()
    phone_b.wait_for_url(f"**/b/{ballot['id']}/receipt")
    expect(phone_b.locator("h1")).to_have_text(zh("Your ballot was recorded as void"))

    # Phone C (360 px) ticks one.
    phone_c.locator("label.booth-pick").nth(1).click()
    assert layout_problems(phone_c, 360) == []
    screenshot(phone_c, "ballot-choose-360.png")
    phone_c.get_by_role("button", name=zh("Review my vote")).click()
    phone_c.get_by_role("button", name=zh("Submit my vote")).click()
    phone_c.wait_for_url(f"**/b/{ballot['id']}/receipt")

    # Seven more deputies vote from their phones through the API.
    for deputy, ticks in zip(deputies[3:10], [[0, 1], [0, 1], [0, 2], [0], [1, 3], [1], [2, 3]], strict=True):
        api.call(
            "POST",
            f"/ballots/{ballot['id']}/votes",
            {"choices": [items[i] for i in ticks]},
            token=device_token(api, deputy),
        )
    expect(screen.locator('[data-ballot="voters"]')).to_have_text("10", timeout=3000)
    screenshot(screen, "ballot-screen-open.png")

    api.call("POST", f"/ballots/{ballot['id']}/close")
    expect(screen.locator("[data-screen-view]")).to_have_attribute(
        "data-screen-view", f"results:{ballot['id']}", timeout=5000
    )
    rows = screen.locator(".screen-rows li")
    expect(rows).to_have_count(4)
    # 9 valid papers, 1 void; more than half of the valid: 5 votes. The first two have 5 each: adopted.
    expect(rows.locator(".screen-row-figures")).to_have_text([zh("%(votes)s votes", votes=n) for n in (5, 5, 3, 2)])
    expect(rows.nth(0)).to_have_class("passed")
    expect(rows.nth(1)).to_have_class("passed")
    expect(rows.nth(2)).to_have_class("failed")
    expect(screen.locator(".screen-summary")).to_contain_text("废票 1 张")
    bar = screen.locator(".screen-rows li").nth(0).locator("svg.screen-bar")
    assert bar.bounding_box()["height"] >= 20, "bars big enough for the back of the hall"
    screenshot(screen, "ballot-screen-results.png")

    # After close, phone A finds its receipt code in the published list (a GET: it changes nothing).
    phone_a.goto(f"/m/{meeting['id']}/vote")
    phone_a.get_by_role("link", name=zh("Check the published receipt codes")).first.click()
    expect(phone_a.get_by_role("status").filter(has_text=receipt_a)).to_have_text(
        zh("Found: %(code)s is in the list, so that ballot paper was counted.", code=receipt_a)
    )
    expect(phone_a.locator(".booth-codes li")).to_have_count(10)
    screenshot(phone_a, "ballot-receipts.png")
    screen.close()


def test_a_per_item_ballot_on_a_360_px_phone(hall, organizer, phones, zh, screenshot):
    api, meeting, deputies = hall
    phone = phones("small-phone")
    bind(phone, activation_url(api, deputies[18]))
    api.call("POST", f"/meetings/{meeting['id']}/manual-checkin", {"deputy_id": deputies[18]["id"], "reason": "测试"})
    phone.goto(f"/m/{meeting['id']}/vote")
    ballot = api.call(
        "POST",
        f"/meetings/{meeting['id']}/ballots",
        {
            "title": "关于批准2027年区级预算的决议草案等三项",
            "form": "per_item",
            "items": ["关于批准2027年区级预算的决议（草案）", "区人民政府工作报告", "区人民检察院工作报告"],
        },
    )
    api.call("POST", f"/ballots/{ballot['id']}/open")
    wait_for_ballot(phone, ballot, time.monotonic(), 3)
    phone.wait_for_load_state()
    done = phone.locator("[data-left-text]")
    expect(done).to_have_text(zh("%(done)s of %(count)s items answered.", done=0, count=3))
    phone.locator(".booth-item").nth(0).get_by_text("赞成", exact=True).click()
    phone.locator(".booth-item").nth(1).get_by_text("弃权", exact=True).click()
    expect(done).to_have_text(zh("%(done)s of %(count)s items answered.", done=2, count=3))
    assert layout_problems(phone, 360) == []
    screenshot(phone, "ballot-per-item-360.png")  # the viewport: the review button stays at the bottom
    phone.get_by_role("button", name=zh("Review my vote")).click()
    expect(phone.locator(".booth-choice")).to_have_text(["赞成", "弃权", zh("No choice")])
    assert layout_problems(phone, 360) == []
    screenshot(phone, "ballot-review-360.png", full_page=True)
    phone.get_by_role("button", name=zh("Submit my vote")).click()
    phone.wait_for_url(f"**/b/{ballot['id']}/receipt")
    assert layout_problems(phone, 360) == []
    screenshot(phone, "ballot-receipt-360.png", full_page=True)

    api.call("POST", f"/ballots/{ballot['id']}/close")
    screen = organizer.context.new_page()
    screen.goto(f"/meetings/{meeting['id']}/screen")
    expect(screen.locator(".screen-rows li")).to_have_count(3)
    expect(screen.locator(".screen-legend li")).to_have_text(["赞成", "反对", "弃权", zh("No choice")])
    screenshot(screen, "ballot-screen-per-item.png")
    screen.close()
