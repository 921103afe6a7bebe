"""An organizer handles a draft's opinions in a real browser against the real server: review them by article,
merge two near-duplicates, decide three items (采纳, 部分采纳, 未采纳), read the statistics, and export the
意见建议汇总表 (XLSX, prepared in the background) and the raw opinions (CSV) through the page's own controls.

Among the opinions are a phone number (masked everywhere), a <script> (shown as text, never run) and a
formula (=1+1, never a formula in a spreadsheet). The paste -> split -> publish part of the journey is
tests/browser/test_consult_organizer.py."""

import contextlib
import csv
import io
import re
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.backend import Backend

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
TITLE = "某某区生活垃圾分类管理办法（草案征求意见稿）"
DRAFT = f"""{TITLE}

第一条　为了推进生活垃圾分类，改善人居环境，制定本办法。
第二条　物业服务企业应当在收到居民投诉之日起三十日内处理完毕。
第三条　违反本办法规定的，由城市管理部门责令改正。
第四条　本办法自2026年1月1日起施行。
"""
# On 第二条: two near-duplicates (one 的 apart), a phone number, a script, a formula. One more on 第三条.
NEAR = (
    "建议将第二条中的“三十日内”改为“十五日内”，让居民的投诉能够得到及时处理。",
    "建议将第二条中的“三十日内”改为“十五日内”，让居民投诉能够得到及时处理。",
)
PHONE = "我家楼下的垃圾箱房经常满溢，请联系我13812345678，我可以带你们去看。"
SCRIPT = "<script>alert(1)</script>第二条应当规定处理结果要书面告知投诉人。"
FORMULA = "=1+1 第二条的处理期限应当从受理之日起算。"
OTHER = "建议第三条写明责令改正的期限，逾期不改正的怎么办。"


@pytest.fixture(scope="module")
def consultation(server):
    """A published draft of four articles, with six opinions as residents sent them through the public link."""
    from voting.consultations import operations as ops

    backend = Backend(server)

    def setup(db):
        draft, _ = ops.create_draft(None, DRAFT)
        ops.publish_draft(None, draft)
        db.session.flush()
        articles = [a.id for a in draft.articles]
        ids = {}
        for key, text in (("near0", NEAR[0]), ("near1", NEAR[1]), ("phone", PHONE), ("script", SCRIPT),
                          ("formula", FORMULA)):  # fmt: skip
            ids[key] = ops.record_opinion(draft.id, text, article_id=articles[1])[0].id
        ids["other"] = ops.record_opinion(draft.id, OTHER, article_id=articles[2])[0].id
        return draft.id, articles, ids

    draft_id, articles, ids = backend.run(setup)
    yield {"draft_id": draft_id, "articles": articles, "ids": ids}
    backend.close()


@pytest.fixture(scope="module")
def status_word():
    """An opinion status as the review pages word it (the catalog's "opinion status" context)."""
    from babel.messages.pofile import read_po

    with (ROOT / "voting/translations/zh/LC_MESSAGES/messages.po").open("rb") as f:
        catalog = read_po(f)

    def word(msgid):
        message = catalog.get(msgid, context="opinion status")
        assert message is not None and re.search(r"[\u4e00-\u9fff]", message.string), msgid
        return message.string

    return word


@pytest.fixture
def desktop(organizer):
    """A new tab of the signed-in organizer, 1280x800; any JavaScript dialog (alert, confirm) is recorded."""
    page = organizer.context.new_page()
    page.set_viewport_size({"width": 1280, "height": 800})
    page.dialogs = []

    def on_dialog(dialog):
        page.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.evaluate("() => alert('probe')")  # the watch works: a script that ran alert() would be seen
    assert page.dialogs == ["probe"]
    page.dialogs.clear()
    yield page
    page.close()


def overflows(page):
    """Tell whether the page is wider than its viewport (a sideways scroll on a small screen)."""
    return page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth + 1")


