"""What organizers and deputies see in a real browser, against the real server."""

import csv
import io
import re
import time
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from voting.qr import qr_svg

pytestmark = pytest.mark.browser


def set_sign_in(page, meeting, open_):
    """Open or close sign-in from the meeting page, unless it already is."""
    page.goto(f"{meeting}?status=present")  # the short list: all 300 rows take half a second to render
    button = page.locator(f"form[action$='/signin/{'open' if open_ else 'close'}'] button")
    if button.count():
        # Done once the redirect starts; the full list it leads to is not needed here.
        with page.expect_navigation(wait_until="commit"):
            button.click()
    state = page.request.get(f"{meeting}/screen.json").json()["state"]
    assert state == ("signin_open" if open_ else "signin_closed")


def current_code_url(organizer, meeting, min_seconds_shown=0.0):
    """The sign-in URL the big screen shows now, waiting for the next one if this one is about to rotate."""
    while True:
        state = organizer.request.get(f"{meeting}/screen.json").json()
        assert state["state"] == "signin_open", state
        if state["seconds_left"] >= min_seconds_shown:
            return state["url"]
        time.sleep(state["seconds_left"] + 0.2)


def bind(page, link, name, zh):
    """Open an activation link, check whose card it is, and bind this phone."""
    page.goto(link)
    expect(page.locator(".card .name")).to_have_text(name)
    button = page.locator("form[action*='/a/'] button")
    expect(button).to_have_text(zh("Bind this phone"))
    button.click()
    page.wait_for_url("**/me")
    expect(page.locator("h1")).to_have_text(zh("Welcome, %(name)s", name=name))


def expect_message(page, role, text):
    """Expect a status or alert message reading exactly ``text`` (a string or a pattern) among the page's others."""
    expect(page.get_by_role(role).filter(has_text=text)).to_have_text(text)


def with_time(zh, msgid, **params):
    """A pattern for a translated message that shows a clock time (HH:MM:SS)."""
    return re.compile(re.escape(zh(msgid, time="\0", **params)).replace("\0", r"\d{2}:\d{2}:\d{2}"))


def layout_problems(page, has_button):
    """List what makes the page awkward on a 360 px phone: sideways scroll, a missing or small main button."""
    problems = []
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > 360:
        problems.append(f"{page.url}: scrollWidth {width} > 360")
    buttons = page.locator("main .button.primary")
    if has_button and not buttons.count():
        problems.append(f"{page.url}: no main button")
    elif has_button and buttons.first.bounding_box()["height"] < 48:
        problems.append(f"{page.url}: main button is {buttons.first.bounding_box()['height']} px tall")
    return problems


def test_organizer_first_login_opens_sign_in_and_the_big_screen(server, new_context, zh, screenshot):
    page = new_context("desktop").new_page()
    page.goto("/")
    page.wait_for_url("**/login")
    expect(page.locator("h1")).to_have_text(zh("Staff sign-in"))
    expect(page.get_by_label(zh("Username"))).to_be_visible()
    screenshot(page, "login.png")

    page.get_by_label(zh("Username")).fill("admin")
    page.get_by_label(zh("Password"), exact=True).fill(server.admin_password)
    page.locator("main form button[type=submit]").click()  # its wording is checked on its own below
    # The one-time password works once: the next stop is choosing one's own.
    page.wait_for_url("**/account/password")
    expect_message(page, "status", zh("Please choose your own password before you continue."))
    page.goto("/meetings")
    page.wait_for_url("**/account/password")

    page.get_by_label(zh("Current password")).fill(server.admin_password)
    page.get_by_label(zh("New password"), exact=True).fill("admin-browser-test-2027")
    page.get_by_label(zh("New password again")).fill("admin-browser-test-2027")
    page.get_by_role("button", name=zh("Save")).click()
    page.wait_for_url("**/meetings")
    expect(page.locator("h1")).to_have_text(zh("Meetings"))

    page.get_by_role("link", name=re.compile("【演示】")).click()
    expect(page.locator("h1")).to_contain_text("【演示】区第十八届人民代表大会第三次会议")
    expect(page.locator('[data-count="expected"]')).to_have_text("300")
    meeting = urlsplit(page.url).path
    open_button = page.get_by_role("button", name=zh("Open sign-in"), exact=True)
    if open_button.count():  # still planned unless another test opened it first
        open_button.click()
        expect_message(page, "status", zh("Sign-in is open. Put the big screen on the projector."))
    expect(page.get_by_role("button", name=zh("Close sign-in"))).to_be_visible()
    screenshot(page, "meeting.png")

    # The big-screen link opens a new tab; the projector shows it at 1280x720.
    with page.context.expect_page() as new_page:
        page.get_by_role("link", name=zh("Big screen")).click()
    screen = new_page.value
    screen.wait_for_load_state()
    assert urlsplit(screen.url).path == f"{meeting}/screen"
    assert screen.viewport_size == {"width": 1280, "height": 720}
    expect(screen.locator("#qr svg")).to_be_visible()
    expect(screen.locator("#qr svg path")).to_have_attribute("d", re.compile(r"^M\d+ \d+h"))
    expect(screen.locator(".counts div", has_text="应到").locator("dd")).to_have_text("300")
    expect(screen.locator(".counts dt", has_text="实到")).to_be_visible()
    expect(screen.locator("#qr-caption")).to_have_text(zh("Scan with your bound phone to sign in"))


