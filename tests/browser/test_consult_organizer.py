"""An organizer puts a draft out for comment in a real browser against the real server: paste a messy draft,
see the splitter's warnings, correct one article, publish; then set up contact points and print a poster."""

import importlib.util
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# Pasted from a web page: the title on two lines, 总 则 without 第一章, full-width spaces, a bracketed title,
# an article glued to its text, a hard line break before a cross-reference, and one real mistake: 第四条 twice.
MESSY = """某某区文明养犬管理规定
（草案征求意见稿）

总　则

第一条【立法目的】为了规范养犬行为，保障公民人身安全，维护公共秩序，制定本规定。
第二条　本规定适用于本区行政区域内的养犬及其相关管理活动。
第三条　养犬人应当依照本规定
第二条规定的范围办理养犬登记，并为犬只接种狂犬病疫苗。

管理措施

第四条　禁止携犬进入学校、医院、商场等公共场所。
携犬出户的，应当束犬链并由完全民事行为能力人牵领。
第四条　本规定自2025年1月1日起施行。
"""


def _web_target_checks():
    """The 48 px target and focus-ring measurements of tests/web/test_targets.py."""
    path = Path(__file__).resolve().parents[1] / "web" / "test_targets.py"
    spec = importlib.util.spec_from_file_location("_web_targets_consult", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MEASURE_TARGETS, module.FOCUS_RING


MEASURE_TARGETS, FOCUS_RING = _web_target_checks()


def target_problems(page):
    """Controls smaller than 48 px, and controls the keyboard reaches without a visible focus ring."""
    where = page.url
    problems = [f"{where}: small target {s}" for s in page.evaluate(MEASURE_TARGETS)]
    page.locator("a.skip").focus()
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUS_RING)
        if focused is None:
            break
        if not focused["ring"]:
            problems.append(f'{where}: no focus ring on {focused["tag"]} "{focused["text"]}"')
    return problems


def overflows(page):
    """Tell whether the page is wider than its viewport (a sideways scroll on a small screen)."""
    return page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth + 1")


@pytest.fixture
def desktop(organizer):
    """A new tab of the signed-in organizer, 1280x800."""
    page = organizer.context.new_page()
    page.set_viewport_size({"width": 1280, "height": 800})
    yield page
    page.close()


