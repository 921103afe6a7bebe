"""The receipt page's copy button exists only for phones that run booth.js: hidden without JavaScript.

The button carries the ``hidden`` attribute and booth.js clears it. ``.button``'s display used to
override the browser's own ``[hidden]`` rule, so a button that does nothing showed without scripts;
app.css now hides ``[hidden]`` whatever a class says.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CSS = (ROOT / "static" / "css" / "app.css").read_text(encoding="utf-8")


class Buttons(HTMLParser):
    def __init__(self):
        super().__init__()
        self.buttons = []

    def handle_starttag(self, tag, attrs):
        if tag == "button":
            self.buttons.append(dict(attrs))


@pytest.fixture
def receipt_page(app, hall, api):
    """The receipt page of a phone that has voted, as a browser without JavaScript receives it."""
    h = hall(3, present=3)
    ballot = api.open(api.create(h.meeting))
    assert api.vote(ballot, h.phones[0], {str(ballot["items"][0]["id"]): "yes"}).status_code == 200
    phone = app.test_client()
    phone.set_cookie(app.config["DEVICE_COOKIE_NAME"], h.tokens[0])
    response = phone.get(f"/b/{ballot['id']}/receipt")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_copy_button_is_hidden_until_the_script_shows_it(receipt_page):
    parser = Buttons()
    parser.feed(receipt_page)
    (copy,) = [b for b in parser.buttons if "data-copy" in b]
    assert "hidden" in copy and "button" in copy["class"].split()
    assert re.search(r'<span class="receipt-code" translate="no">[^<]+</span>', receipt_page)  # the code itself shows
    assert "js/booth.js" in receipt_page
    script = (ROOT / "static" / "js" / "booth.js").read_text(encoding="utf-8")
    copy_button = script[script.index("function copyButton") :]
    assert "button.hidden = false;" in copy_button[: copy_button.index("\n  }\n")]
    assert 'each("[data-copy]", copyButton);' in script


def test_hidden_wins_over_a_class_display():
    rule = re.search(r"(?m)^\[hidden\]\s*\{\s*display:\s*none\s*!important;\s*\}", CSS)
    assert rule, "app.css needs [hidden] { display: none !important; }"
    assert rule.start() < CSS.index(".button {"), "near the top, before the classes it overrides"


@pytest.mark.browser
def test_chromium_without_javascript_shows_no_copy_button(receipt_page, chromium_options):
    """The receipt page with app.css in Chromium, scripts off: the code shows, the copy button does not."""
    import threading

    from playwright.sync_api import sync_playwright

    page_html = re.sub(r'<link rel="stylesheet"[^>]*>', lambda _: f"<style>{CSS}</style>", receipt_page)
    assert "<style>" in page_html
    outcome = {}

    def work():
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(**chromium_options)
                try:
                    page = browser.new_context(java_script_enabled=False).new_page()
                    page.set_content(page_html)
                    outcome["copy"] = page.locator("button[data-copy]").is_visible()
                    outcome["code"] = page.locator(".receipt-code").is_visible()
                    outcome["other buttons"] = page.locator("a.button").first.is_visible()
                finally:
                    browser.close()
        except BaseException as error:  # handed to the test's thread below
            outcome["error"] = error

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=60)
    assert "error" not in outcome, outcome.get("error")
    assert outcome == {"copy": False, "code": True, "other buttons": True}