def test_staff_login_says_log_in_not_check_in(new_context):
    page = new_context("desktop").new_page()
    page.goto("/login")
    button = page.locator("main form button[type=submit]")
    assert "登录" in button.inner_text()
    assert "签到" not in button.inner_text() + page.title()


def test_deputy_binds_phone_and_signs_in_live_on_the_big_screen(
    server, organizer, demo_meeting, new_context, zh, screenshot
):
    name, link = server.activation_links[0]
    phone = new_context("phone").new_page()
    assert "MicroMessenger/8.0" in phone.evaluate("navigator.userAgent")
    phone.goto(link)
    expect(phone.locator(".card .name")).to_have_text(name)
    bind_button = phone.get_by_role("button", name=zh("Bind this phone"))
    expect(bind_button).to_contain_text("绑定")
    screenshot(phone, "activate.png")
    bind_button.click()
    phone.wait_for_url("**/me")
    expect(phone.locator("h1")).to_have_text(zh("Welcome, %(name)s", name=name))
    expect_message(phone, "status", zh("This phone is now bound to %(name)s.", name=name))

    set_sign_in(organizer, demo_meeting, open_=True)
    screen = organizer.context.new_page()
    screen.goto(f"{demo_meeting}/screen")
    present = screen.locator('[data-count="present"]')
    before = int(present.inner_text())
    url = current_code_url(organizer, demo_meeting, min_seconds_shown=3)
    assert url.startswith(server.base_url + "/c/")
    # The QR code on the screen encodes exactly this URL (same modules as the server draws for it).
    expected_modules = re.search(r' d="([^"]+)"', qr_svg(url)).group(1)
    expect(screen.locator("#qr svg path")).to_have_attribute("d", expected_modules)

    phone.goto(url)
    expect(phone.locator("h1")).to_have_text("【演示】区第十八届人民代表大会第三次会议")
    expect(phone.locator(".card .name")).to_have_text(name)
    sign_in = phone.get_by_role("button", name=zh("Sign in"), exact=True)
    screenshot(phone, "scan.png")

    # Watch the count on the screen page itself: a reload would lose the marker and the observer.
    screen.evaluate("""() => {
        window.__sameDocument = true;
        const el = document.querySelector('[data-count="present"]');
        new MutationObserver(() => { window.__changedAt = window.__changedAt || Date.now(); })
            .observe(el, {childList: true, characterData: true, subtree: true});
    }""")
    tapped_at = time.time()
    sign_in.click()
    phone.wait_for_load_state()
    expect_message(phone, "status", with_time(zh, "%(name)s, you are signed in (at %(time)s).", name=name))
    screenshot(phone, "signed-in.png")
    expect(present).to_have_text(str(before + 1), timeout=2000)
    changed_at = screen.evaluate("window.__changedAt") / 1000
    assert screen.evaluate("window.__sameDocument") is True
    delay = changed_at - tapped_at
    print(f"big screen showed the sign-in {delay * 1000:.0f} ms after the tap")
    assert delay <= 1.0
    screenshot(screen, "screen.png")

    # Scanning again changes nothing and says so.
    phone.goto(current_code_url(organizer, demo_meeting))
    expect_message(phone, "status", with_time(zh, "%(name)s, you are already signed in (at %(time)s).", name=name))
    expect(phone.get_by_role("button", name=zh("Sign in"), exact=True)).to_have_count(0)
    expect(present).to_have_text(str(before + 1))
    screen.close()


def test_code_from_an_earlier_sign_in_round_is_refused(server, organizer, demo_meeting, new_context, zh):
    name, link = server.activation_links[1]
    phone = new_context("phone").new_page()
    bind(phone, link, name, zh)
    set_sign_in(organizer, demo_meeting, open_=True)
    earlier = current_code_url(organizer, demo_meeting)
    set_sign_in(organizer, demo_meeting, open_=False)
    set_sign_in(organizer, demo_meeting, open_=True)

    # Refused on opening, before any tap: the deputy is not offered a button that cannot work.
    phone.goto(earlier)
    expect_message(
        phone,
        "alert",
        zh("This sign-in code is from an earlier sign-in round. Please scan the code on the big screen again."),
    )
    expect(phone.get_by_role("button", name=zh("Sign in"), exact=True)).to_have_count(0)

    # The current code works for this phone: the refusal was about the code, not the deputy.
    phone.goto(current_code_url(organizer, demo_meeting))
    expect(phone.get_by_role("button", name=zh("Sign in"), exact=True)).to_be_visible()
    expect(phone.get_by_role("alert")).to_have_count(0)


def row_error(zh, row, message):
    """A pattern for one line of the import's error list: the row, then what is wrong with it."""
    return re.compile(rf"^{re.escape(zh('Row %(row)s', row=row))}\s*[:：]\s*{re.escape(message)}$")


