"""Measured in headless Chromium: every control is a 48 px target and shows where the keyboard focus is.

Chromium asks for each page through Playwright's router, which hands the request to the Flask test
client: the real pages, CSS and scripts, with no server to start.
"""

import threading
from functools import partial
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

# Controls, measured where they are hit: a checkbox or radio button by its label.
MEASURE_TARGETS = """() => {
  const small = [];
  for (const el of document.querySelectorAll('a[href], button, input, select, textarea, summary')) {
    if (el.type === 'hidden') continue;
    const target = (el.type === 'checkbox' || el.type === 'radio') ? el.closest('label') || el : el;
    const box = target.getBoundingClientRect();
    const style = getComputedStyle(target);
    if (box.width === 0 || box.height === 0 || box.right < 0 || style.visibility === 'hidden') continue;
    // A link inside a sentence or a table cell is exempt (WCAG 2.5.8), as long as it is inline.
    if (el.tagName === 'A' && style.display === 'inline' && el.closest('p, li, td, th, dd')) continue;
    if (box.height < 48 || box.width < 48) {
      small.push(`${el.tagName.toLowerCase()} "${(el.innerText || el.name || el.id || '').trim().slice(0, 30)}" `
                 + `${Math.round(box.width)}x${Math.round(box.height)}`);
    }
  }
  return small;
}"""

FOCUS_RING = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const ring = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
  return {tag: el.tagName.toLowerCase(), text: (el.innerText || el.name || '').trim().slice(0, 30),
          ring: ring || style.boxShadow !== 'none'};
}"""


@pytest.fixture
def in_chromium(chromium_options):
    """Run ``work(open_page)`` in headless Chromium and return its result.

    Playwright's sync API allows one instance per thread, and the browser journeys keep theirs
    open on the main thread for the whole session, so this one runs in a thread of its own.
    ``open_page(client, viewport)`` opens a page whose requests the Flask test client answers.
    """
    from playwright.sync_api import sync_playwright

    def run(work):
        outcome = {}

        def thread():
            try:
                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(**chromium_options)
                    try:
                        outcome["value"] = work(partial(_open_page, browser))
                    finally:
                        browser.close()
            except BaseException as error:  # handed to the test's thread below
                outcome["error"] = error

        worker = threading.Thread(target=thread)
        worker.start()
        worker.join(timeout=100)
        assert not worker.is_alive(), "Chromium did not finish in time"
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    return run


def _open_page(browser, client, viewport):
    context = browser.new_context(viewport=viewport, is_mobile=viewport is PHONE, has_touch=viewport is PHONE)

    def answer(route, request):
        parts = urlsplit(request.url)
        if parts.hostname != "localhost":
            route.abort()
            return
        response = client.open(
            parts.path + ("?" + parts.query if parts.query else ""),
            method=request.method,
            data=request.post_data_buffer,
            headers={
                "Content-Type": request.headers.get("content-type", ""),
                "Accept": request.headers.get("accept", "*/*"),
            },
        )
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("set-cookie", "content-length")}
        route.fulfill(status=response.status_code, headers=headers, body=response.data)
        response.close()

    context.route("**/*", answer)
    return context.new_page()


def problems_on(page, url):
    page.goto("http://localhost" + url)
    problems = [f"{url}: small target {s}" for s in page.evaluate(MEASURE_TARGETS)]
    seen = 0
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUS_RING)
        if focused is None:
            break
        seen += 1
        if not focused["ring"]:
            problems.append(f'{url}: no focus ring on {focused["tag"]} "{focused["text"]}"')
    if not seen:
        problems.append(f"{url}: the keyboard reaches nothing")
    return problems


def test_staff_pages_have_big_targets_and_focus_rings(in_chromium, signed_in, site):
    staff = signed_in(site.admin)
    urls = [
        "/meetings",
        f"/meetings/{site.meeting.id}",
        f"/meetings/{site.planned.id}",
        "/meetings/new",
        "/deputies",
        f"/deputies/{site.deputies[1].id}",
        "/deputies/import",
        "/deputies/cards",
        "/audit",
        "/admin/users",
        "/account/password",
    ]

    def work(open_page):
        page = open_page(staff, DESKTOP)
        return [p for url in urls for p in problems_on(page, url)]

    problems = in_chromium(work)
    assert problems == [], "\n".join(problems)


def test_staff_pages_on_a_phone(in_chromium, signed_in, site):
    staff = signed_in(site.admin)

    def work(open_page):
        page = open_page(staff, PHONE)
        problems = [p for url in ("/meetings", f"/meetings/{site.meeting.id}") for p in problems_on(page, url)]
        return problems, page.evaluate("document.documentElement.scrollWidth")

    problems, width = in_chromium(work)
    assert problems == [], "\n".join(problems)
    assert width <= PHONE["width"], "no sideways scrolling"


def test_phone_pages_have_big_targets_and_focus_rings(in_chromium, site, browser):
    newcomer = browser()

    def work(open_page):
        problems, widths = [], {}
        page = open_page(newcomer, PHONE)
        for url in (f"/a/{site.card_code}", "/a", "/me", "/login"):
            problems += problems_on(page, url)
        page = open_page(site.phone, PHONE)
        for url in ("/me", f"/c/{site.scan_code}"):
            problems += problems_on(page, url)
            widths[url] = page.evaluate("document.documentElement.scrollWidth")
        page.locator("main form button").click()
        page.wait_for_load_state()
        return problems, widths, page.locator("main").inner_text()

    problems, widths, signed = in_chromium(work)
    assert problems == [], "\n".join(problems)
    assert all(width <= PHONE["width"] for width in widths.values()), widths
    assert "you are signed in" in signed
