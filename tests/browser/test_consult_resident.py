"""A resident's journey in WeChat's browser (390 and 360 px wide), against the real server: a contact point's QR
poster -> the draft -> an article -> an opinion -> the tracking code -> the tracking page, which shows the reply
once the organizer has handled the opinion. Also without JavaScript, and on the smallest phone."""

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.support.backend import Backend

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
DRAFT = ROOT / "tests" / "consultations" / "drafts" / "01_district_regulation.txt"

BIG_TARGETS = """() => {
  const small = [];
  for (const el of document.querySelectorAll('main a.button, main button, main summary, .topbar a')) {
    const box = el.getBoundingClientRect();
    if (box.width && (box.height < 44 || box.width < 44)) {
      small.push(`${el.innerText.trim()} ${box.width}x${box.height}`);
    }
  }
  return small;
}"""


@pytest.fixture(scope="module")
def consultation(server):
    """A published draft with an explanation, and a contact point (with its poster code) under a district point."""
    from voting.consultations import operations as ops

    backend = Backend(server)

    def setup(db):
        draft, _ = ops.create_draft(
            None,
            DRAFT.read_text(encoding="utf-8"),
            explanation="为了规范住宅小区物业管理活动，区人大常委会起草了本规定。\n现向社会公开征求意见。",
        )
        ops.publish_draft(None, draft)
        district = ops.create_contact_point(None, "杨浦区人大常委会基层立法联系点（居民旅程）", "district")
        point = ops.create_contact_point(None, "殷行街道基层立法联系点", "point", district)
        db.session.flush()
        return draft.id, [a.id for a in draft.articles], point.id, point.code, point.name

    draft_id, article_ids, point_id, code, name = backend.run(setup)
    yield {"backend": backend, "draft_id": draft_id, "articles": article_ids, "point_id": point_id,
           "code": code, "point_name": name}  # fmt: skip
    backend.close()


def handle(consultation, tracking_code, status, reply):
    """Play the organizer: decide on the opinion and reply to its sender."""
    from sqlalchemy import select

    from voting.consultations.models import Opinion
    from voting.timeutil import utcnow

    def work(db):
        opinion = db.session.scalar(select(Opinion).where(Opinion.tracking_code == tracking_code.replace("-", "")))
        opinion.transition(status)
        opinion.handled_at, opinion.reply = utcnow(), reply
        return opinion.contact_point_id, opinion.submitter_type, opinion.contact is not None

    return consultation["backend"].run(work)


def status_word(msgid):
    """An opinion status as the tracking page words it (the catalog's "opinion status" context)."""
    from babel.messages.pofile import read_po

    with (ROOT / "voting/translations/zh/LC_MESSAGES/messages.po").open("rb") as f:
        translated = read_po(f).get(msgid, context="opinion status").string
    assert translated, msgid
    return translated


