"""Languages: Flask-Babel, the citizen's choice of language, and `_` in templates and code.

Only English exists until the catalogues land (app/translations/); the locale selector already
honours a remembered choice so pages and mails pick a language the same way everywhere."""

from __future__ import annotations

from flask import Flask, request
from flask_babel import Babel

SUPPORTED_LOCALES = ("en",)
LANGUAGE_COOKIE = "consentry_lang"

babel = Babel()


def select_locale() -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in SUPPORTED_LOCALES:
        return chosen
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or SUPPORTED_LOCALES[0]


def init_i18n(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, default_translation_directories="translations")