def test_organizer_pastes_corrects_and_publishes_a_draft(desktop, zh, screenshot, traffic):
    page = desktop
    errors_before = len(traffic.errors)
    problems = []

    # From the main navigation to the new draft form.
    page.goto("/meetings")
    page.get_by_role("navigation", name=zh("Main")).get_by_role("link", name=zh("Legislative consultation")).click()
    page.wait_for_url("**/consultations")
    expect(page.locator("h1")).to_have_text(zh("Legislative consultation"))
    page.get_by_role("link", name=zh("New draft")).click()
    page.wait_for_url("**/consultations/new")
    page.get_by_label(zh("Text of the draft")).fill(MESSY)
    page.get_by_label(zh("Explanation of the draft (起草说明)")).fill("为了倡导文明养犬，起草本规定。")
    screenshot(page, "consult-new.png", full_page=True)
    problems += target_problems(page)

    # The upload script posts it, shows the verdict, then opens the split.
    page.get_by_role("button", name=zh("Split the draft")).click()
    page.wait_for_url(re.compile(r"/consultations/drafts/\d+$"))
    draft_path = re.search(r"/consultations/drafts/\d+$", page.url).group(0)
    expect(page.locator("h1")).to_have_text("某某区文明养犬管理规定（草案征求意见稿）")
    expect(page.get_by_role("status").first).to_contain_text(zh("The draft is split into %(articles)s articles. "
                                                                "Check the split below, correct it where needed, "
                                                                "then publish.", articles=5))  # fmt: skip

    # The warning names the article and links to it; the article is marked.
    warning = page.locator(".cadmin-warnings a")
    expect(warning).to_have_count(1)
    expect(warning).to_have_text(zh("%(label)s appears more than once.", label="第四条"))
    article = page.locator("#article-4")
    expect(article).to_have_class(re.compile(r"\bflagged\b"))
    expect(page.locator("#article-2 .cadmin-paragraph")).to_have_text(
        "养犬人应当依照本规定第二条规定的范围办理养犬登记，并为犬只接种狂犬病疫苗。"  # the cross-reference stayed
    )
    expect(page.locator(".cadmin-heading h2")).to_have_text(["总则", "管理措施"])
    screenshot(page, "consult-split-warnings.png", full_page=True)
    problems += target_problems(page)

    # Publishing now is refused, with the reason.
    page.get_by_role("button", name=zh("Publish for comment")).first.click()
    expect(page.get_by_role("alert")).to_have_text(
        zh("%(label)s appears twice. Correct the split first.", label="第四条")
    )

    # Follow the warning to the article and correct its number.
    page.locator(".cadmin-warnings a").click()
    expect(page).to_have_url(re.compile(r"#article-4$"))
    article.get_by_role("link", name=zh("Correct %(label)s", label="第四条")).click()
    page.wait_for_url(f"**{draft_path}/articles/4")
    expect(page.get_by_label(zh("Text"), exact=True)).to_have_value("本规定自2025年1月1日起施行。")
    page.get_by_label(zh("Article number")).fill("5")
    page.get_by_label(zh("Article title (optional)")).fill("施行日期")
    screenshot(page, "consult-correct-article.png", full_page=True)
    problems += target_problems(page)
    page.get_by_role("button", name=zh("Save the article")).click()
    page.wait_for_url(f"**{draft_path}#article-4")
    expect(page.locator(".cadmin-ok")).to_be_visible()
    expect(page.locator("#article-4 h3")).to_have_text("第五条【施行日期】")

    # Publish.
    page.get_by_role("button", name=zh("Publish for comment")).first.click()
    expect(page.locator(".cadmin-status .cadmin-state")).to_have_text(zh("Open for comment"))
    expect(page.get_by_role("button", name=zh("Publish for comment"))).to_have_count(0)
    expect(page.locator("button[name=op]")).to_have_count(0)  # no more corrections
    screenshot(page, "consult-published.png", full_page=True)
    problems += target_problems(page)

    # The list shows it open for comment.
    page.goto("/consultations")
    row = page.locator("tr", has=page.get_by_role("link", name="某某区文明养犬管理规定（草案征求意见稿）"))
    expect(row.locator(".cadmin-state")).to_have_text(zh("Open for comment"))
    screenshot(page, "consult-drafts.png")

    # On a phone-sized window the pages stay within the screen.
    page.set_viewport_size({"width": 360, "height": 780})
    for path in ("/consultations", draft_path, f"{draft_path}/details"):
        page.goto(path)
        assert not overflows(page), path

    assert problems == []
    assert traffic.errors[errors_before:] == []


def test_organizer_sets_up_contact_points_and_prints_a_poster(desktop, zh, screenshot, traffic):
    page = desktop
    errors_before = len(traffic.errors)
    page.goto("/consultations/points")
    if page.get_by_role("heading", name=zh("Set up the district contact point")).count():
        page.get_by_label(zh("Name of the point")).fill("杨浦区人大常委会基层立法联系点")
        page.get_by_role("button", name=zh("Add")).click()
    district = page.locator(".cadmin-points > li").first
    expect(district.locator("strong").first).to_have_text("杨浦区人大常委会基层立法联系点")
    district.get_by_role("link", name=zh("Add a point below")).first.click()
    page.get_by_label(zh("Name of the point")).fill("殷行街道基层立法联系点")
    page.get_by_label(zh("Address (optional)")).fill("殷行路1号")
    page.get_by_role("button", name=zh("Add")).click()
    point = page.locator("li.cadmin-point", has_text="殷行街道基层立法联系点").last
    expect(point).to_be_visible()
    point.get_by_role("link", name=zh("Add a collection point")).click()
    page.get_by_label(zh("Name of the point")).fill("开鲁新村采集点")
    page.get_by_role("button", name=zh("Add")).click()
    expect(page.locator("li.cadmin-point li.cadmin-point li.cadmin-point strong")).to_contain_text(["开鲁新村采集点"])
    screenshot(page, "consult-points.png", full_page=True)
    problems = target_problems(page)

    # The poster is a PDF the browser can fetch with the organizer's session.
    poster = page.get_by_role("link", name=f"{zh('Poster (PDF)')} 殷行街道基层立法联系点", exact=True)
    href = poster.get_attribute("href")
    response = page.request.get(href)
    assert response.ok and response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")
    assert problems == []
    assert traffic.errors[errors_before:] == []
