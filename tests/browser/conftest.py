"""Browser fixtures: the real server (gunicorn, as ``make run`` starts it) on a temporary SQLite database,
Debian's headless Chromium through Playwright, and the Chinese catalog to say what a person should read."""

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from gettext import c2py
from pathlib import Path

import pytest

from tests.support.backend import SECRET_KEY
from tests.support.live_server import ROOT, VENV_BIN, free_port, server_env, start_gunicorn, stop, wait_until_up

TRANSLATIONS = ROOT / "voting" / "translations"
SCREENSHOTS = ROOT / "docs" / "screenshots"
STAFF_PASSWORD = "browser-tests-staff-2027"
WECHAT_UA = (
    "Mozilla/5.0 (Linux; Android 13; V2154A Build/TP1A.220624.014; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160083 MMWEBSDK/20231202 "
    "MMWEBID/2585 MicroMessenger/8.0.47.2560(0x28002F30) WeChat/arm64 Weixin NetType/WIFI "
    "Language/zh_CN ABI/arm64"
)
VIEWPORTS = {
    "desktop": {"width": 1280, "height": 720},
    "phone": {"width": 390, "height": 844},
    "small-phone": {"width": 360, "height": 780},
}


@dataclass
class Server:
    base_url: str
    admin_password: str
    activation_links: list  # [(deputy name, URL)] as init-app printed them
    staff_username: str
    staff_password: str
    log_path: Path

    def url(self, path):
        return self.base_url + path


@dataclass
class Traffic:
    """Every request and every script or CSP error seen by any page of the session."""

    urls: list = field(default_factory=list)
    errors: list = field(default_factory=list)


def _server_env(tmp, port, translations):
    env = server_env(
        tmp,
        port,
        f"sqlite:///{tmp}/voting.db",
        SECRET_KEY=SECRET_KEY,
    )
    if translations is not None:
        env["VOTING_BABEL_TRANSLATION_DIRECTORIES"] = str(translations)
    return env


def _compile_translations(tmp):
    """Compile the catalogs into ``tmp`` as ``make translations`` does, so a plain pytest run needs no make."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    catalogs = sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))
    if not catalogs:
        return None
    for po in catalogs:
        target = tmp / "translations" / po.relative_to(TRANSLATIONS).with_suffix(".mo")
        target.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as f:
            catalog = read_po(f)
        with target.open("wb") as f:
            write_mo(f, catalog, use_fuzzy=True)
    return tmp / "translations"


def _flask(env, *args):
    result = subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _instance_files():
    """What the app would write into instance/ without our settings: its secret key and SQLite database."""
    instance = ROOT / "instance"
    return {p.name for p in [instance / "secret_key", *instance.glob("voting.db*")] if p.exists()}


@pytest.fixture(scope="session")
def server():
    """Run ``flask init-app`` and ``gunicorn --config gunicorn.conf.py wsgi:app`` on a temporary database."""
    # Not under pytest's basetemp: a concurrent pytest run may prune that while the server still uses it.
    tmp = Path(tempfile.mkdtemp(prefix="voting-browser-"))
    instance_before = _instance_files()
    port = free_port()
    proc = None
    try:
        env = _server_env(tmp, port, _compile_translations(tmp))
        output = _flask(env, "init-app")
        admin_password = re.search(r"one-time password: (\S+)", output).group(1)
        links = re.findall(r"^  (\S+) \(DEMO\d+, [^)]*\): (http://\S+)$", output, re.MULTILINE)
        assert len(links) == 3, output
        log_path = tmp / "gunicorn.log"
        proc = start_gunicorn(env, log_path)
        # The organizer account is made while gunicorn boots; both take a second or two.
        staff = _flask(env, "create-user", "staff", "--role", "organizer", "--name", "会务组")
        staff_password = re.search(r"one-time password: (\S+)", staff).group(1)
        wait_until_up(proc, port, log_path)
        yield Server(f"http://127.0.0.1:{port}", admin_password, links, "staff", staff_password, log_path)
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
    # The secret key and database came from the environment: nothing of ours lands in the repository's instance/.
    assert _instance_files() == instance_before


@pytest.fixture(scope="session")
def zh(server):
    """Translate a message id the way the server does in zh_CN; fail if the catalog leaves it untranslated."""
    from babel.messages.pofile import read_po

    found = sorted(TRANSLATIONS.glob("zh*/LC_MESSAGES/messages.po"))
    if not found:
        pytest.fail(f"No Chinese catalog in {TRANSLATIONS}: every page would be in English")
    with found[0].open("rb") as f:
        catalog = read_po(f)

    plural_form = c2py(catalog.plural_expr)

    def translate(msgid, **params):
        """Translate ``msgid``; for a plural message give the singular msgid and the count as ``num``."""
        message = catalog.get(msgid)
        assert message is not None and message.string, f"not translated to Chinese: {msgid!r}"
        string = message.string[plural_form(params["num"])] if message.pluralizable else message.string
        assert re.search(r"[\u4e00-\u9fff]", string), f"translation has no Chinese: {string!r}"
        return string % params if params else string

    return translate


@pytest.fixture(scope="session")
def browser(chromium_options):
    """Debian's headless Chromium (never a downloaded one)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)  # as the contexts' default, for a loaded CI machine
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium_options)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def traffic():
    return Traffic()


