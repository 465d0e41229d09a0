"""GOV.UK pagination's own "Previous page" / "Next page" links (app/govuk_words.py), in every
language shipped: what a screen reader reads (the visible word and the visually hidden one) says
"page" once. Chinese 上一页 already means "previous page": a hidden 页 after it read "上一页 页"."""

from __future__ import annotations

import re

import pytest
from flask import render_template_string

from app.i18n import LANGUAGE_COOKIE, SUPPORTED_LOCALES

PAGER = """{% from "govuk_frontend_jinja/components/pagination/macro.html" import govukPagination %}
{{ govukPagination({'previous': {'href': '/p/1'}, 'next': {'href': '/p/3'}}) }}"""
LINK = re.compile(r'<a [^>]*rel="(prev|next)"[^>]*>(.*?)</a>', re.S)
TITLE = re.compile(r'<span class="govuk-pagination__link-title[^"]*">(.*?)</span>\s*</a>', re.S)
HIDDEN = re.compile(r'<span class="govuk-visually-hidden">(.*?)</span>', re.S)
EXPECTED = {
    "en": {"prev": "Previous page", "next": "Next page"},
    "zh_Hans_SG": {"prev": "上一页", "next": "下一页"},
}


def _spoken(html: str) -> str:
    """The text a screen reader reads: every tag dropped, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _links(app, locale: str) -> dict[str, tuple[str, str]]:
    """rel -> (the link's whole text, its visually hidden part), rendered in `locale`."""
    cookie = f"{LANGUAGE_COOKIE}={locale}"
    with app.test_request_context("/citizen/history", headers={"Cookie": cookie}):
        page = render_template_string(PAGER)
    links = {}
    for rel, inner in LINK.findall(page):
        title = TITLE.search(inner + "</a>").group(1)
        links[rel] = (_spoken(title), _spoken(" ".join(HIDDEN.findall(title))))
    return links


def test_every_shipped_language_has_its_expected_words():
    assert set(EXPECTED) == set(SUPPORTED_LOCALES)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_previous_and_next_say_page_once(app, locale):
    links = _links(app, locale)
    assert set(links) == {"prev", "next"}
    for rel, (spoken, hidden) in links.items():
        assert spoken == EXPECTED[locale][rel]
        visible = spoken.removesuffix(hidden).strip()
        assert not hidden or hidden not in visible, (
            f"{spoken!r}: the hidden {hidden!r} repeats the visible text"
        )
