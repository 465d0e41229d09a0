"""Languages: Flask-Babel, the citizen's choice of language, and `_` in templates and code.

English and Simplified Chinese (Singapore) are complete for every citizen-facing page: a test
extracts every string and fails on one the Chinese catalogue lacks. Staff pages stay English
whatever the cookie says (their screens are not translated, and a half-Chinese chrome around an
English form helps nobody).

The catalogues (app/translations/<locale>/LC_MESSAGES/messages.po) are the source; the compiled
.mo files are not committed. `scripts/test` and `scripts/demo` compile them, and so does
`init_i18n` when one is missing or older than its .po, so a fresh clone works with any command.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import tempfile
from pathlib import Path

import structlog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Blueprint, Flask, Response, has_request_context, redirect, request, url_for
from flask_babel import Babel, get_locale
from flask_babel.speaklater import LazyString
from markupsafe import Markup, escape

from core.clock import utcnow
from notifications.outbox import set_language

from .extensions import runtime
from .i18n_labels import localise
from .identity import current_citizen_id, safe_next
from .security import public

SUPPORTED_LOCALES = ("en", "zh_Hans_SG")
# Each language as it names itself, and its BCP 47 tag for `lang` and `hreflang`.
LANGUAGES = {"en": ("English", "en"), "zh_Hans_SG": ("中文", "zh-Hans-SG")}
LANGUAGE_COOKIE = "consentry_lang"
COOKIE_MAX_AGE_S = 365 * 24 * 3600
# Staff and developer pages are English only, and so are the JSON APIs (a program reading them
# wants the same words whatever cookie the browser holds): these blueprints ignore the choice.
ENGLISH_ONLY_BLUEPRINTS = frozenset(
    {"admin", "admin_staff", "operator", "auditor", "staff", "notices_operator", "developers", "openapi"}
    | {"citizen_api", "agency_api", "agency_corrections", "agency_receipts", "audit_api", "log_api"}
)
TRANSLATIONS = Path(__file__).parent / "translations"

_LATIN = re.compile(r"[A-Za-z]")
_CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")  # CJK punctuation, ideographs, full-width forms

babel = Babel()
bp = Blueprint("language", __name__)
log = structlog.get_logger(__name__)


def english_only() -> bool:
    return request.blueprint in ENGLISH_ONLY_BLUEPRINTS or request.path.startswith("/developers")


# Pages a mail links to: the link says the mail's language (`?lang=`), for a browser that has
# never chosen one (a phone's mail app); a choice made in this browser still wins.
MAIL_LINKED_ENDPOINTS = frozenset({"notices.withdraw_link"})


def select_locale() -> str:
    if not has_request_context() or english_only():  # CLI and background work: English
        return "en"
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in SUPPORTED_LOCALES:
        return chosen
    linked = request.args.get("lang") if request.endpoint in MAIL_LINKED_ENDPOINTS else None
    if linked in SUPPORTED_LOCALES:
        return linked
    return _from_browser()


def _from_browser() -> str:
    """The first language the browser asks for that we have: any Chinese ("zh", "zh-CN",
    "zh-SG", "zh-Hans") reads the Simplified Chinese pages; anything else English."""
    for tag, _quality in request.accept_languages:
        primary = tag.replace("_", "-").split("-")[0].lower()
        if primary == "en":
            return "en"
        if primary == "zh":
            return "zh_Hans_SG"
    return "en"


def current_locale() -> str:
    """The locale of the request being answered ("en" or "zh_Hans_SG"), or the one forced
    (flask_babel.force_locale: a mail written in its citizen's language); English otherwise."""
    locale = get_locale()
    return str(locale) if locale is not None and str(locale) in SUPPORTED_LOCALES else "en"


def html_lang() -> str:
    """The page's `lang`: a BCP 47 tag (zh-Hans-SG), not Babel's locale id (zh_Hans_SG)."""
    return LANGUAGES[current_locale()][1]


def in_english(text: object) -> Markup:
    """Text that is English whatever the page's language (a name, an agency's own wording),
    marked `lang="en"` when the page is in another language so screen readers say it right."""
    if text is None or text == "":
        return Markup("")
    if current_locale() == "en" or not _LATIN.search(str(text)) or _CJK.search(str(text)):
        return escape(text)  # nothing to mark: a number, or already in the page's script
    return Markup('<span lang="en">%s</span>') % text


def language_context() -> dict[str, object]:
    if not request:
        return {}
    return {
        "htmlLang": html_lang(),
        "current_locale": current_locale(),
        "languages": LANGUAGES,
        "show_language_picker": not english_only(),
        "language_back": back_token,
    }


@bp.get("/language/<locale>")
@public
def choose(locale: str):
    """Remember the chosen language (a GOV.UK-style link, so it works without JavaScript) and go
    back to the page it was chosen on: a local path only, never another site. A signed-in
    citizen without a language for mails gets this one, as at sign-in; one they have is changed
    only on the notices page (a form with its CSRF token): this is a GET, which another site
    can send the citizen to."""
    back = safe_next(_decode_back(request.args.get("back", ""))) or url_for("site.index")
    response = redirect(back, code=303)
    if locale in SUPPORTED_LOCALES:
        citizen_id = current_citizen_id()
        if citizen_id is not None:
            remember_language(citizen_id, locale, only_if_unset=True)
        response.set_cookie(
            LANGUAGE_COOKIE,
            locale,
            max_age=COOKIE_MAX_AGE_S,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure,
        )
    return response


def remember_language(citizen_id: str, locale: str, *, only_if_unset: bool = False) -> None:
    """Store `locale` as the language of the citizen's mails, in a short transaction of its own
    (the picker and sign-in have nothing else to write with it); nothing is written when it is
    already theirs. `only_if_unset` keeps a language they chose before."""
    with runtime().writer_sessions() as store:
        if set_language(
            store, citizen_id=citizen_id, language=locale, now=utcnow(), only_if_unset=only_if_unset
        ):
            store.commit()


def adopt_browser_language(citizen_id: str) -> None:
    """At sign-in: the language this browser chose with the picker (the cookie) becomes the
    citizen's, for their mails, unless they have one stored already."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in SUPPORTED_LOCALES:
        remember_language(citizen_id, chosen, only_if_unset=True)


def back_token() -> str:
    """This page's path and query for the picker's links, base64url-encoded: the page must not
    echo text from its own link (a sign-in link's `next` may carry any words)."""
    here = request.full_path.rstrip("?")
    return base64.urlsafe_b64encode(here.encode()).decode().rstrip("=")


def _decode_back(token: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _vary(response: Response) -> Response:
    """A page's words depend on the language cookie and the browser's languages: say so to caches."""
    if response.mimetype == "text/html":
        response.vary.add("Cookie")
        response.vary.add("Accept-Language")
    return response


def compile_catalogues(directory: Path = TRANSLATIONS) -> None:
    """Compile each .po whose .mo is missing or older. Written to a temporary file and renamed,
    so parallel test workers starting at once never read half a catalogue."""
    for po_path in directory.glob("*/LC_MESSAGES/messages.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        try:
            with po_path.open("rb") as po_file:
                catalog = read_po(po_file, locale=po_path.parent.parent.name)
            fd, tmp = tempfile.mkstemp(dir=po_path.parent, suffix=".mo.tmp")
            with os.fdopen(fd, "wb") as mo_file:
                write_mo(mo_file, catalog)
            os.replace(tmp, mo_path)
        except OSError:  # a read-only install: it ships compiled catalogues
            log.warning("i18n.compile_skipped", catalogue=str(po_path))


def init_i18n(app: Flask) -> None:
    compile_catalogues()
    babel.init_app(app, locale_selector=select_locale, default_translation_directories=str(TRANSLATIONS))
    app.context_processor(language_context)
    app.after_request(_vary)
    app.add_template_global(in_english, "in_english")
    app.register_blueprint(bp)
    localise(app.extensions["consentry"].catalogue)  # labels and agency names, per request
    # Form errors are lazy strings (translated when shown); a JSON error body must hold them too.
    json_default = app.json.default  # type: ignore[attr-defined]
    app.json.default = lambda o: str(o) if isinstance(o, LazyString) else json_default(o)  # type: ignore[attr-defined]