def _new_context(browser, server, traffic, kind):
    options = {
        "viewport": VIEWPORTS[kind],
        "locale": "zh-CN",
        "timezone_id": "Asia/Shanghai",
        "base_url": server.base_url,
    }
    if kind != "desktop":
        options.update(user_agent=WECHAT_UA, is_mobile=True, has_touch=True, device_scale_factor=2)
    context = browser.new_context(**options)
    # Generous for a loaded CI machine; a passing run waits far less.
    context.set_default_timeout(10_000)
    context.on("request", lambda request: traffic.urls.append(request.url))

    def watch(page):
        def on_console(message):
            # Content-Security-Policy refusals show up only as console errors.
            if message.type == "error" and "Content Security Policy" in message.text:
                traffic.errors.append(f"{page.url}: {message.text}")

        page.on("pageerror", lambda error: traffic.errors.append(f"{page.url}: {error}"))
        page.on("console", on_console)

    context.on("page", watch)
    return context


def _context_factory(browser, server, traffic):
    contexts = []

    def make(kind="phone"):
        contexts.append(_new_context(browser, server, traffic, kind))
        return contexts[-1]

    return make, contexts


@pytest.fixture
def new_context(browser, server, traffic):
    """Open a fresh browser context: new_context("phone" | "small-phone" | "desktop"); closed after the test."""
    make, contexts = _context_factory(browser, server, traffic)
    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def session_context(browser, server, traffic):
    """Like new_context, for session and module fixtures; closed at the end of the session."""
    make, contexts = _context_factory(browser, server, traffic)
    yield make
    for context in contexts:
        context.close()


def first_login(page, username, one_time_password, new_password):
    """Sign in with a one-time password and choose a new one, as the forced change asks."""
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", one_time_password)
    page.click("form.card button[type=submit]")
    page.wait_for_url("**/account/password")
    page.fill("input[name=current_password]", one_time_password)
    page.fill("input[name=new_password]", new_password)
    page.fill("input[name=confirm]", new_password)
    page.click("form.card button[type=submit]")
    page.wait_for_url("**/meetings")


@pytest.fixture(scope="session")
def organizer(server, session_context):
    """A desktop page signed in as an organizer account (not the administrator, whose first login is a test)."""
    page = session_context("desktop").new_page()
    first_login(page, server.staff_username, server.staff_password, STAFF_PASSWORD)
    return page


@pytest.fixture(scope="session")
def demo_meeting(organizer):
    """The demo meeting's path, e.g. /meetings/1, as the meetings list links to it."""
    organizer.goto("/meetings")
    return organizer.locator("ul.cards a", has_text="【演示】").first.get_attribute("href")


@pytest.fixture
def screenshot():
    """Save a screenshot for the README, only when VOTING_SCREENSHOTS=1 (so a test run changes no tracked file)."""

    def save(page, name, **options):
        if os.environ.get("VOTING_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / name), **options)

    return save