def decide(page, zh, outcome, reason="", reply=""):
    """Fill the handling form of the opinion page that is open and save it."""
    form = page.locator("form.review-handle")
    form.get_by_label(outcome, exact=True).check()
    form.get_by_label(zh("Reason"), exact=True).fill(reason)
    form.get_by_label(zh("Reply to the submitters"), exact=True).fill(reply)
    form.get_by_role("button", name=zh("Save the decision")).click()


def test_organizer_merges_handles_and_exports_opinions(desktop, consultation, zh, status_word, screenshot, traffic):
    page = desktop
    errors_before = len(traffic.errors)
    draft_id, ids = consultation["draft_id"], consultation["ids"]
    article_2 = consultation["articles"][1]

    # -- review: from the draft's page to its opinions by article -----------------------------------------------
    page.goto(f"/consultations/drafts/{draft_id}")
    page.get_by_role("link", name=zh("Review opinions")).click()
    page.wait_for_url(f"**/consultations/drafts/{draft_id}/review")
    expect(page.locator("h1")).to_have_text(zh("Review opinions"))
    expect(page.locator("main")).to_contain_text(zh(
        "%(total)s opinions (merged ones counted in their item), %(open)s still to be handled. "
        "Choose an article to read its opinions.", total=6, open=6))  # fmt: skip
    row = page.locator("table.review-articles tbody tr", has=page.get_by_role("link", name="第二条", exact=True))
    # 第二条: opinions, people, to handle, merged, and the way to its likely duplicates.
    expect(row.locator("td")).to_have_text(["5", "5", "5", "0", zh("Duplicates") + " 第二条"])
    screenshot(page, "consult-review-articles.png", full_page=True)

    # The article's opinions: the phone number masked, the script and the formula shown as typed.
    row.get_by_role("link", name="第二条", exact=True).click()
    page.wait_for_url(f"**/review/opinions?article={article_2}")
    expect(page.locator("h1")).to_have_text(f"{zh('Opinions on %(article)s', article='第二条')} (5)")
    table = page.locator("table.review-table")
    expect(table.locator("tbody tr")).to_have_count(5)
    expect(table).to_contain_text("请联系我138****5678，")
    expect(table).not_to_contain_text("13812345678")
    expect(table.locator("tr", has_text="第二条应当规定处理结果").locator(".review-text")).to_have_text(SCRIPT)
    expect(table.locator("tr", has_text="第二条的处理期限").locator(".review-text")).to_have_text(FORMULA)
    expect(table.locator(".review-status")).to_have_text([status_word("Received")] * 5)

    # -- merge the near-duplicates ------------------------------------------------------------------------------
    page.get_by_role("navigation", name=zh("Review")).get_by_role("link", name=zh("Likely duplicates")).click()
    page.wait_for_url(f"**/consultations/drafts/{draft_id}/review/duplicates")
    page.get_by_label(zh("Article")).select_option(str(article_2))
    suggest = page.get_by_role("button", name=zh("Suggest"))
    assert suggest.bounding_box()["height"] < 60  # a button, not stretched to the height of the label and list
    suggest.click()
    page.wait_for_url(f"**/review/duplicates?article={article_2}")
    expect(page.locator("main")).to_contain_text(
        zh("%(groups)s groups among %(num)s opinions, largest first.", groups=1, num=5)
    )
    group = page.locator("section.review-group")
    expect(group).to_have_count(1)
    expect(group.locator("h2")).to_contain_text(f"{zh('%(num)s opinion', num=2)} · {zh('%(num)s person', num=2)}")
    expect(group).to_contain_text(NEAR[0])
    expect(group).to_contain_text(NEAR[1])
    expect(group).not_to_contain_text("第二条应当规定")  # the other opinions are not suggested
    target = int(group.locator("input[name=target]").get_attribute("value"))
    assert target in (ids["near0"], ids["near1"])
    source = ids["near1"] if target == ids["near0"] else ids["near0"]
    screenshot(page, "consult-review-duplicates.png", full_page=True)
    group.get_by_role("button", name=zh("Merge %(num)s opinion into %(id)s", num=1, id=target)).click()
    expect(page.locator(".flash.success")).to_have_text(
        zh("%(merged)s opinions merged into opinion %(id)s, now raised by %(people)s people.", merged=1, id=target,
           people=2)
    )  # fmt: skip
    expect(page).to_have_url(re.compile(rf"/review/duplicates\?article={article_2}$"))
    expect(page.locator("section.review-group")).to_have_count(0)
    expect(page.get_by_role("status").filter(has_text=zh("No likely duplicates among these %(num)s opinions.",
                                                         num=4))).to_be_visible()  # fmt: skip

    # The by-article table counts the merge: 4 items (the merged one counted in its item) from 5 people.
    page.get_by_role("link", name=zh("By article")).click()
    expect(row.locator("td")).to_have_text(["4", "5", "4", "1", zh("Duplicates") + " 第二条"])

    # -- handle: 采纳 the merged item -----------------------------------------------------------------------------
    page.goto(f"/consultations/opinions/{target}")
    expect(page.locator("h1")).to_have_text(f"{zh('Opinion %(id)s', id=target)} {status_word('Received')}")
    facts = page.locator("dl.review-facts")
    expect(facts.locator("dt", has_text=zh("People")).locator("xpath=following-sibling::dd[1]")).to_have_text("2")
    merged = page.locator("section[aria-labelledby=merged-heading]")
    expect(merged.locator("h2")).to_have_text(zh("%(num)s opinion merged into this one", num=1))
    expect(merged.locator("li")).to_have_count(1)
    expect(merged.locator("li a").first).to_have_text(str(source))
    screenshot(page, "consult-review-opinion.png", full_page=True)
    reply = "感谢您的建议，第二条已改为十五日内处理完毕。"
    decide(page, zh, zh("Adopted (采纳)"), reason="期限过长，居民反映强烈。", reply=reply)
    expect(page.locator(".flash.success")).to_have_text(zh("Decision saved."))
    expect(page.locator("h1 .review-status")).to_have_text(status_word("Adopted"))
    expect(page.get_by_label(zh("Adopted (采纳)"), exact=True)).to_be_checked()
    expect(page.get_by_label(zh("Reply to the submitters"), exact=True)).to_have_value(reply)
    # The merged opinion points to its item and has no form of its own.
    page.goto(f"/consultations/opinions/{source}")
    expect(page.locator("h1 .review-status")).to_have_text(status_word("Merged"))
    expect(page.locator("main")).to_contain_text(zh("Merged into opinion %(id)s; its submitter sees that item's "
                                                    "decision and reply.", id=target))  # fmt: skip
    expect(page.locator("form.review-handle")).to_have_count(0)

    # -- 部分采纳 the phone opinion: the form asks for the reason first ------------------------------------------
    page.goto(f"/consultations/opinions/{ids['phone']}")
    expect(page.locator("blockquote.review-full")).to_have_text(PHONE.replace("13812345678", "138****5678"))
    decide(page, zh, zh("Partly adopted (部分采纳)"))
    reason = page.get_by_label(zh("Reason"), exact=True)
    expect(page.get_by_role("alert")).to_have_text(zh("Give the reason why the opinion is not (fully) adopted."))
    expect(reason).to_have_attribute("aria-invalid", "true")  # the refusal is said next to the box to fill in
    expect(reason).to_have_attribute("aria-describedby", re.compile(r"\breason-error\b"))
    expect(page.get_by_label(zh("Partly adopted (部分采纳)"), exact=True)).to_be_checked()  # the choice is kept
    expect(page.locator("h1 .review-status")).to_have_text(status_word("Received"))
    screenshot(page, "consult-review-opinion-refused.png", full_page=True)
    decide(page, zh, zh("Partly adopted (部分采纳)"), reason="箱房清运频次由第三条的实施细则规定。",
           reply="您反映的情况已转街道处理。")  # fmt: skip
    expect(page.locator(".flash.success")).to_have_text(zh("Decision saved."))
    expect(page.locator("h1 .review-status")).to_have_text(status_word("Partly adopted"))

    # -- 未采纳 the script: on its page it is text -----------------------------------------------------------------
    page.goto(f"/consultations/opinions/{ids['script']}")
    expect(page.locator("blockquote.review-full")).to_have_text(SCRIPT)
    decide(page, zh, zh("Not adopted (未采纳)"), reason="书面告知已由信访条例规定。")
    expect(page.locator(".flash.success")).to_have_text(zh("Decision saved."))
    expect(page.locator("h1 .review-status")).to_have_text(status_word("Not adopted"))

    # The list shows every decision, the merged opinion pointing to its item.
    page.goto(f"/consultations/drafts/{draft_id}/review/opinions?article={article_2}")
    table = page.locator("table.review-table")
    words = {
        ids["near0"]: status_word("Adopted") if target == ids["near0"] else status_word("Merged"),
        ids["near1"]: status_word("Adopted") if target == ids["near1"] else status_word("Merged"),
        ids["phone"]: status_word("Partly adopted"),
        ids["script"]: status_word("Not adopted"),
        ids["formula"]: status_word("Received"),
    }
    for opinion_id, word in words.items():
        line = table.locator("tbody tr", has=page.get_by_role("link", name=str(opinion_id), exact=True))
        expect(line.locator(".review-status")).to_have_text(word)
    into = table.locator("tbody tr", has=page.get_by_role("link", name=str(source), exact=True))
    expect(into.get_by_role("link", name=zh("into %(id)s", id=target))).to_be_visible()
    expect(table).not_to_contain_text("13812345678")
    screenshot(page, "consult-review-list.png", full_page=True)

    # -- statistics ------------------------------------------------------------------------------------------
    page.goto(f"/consultations/drafts/{draft_id}")
    page.get_by_role("link", name=zh("Statistics and exports")).click()
    page.wait_for_url(f"**/consultations/drafts/{draft_id}/report")
    expect(page.locator("h1")).to_have_text(zh("Opinions on the draft: statistics"))
    counts = page.locator("dl.report-counts")
    # Six opinions from six people; five items after the merge; adopted and partly adopted, out of three decided.
    expect(counts.locator("dd")).to_have_text(["6", "6", "5", "66.7%"])
    expect(counts.locator("dt")).to_have_text(
        [zh("Opinions received"), zh("People"), zh("Items after merging"), zh("Adoption rate")]
    )
    outcomes = page.locator("table.report-table").first
    expect(outcomes.locator("tbody th")).to_have_text([
        status_word("Adopted"), status_word("Partly adopted"), status_word("Not adopted"), zh("Reported (decided)"),
        zh("Pending a decision"), zh("Opinions merged into another"),
    ])  # fmt: skip
    expect(outcomes.locator("tbody td")).to_have_text(["1", "1", "1", "3", "2", "1"])
    # The heat map counts opinions as received: five on 第二条, one on 第三条 (with the screen reader's words).
    tiles = [f"{n} {zh('opinions')}, ({n} {zh('people')})" for n in (0, 5, 1, 0)]
    expect(page.locator("ol.heat-map li .heat-count")).to_have_text(tiles)
    definitions = page.locator(".report-definitions summary")
    expect(definitions).to_have_text(zh("How these figures are counted"))
    # The summary is a flex box, which loses the browser's triangle: one is drawn, so it reads as something to open.
    assert definitions.evaluate("el => getComputedStyle(el, '::before').content") not in ("none", "normal", '""')
    screenshot(page, "consult-report.png", full_page=True)

    # -- exports ----------------------------------------------------------------------------------------------
    with page.expect_download() as caught:
        page.get_by_role("link", name=zh("Download every opinion as received (CSV, without contact details)")).click()
    raw = Path(caught.value.path()).read_bytes()
    assert caught.value.suggested_filename.endswith(".csv")
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    text = raw[3:].decode("utf-8")
    assert "13812345678" not in text
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 1 + 6, rows  # headers, then every opinion as received, merged ones included
    cells = [cell for line in rows[1:] for cell in line]
    assert "'" + FORMULA in cells and FORMULA not in cells
    assert PHONE.replace("13812345678", "138****5678") in cells
    assert SCRIPT in cells  # CSV is not markup: the text as typed
    assert sorted(line[7] for line in rows[1:]) == sorted([*words.values(), status_word("Received")])

    # The 汇总表 is prepared in the background: the progress page offers the file when it is ready.
    exports = page.locator("section.downloads")
    expect(exports.get_by_label(zh("Summary of opinions, Excel (.xlsx)"))).to_be_checked()
    exports.get_by_role("button", name=zh("Export"), exact=True).click()
    page.wait_for_url(re.compile(rf"/consultations/drafts/{draft_id}/report/exports/[A-Za-z0-9_-]{{22}}$"))
    job_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("h1")).to_contain_text(zh("Export: %(name)s", name="\0").split("\0")[0])
    download = page.locator("[data-export-download]")
    expect(download).to_be_visible(timeout=30_000)
    expect(page.locator("[data-export-message]")).to_have_text(zh("The file is ready."))
    expect(page.locator("[data-export-count]")).to_have_text(zh("Prepared %(done)s of %(total)s rows", done=5,
                                                                total=5))  # fmt: skip
    expect(page.locator("[data-export-refresh]")).to_be_hidden()
    screenshot(page, "consult-report-export.png", full_page=True)
    with page.expect_download() as caught:
        download.click()
    assert caught.value.suggested_filename.endswith(".xlsx")
    workbook = zipfile.ZipFile(caught.value.path())
    sheet = workbook.read("xl/worksheets/sheet1.xml").decode("utf-8")
    _remove_export(job_id)
    merged_text = NEAR[0] if target == ids["near0"] else NEAR[1]
    other_text = NEAR[1] if target == ids["near0"] else NEAR[0]
    assert merged_text in sheet and other_text not in sheet  # one item for the merged group
    for word in ("Adopted", "Partly adopted", "Not adopted", "Received"):
        assert f"<t>{status_word(word)}</t>" in sheet, word
    assert reply in sheet
    assert "138****5678" in sheet and "13812345678" not in sheet
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in sheet and "<script>" not in sheet
    assert "<f>" not in sheet and "=1+1" in sheet  # an inline string, never a formula
    # The merged item stands for two opinions from two people: its row has the numbers 2 and 2.
    item = re.search(r"<row [^>]*>(?:(?!</row>).)*" + re.escape(merged_text) + r".*?</row>", sheet).group(0)
    assert re.findall(r"<v>(\d+)</v>", item)[1:] == ["2", "2"], item

    # -- on a phone the review list stays within the screen -------------------------------------------------------
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/consultations/drafts/{draft_id}/review/opinions")
    expect(page.locator("h1")).to_have_text(f"{zh('All opinions')} (6)")
    expect(page.locator("table.review-table tbody tr")).to_have_count(6)
    assert not overflows(page)
    screenshot(page, "consult-review-list-phone.png", full_page=True)

    # The script never ran: no dialog on any page, no script error.
    assert page.dialogs == []
    assert traffic.errors[errors_before:] == []


def _remove_export(job_id):
    """The server keeps exports in the repository's instance/exports/: take this test's away."""
    folder = ROOT / "instance" / "exports"
    for path in folder.glob(f"{job_id}.*"):
        path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when empty: another run's exports stay
