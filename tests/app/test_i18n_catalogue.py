"""The catalogues: every citizen-facing string the code and templates hold (extracted here, as
`pybabel extract -F babel.cfg` does) has a Chinese translation, not fuzzy, every plural form
filled, its placeholders kept; the catalogue compiles and the compiled file translates."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from app.i18n import SUPPORTED_LOCALES, TRANSLATIONS

ROOT = Path(__file__).resolve().parents[2]
COMPLETE = [locale for locale in SUPPORTED_LOCALES if locale != "en"]  # English is the source
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}


def extracted() -> Catalog:
    """Every message babel.cfg names, as a .pot holds them (Babel's Python API)."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    pot = Catalog()
    for filename, lineno, message, comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        pot.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return pot


def catalogue(locale: str) -> Catalog:
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=locale)


@pytest.fixture(scope="module")
def pot() -> Catalog:
    return extracted()


def test_extraction_finds_templates_python_and_the_attribute_catalogue(pot):
    places = {filename for message in pot for filename, _ in message.locations}
    assert any(p.endswith("templates/base.html") for p in places)
    assert any(p.endswith("consent_screen/screen.html") for p in places)
    assert any(p.endswith("citizen/schemas.py") for p in places)
    assert any(p.endswith("attributes.toml") for p in places)
    assert ("%(num)d minute ago", "%(num)d minutes ago") in [m.id for m in pot]


@pytest.mark.parametrize("locale", COMPLETE)
def test_every_string_has_a_translation(pot, locale):
    po = catalogue(locale)
    plurals = po.num_plurals
    problems = []
    for message in pot:
        if not message.id:
            continue
        where = ", ".join(f"{f}:{n}" for f, n in message.locations[:2])
        found = po.get(message.id, context=message.context)
        if found is None:
            problems.append(f"missing: {message.id!r} ({where})")
        elif found.fuzzy:
            problems.append(f"fuzzy: {message.id!r} ({where})")
        elif isinstance(message.id, tuple):
            forms = found.string if isinstance(found.string, tuple) else (found.string,)
            if len(forms) != plurals or not all(forms):
                problems.append(f"plural forms incomplete: {message.id!r} ({where})")
        elif not found.string:
            problems.append(f"untranslated: {message.id!r} ({where})")
    assert problems == [], (
        f"{len(problems)} strings lack a {locale} translation; run pybabel extract/update (babel.cfg) "
        "and translate them:\n" + "\n".join(problems)
    )


@pytest.mark.parametrize("locale", COMPLETE)
def test_the_catalogue_compiles_and_keeps_every_placeholder(locale):
    po = catalogue(locale)
    errors = [(message.id, [str(e) for e in errs]) for message, errs in po.check()]
    assert errors == []
    compiled = io.BytesIO()
    write_mo(compiled, po)
    compiled.seek(0)
    translations = Translations(compiled)
    assert translations.gettext("Sign in") == "登录"
    assert translations.ngettext("%(num)d minute ago", "%(num)d minutes ago", 3) % {"num": 3} == "3分钟前"


def test_a_fresh_clone_compiles_its_catalogues_at_start(tmp_path):
    """No .mo is committed: create_app compiles a missing or stale one (app.i18n.compile_catalogues)."""
    from app.i18n import compile_catalogues

    source = TRANSLATIONS / "zh_Hans_SG" / "LC_MESSAGES" / "messages.po"
    target = tmp_path / "zh_Hans_SG" / "LC_MESSAGES"
    target.mkdir(parents=True)
    (target / "messages.po").write_bytes(source.read_bytes())
    compile_catalogues(tmp_path)
    mo = target / "messages.mo"
    with mo.open("rb") as compiled:
        assert Translations(compiled).gettext("Sign out") == "登出"
    first = mo.stat().st_mtime_ns
    compile_catalogues(tmp_path)
    assert mo.stat().st_mtime_ns == first, "an up-to-date catalogue is left alone"
    assert [p.name for p in target.iterdir() if p.name.endswith(".tmp")] == []
