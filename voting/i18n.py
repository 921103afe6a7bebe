"""Locale selection: Chinese unless the person chose English (?lang=en, remembered in a cookie)."""

from flask import current_app, g, request

from voting.extensions import babel

LANG_COOKIE = "lang"


def select_locale():
    """Pick the locale: ?lang=, then the lang cookie, then the API's Accept-Language, else zh_CN."""
    supported = current_app.config["LANGUAGES"]
    chosen = request.args.get("lang") or request.cookies.get(LANG_COOKIE)
    if chosen in supported:
        return chosen
    if request.path.startswith("/api/"):
        best = request.accept_languages.best_match(["zh", "zh_CN", "en"])
        if best == "en":
            return "en"
    return current_app.config["BABEL_DEFAULT_LOCALE"]


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

        locale = str(get_locale())
        g.html_lang = "zh-CN" if locale == "zh_CN" else locale
        return {"html_lang": g.html_lang, "current_locale": locale}