def no_sideways_scroll(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{page.url}: {width} px wide"


def test_a_resident_follows_a_poster_to_an_article_and_sees_the_reply(
    server, new_context, consultation, zh, screenshot, traffic
):
    from voting.consultations.models import OpinionStatus

    page = new_context("phone").new_page()
    draft_id, code = consultation["draft_id"], consultation["code"]
    # The QR poster's link: the drafts open for comment, attributed to the point.
    page.goto(f"/c?p={code}")
    expect(page.locator("h1")).to_have_text(zh("Draft laws open for comment"))
    expect(page.locator(".consult-point")).to_have_text(
        zh("Welcome! You came through %(point)s.", point=consultation["point_name"])
    )
    screenshot(page, "consult-resident-1-poster.png", full_page=True)
    page.get_by_role("link", name="上海市杨浦区住宅小区物业管理若干规定").click()
    page.wait_for_url(f"**/c/drafts/{draft_id}?p={code}")
    expect(page.locator("h1")).to_contain_text("上海市杨浦区住宅小区物业管理若干规定")
    expect(page.locator(".consult-deadline")).to_contain_text(
        zh("Comments until %(deadline)s", deadline="\0").split("\0")[0]
    )
    no_sideways_scroll(page)
    screenshot(page, "consult-resident-2-draft.png")

    # The explanation and the contents fold open without a script.
    page.get_by_text(zh("Explanation of the draft (起草说明)")).click()
    expect(page.get_by_text("现向社会公开征求意见。")).to_be_visible()
    page.locator(".consult-toc > summary").click()
    page.locator(".consult-toc summary", has_text="第二章").click()
    screenshot(page, "consult-resident-3-contents.png")
    page.locator(".consult-toc a", has_text="第四条").click()
    article = page.locator(f"#a{consultation['articles'][3]}")
    expect(article).to_be_in_viewport()
    expect(article.locator("h3")).to_have_text("第四条")
    screenshot(page, "consult-resident-4-article.png")

    # The article's "提意见": the form quotes it and says who keeps what, and for how long.
    article.get_by_role("link", name=zh("Comment")).click()
    page.wait_for_url(re.compile(rf"/c/drafts/{draft_id}/opinion\?article=\d+&p={code}$"))
    expect(page.locator("h1")).to_have_text(zh("Your opinion on %(article)s", article="第四条"))
    expect(page.locator("blockquote")).to_contain_text("业主在物业管理活动中，享有下列权利")
    expect(page.locator(".consult-privacy")).to_contain_text(
        zh("the office of the People's Congress Standing Committee")
    )
    text = "建议在第四条增加一项：业主有权查阅物业服务企业的收支情况。<b>谢谢</b>"
    page.get_by_label(zh("Your opinion")).fill(text)
    expect(page.locator("#text-count")).to_have_text(zh("%(count)s of %(max)s characters", count=len(text), max=5000))
    page.get_by_label(zh("Name (optional)")).fill("王阿姨")
    no_sideways_scroll(page)
    screenshot(page, "consult-resident-5-form.png", full_page=True)
    page.get_by_role("button", name=zh("Send my opinion")).click()

    # The tracking code, large and grouped, with a copy button (the script shows it) and the screenshot advice.
    expect(page.locator("h1")).to_contain_text(zh("Thank you, your opinion was received"))
    tracking = page.locator(".consult-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{5}-[A-Z0-9]{5}", tracking), tracking
    expect(page.get_by_role("button", name=zh("Copy the tracking code"))).to_be_visible()
    expect(page.get_by_text(zh("Take a screenshot or write the code down. With it you can see later what became "
                               "of your opinion and read the reply."))).to_be_visible()  # fmt: skip
    no_sideways_scroll(page)
    screenshot(page, "consult-resident-6-code.png", full_page=True)
    page.get_by_role("link", name=zh("See the status of my opinion")).click()
    expect(page.locator(".consult-status-word")).to_have_text(status_word("Received"))
    screenshot(page, "consult-resident-7-received.png", full_page=True)

    # The organizer adopts it and replies; the resident's page shows it, the phone number in the reply masked.
    reply = "感谢您的建议。第四条已增加第（六）项。如有疑问请致电021-65432100。"
    point_id, submitter, kept_contact = handle(consultation, tracking, OpinionStatus.ADOPTED, reply)
    assert (point_id, submitter, kept_contact) == (consultation["point_id"], "resident", True)
    page.reload()
    expect(page.locator(".consult-status-word")).to_have_text(status_word("Adopted"))
    expect(page.locator(".consult-reply")).to_contain_text("如有疑问请致电021-****2100。")
    expect(page.locator("main")).not_to_contain_text("王阿姨")
    page.get_by_text(zh("The opinion I sent")).click()
    expect(page.locator("main")).to_contain_text("<b>谢谢</b>")  # shown as typed, not as markup
    no_sideways_scroll(page)
    screenshot(page, "consult-resident-8-reply.png", full_page=True)
    assert page.evaluate(BIG_TARGETS) == []

    # Typed by hand, in small letters and without the dash, the code finds the same opinion.
    page.goto(f"/c/track?p={code}")
    page.get_by_label(zh("Tracking code")).fill(tracking.lower().replace("-", ""))
    page.get_by_role("button", name=zh("Look it up")).click()
    expect(page.locator(".consult-status-word")).to_have_text(status_word("Adopted"))

    outside = sorted({url for url in traffic.urls if urlsplit(url).hostname != "127.0.0.1"})
    assert outside == [] and traffic.errors == []


def test_the_smallest_phone_and_no_javascript(server, browser, consultation, zh, screenshot, traffic):
    """360 px wide, scripts off (some in-app browsers block them): read, comment, get the code, track it."""
    from tests.browser.conftest import WECHAT_UA

    context = browser.new_context(viewport={"width": 360, "height": 780}, user_agent=WECHAT_UA, is_mobile=True,
                                  has_touch=True, device_scale_factor=2, locale="zh-CN", java_script_enabled=False,
                                  base_url=server.base_url)  # fmt: skip
    context.on("request", lambda request: traffic.urls.append(request.url))
    try:
        page = context.new_page()
        draft_id, code = consultation["draft_id"], consultation["code"]
        page.goto(f"/c/drafts/{draft_id}?p={code}")
        no_sideways_scroll(page)
        assert page.evaluate(BIG_TARGETS) == []
        screenshot(page, "consult-resident-360-draft.png")
        page.get_by_role("link", name=zh("Comment on the whole draft")).first.click()
        expect(page.locator("h1")).to_have_text(zh("Your opinion on the whole draft"))
        expect(page.locator("#text-count")).to_be_hidden()  # the count needs the script; the limit is written
        expect(page.get_by_text(zh("Write in your own words. At most %(max)s characters.", max=5000))).to_be_visible()
        no_sideways_scroll(page)
        screenshot(page, "consult-resident-360-form.png", full_page=True)
        send = page.get_by_role("button", name=zh("Send my opinion"))
        send.click()  # empty: refused, with the reason next to the box
        expect(page.get_by_role("alert")).to_have_text(zh("Write your opinion before sending it."))
        page.get_by_label(zh("Your opinion")).fill("总体赞成，建议尽快出台。")
        page.get_by_role("button", name=zh("Send my opinion")).click()
        tracking = page.locator(".consult-code").inner_text().strip()
        assert re.fullmatch(r"[A-Z0-9]{5}-[A-Z0-9]{5}", tracking)
        expect(page.get_by_role("button", name=zh("Copy the tracking code"))).to_be_hidden()  # copying needs the script
        no_sideways_scroll(page)
        screenshot(page, "consult-resident-360-code.png", full_page=True)
        page.get_by_role("link", name=zh("See the status of my opinion")).click()
        expect(page.locator(".consult-status-word")).to_have_text(status_word("Received"))
        no_sideways_scroll(page)
    finally:
        context.close()
