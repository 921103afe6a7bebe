"""Locale selection: Chinese unless the person chose English (?lang=en, remembered in a cookie)."""

from urllib.parse import urlencode

from flask import current_app, g, has_request_context, request, url_for

from voting.extensions import babel

LANG_COOKIE = "lang"


def select_locale():
    """Pick the locale: ?lang=, then the lang cookie, then the API's Accept-Language, else zh_CN."""
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    if not has_request_context():  # the CLI and background work speak the default language
        return default
    chosen = request.args.get("lang") or request.cookies.get(LANG_COOKIE)
    if chosen in current_app.config["LANGUAGES"]:
        return chosen
    if request.path.startswith("/api/"):
        best = request.accept_languages.best_match(["zh", "zh_CN", "en"])
        if best == "en":
            return "en"
    return default


def init_i18n(app):
    babel.init_app(app, locale_selector=select_locale)

    @app.after_request
    def remember_language(response):
        chosen = request.args.get("lang")
        if chosen in app.config["LANGUAGES"] and chosen != request.cookies.get(LANG_COOKIE):
            response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="Lax")
        return response

    @app.context_processor
    def inject_locale():
        from flask_babel import get_locale

        locale = get_locale()
        # Babel reads zh_CN as zh_Hans_CN; pages say lang="zh-CN" and the switcher uses our names.
        current = "en" if locale.language == "en" else "zh_CN"
        g.html_lang = "en" if current == "en" else "zh-CN"
        return {"html_lang": g.html_lang, "current_locale": current, "other_languages": other_languages(current)}


# Each language is offered in its own words, so these names are not translated.
LANGUAGE_NAMES = {"zh_CN": ("中文", "zh-CN"), "en": ("English", "en")}


def other_languages(current):
    """Return (name, html lang, address) for each language the page is not in, keeping the page's query."""
    links = []
    for code in current_app.config["LANGUAGES"]:
        if code == current:
            continue
        name, lang = LANGUAGE_NAMES.get(code, (code, code))
        links.append((name, lang, _same_page_in(code)))
    return links


def _same_page_in(code):
    # A page shown after a POST cannot be fetched again with GET: offer the start page instead.
    if request.method != "GET":
        return url_for("web.home", lang=code)
    args = [(key, value) for key, value in request.args.items(multi=True) if key != "lang"]
    return request.path + "?" + urlencode([*args, ("lang", code)])