def roster_csv(rows):
    """A roster as organizers save it from Excel: Chinese headers, UTF-8 with a BOM."""
    out = io.StringIO()
    csv.writer(out).writerows([["姓名", "代表证号", "代表团", "手机号码"], *rows])
    return out.getvalue().encode("utf-8-sig")


def test_roster_import_lists_row_errors_and_imports_nothing_then_imports_a_good_file(organizer, zh, screenshot):
    bad = roster_csv(
        [
            ["试导入甲", "IMP001", "导入测试代表团", "13800000001"],
            ["", "IMP002", "导入测试代表团", ""],
            ["试导入丙", "IMP003", '=HYPERLINK("x")', ""],
        ]
    )
    organizer.goto("/deputies")
    total_before = organizer.locator("h1 small").inner_text()
    organizer.goto("/deputies/import")
    organizer.set_input_files("input[type=file]", files=[{"name": "名单.csv", "mimeType": "text/csv", "buffer": bad}])
    organizer.get_by_role("button", name=zh("Import")).click()
    result = organizer.locator("#import-result")
    expect_message(
        result,
        "alert",
        zh("%(num)s problem found in the file; nothing was imported. Fix the row listed and upload again.", num=2),
    )
    # Rows as the spreadsheet numbers them: the header is row 1.
    expect(result.locator("ul.errors li")).to_have_text(
        [
            row_error(zh, 3, zh("%(column)s is empty.", column=zh("Name"))),
            row_error(
                zh,
                4,
                zh(
                    "%(column)s starts with a formula character (= + - @); type the value itself.",
                    column=zh("Delegation or street"),
                ),
            ),
        ]
    )
    screenshot(organizer, "import-errors.png")

    organizer.goto("/deputies?q=IMP001")
    expect(organizer.locator("tbody td", has_text="IMP001")).to_have_count(0)
    organizer.goto("/deputies")
    expect(organizer.locator("h1 small")).to_have_text(total_before)

    good = roster_csv(
        [["试导入甲", "IMP001", "导入测试代表团", "13800000001"], ["试导入乙", "IMP002", "导入测试代表团", ""]]
    )
    organizer.goto("/deputies/import")
    organizer.set_input_files("input[type=file]", files=[{"name": "名单.csv", "mimeType": "text/csv", "buffer": good}])
    organizer.get_by_role("button", name=zh("Import")).click()
    expect(organizer.locator("#import-result").get_by_role("status")).to_have_text(
        zh(
            "Imported %(rows)s rows: %(created)s new, %(updated)s updated, %(unchanged)s unchanged.",
            rows=2,
            created=2,
            updated=0,
            unchanged=0,
        )
    )
    organizer.wait_for_url("**/deputies")
    organizer.goto("/deputies?q=IMP00")
    assert sorted(organizer.locator("tbody tr td:nth-child(2)").all_inner_texts()) == ["试导入乙", "试导入甲"]


def test_deputy_pages_fit_a_360_px_phone(server, organizer, demo_meeting, new_context, zh):
    name, link = server.activation_links[2]
    page = new_context("small-phone").new_page()
    assert page.viewport_size["width"] == 360
    set_sign_in(organizer, demo_meeting, open_=True)
    problems = []
    # A phone that is not bound yet scanning the screen: an error, and a button to enter the card's code.
    page.goto(current_code_url(organizer, demo_meeting))
    expect(page.get_by_role("alert")).to_be_visible()
    problems += layout_problems(page, has_button=True)
    page.goto(link)
    expect(page.locator(".card .name")).to_have_text(name)
    problems += layout_problems(page, has_button=True)
    bind(page, link, name, zh)
    problems += layout_problems(page, has_button=False)
    page.goto(current_code_url(organizer, demo_meeting))
    sign_in = page.get_by_role("button", name=zh("Sign in"), exact=True)
    expect(sign_in).to_be_visible()
    problems += layout_problems(page, has_button=True)
    sign_in.click()
    expect_message(page, "status", with_time(zh, "%(name)s, you are signed in (at %(time)s).", name=name))
    problems += layout_problems(page, has_button=False)
    assert problems == []


@pytest.mark.parametrize("path", ["/login", "/a", "/c/not-a-code"])
def test_pages_declare_chinese(new_context, path):
    page = new_context("phone").new_page()
    page.goto(path)
    assert page.locator("html").get_attribute("lang") == "zh-CN"


def test_pages_load_nothing_from_outside_and_raise_no_script_errors(
    server, organizer, demo_meeting, new_context, traffic
):
    # Visit the pages no other journey may have opened, then judge everything the session loaded.
    for path in (
        "/login",
        "/deputies",
        "/deputies/import",
        "/deputies/cards",
        "/audit",
        f"{demo_meeting}/screen",
        "/meetings/new",
    ):
        organizer.goto(path)
    page = new_context("phone").new_page()
    for path in ("/a", "/me", "/c/not-a-code"):
        page.goto(path)
    page.wait_for_timeout(1200)  # let the screen page poll
    assert traffic.urls
    outside = sorted({url for url in traffic.urls if urlsplit(url).hostname != "127.0.0.1"})
    assert outside == []
    assert traffic.errors == []
