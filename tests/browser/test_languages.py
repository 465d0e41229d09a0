"""Switching language in a real Chromium: on the home page the citizen picks 中文 from the
language links; an agency app sends them to sign in, and the sign-in page, the consent screen and
their portal all read in Simplified Chinese, with `<html lang="zh-Hans-SG">` and the app's
English name marked `lang="en"`; the choice is remembered from page to page; they switch back to
English on the page they are on. Every page is checked with axe-core (and, through the `tab`
fixture, for console errors and CSP violations)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_consent_browser import (  # noqa: F401  (fixtures used by name)
    APP_NAME,
    PASSWORD,
    agency_server,
    gate,
    journey,
    start,
)

# A citizen's journey (issue 13): run on PostgreSQL too (tests/browser/conftest.py).
pytestmark = pytest.mark.both_databases

ZH = "zh-Hans-SG"


def html_lang(page) -> str:
    return page.locator("html").get_attribute("lang")


def picker(page):
    return page.get_by_role("navigation", name=re.compile("^(Language|语言)$"))


def test_a_citizen_switches_to_chinese_and_back(tab, journey, gate):  # noqa: F811
    page = tab.page
    tab.goto("/")
    assert html_lang(page) == "en"
    link = picker(page).get_by_role("link", name="中文")
    expect(link).to_have_attribute("lang", ZH)
    expect(link).to_have_attribute("hreflang", ZH)
    assert tab.axe_violations() == []

    link.click()
    expect(page).to_have_url(re.compile(r"/$"))
    assert html_lang(page) == ZH
    expect(page.get_by_role("heading", level=1)).to_have_text("经您同意，分享您的政府记录")  # noqa: RUF001
    expect(picker(page).get_by_role("link", name="English")).to_have_attribute("lang", "en")
    assert tab.axe_violations() == []

    # An agency app asks for the citizen's details: the sign-in page is in Chinese already.
    start(page, journey, state="st-languages")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"登录以便与 {APP_NAME} 分享您的资料")
    assert html_lang(page) == ZH
    expect(page.locator('h1 span[lang="en"]')).to_have_text(APP_NAME)
    assert tab.axe_violations() == []
    page.get_by_label("身份证或准证号码").fill(journey.uinfin)
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_label("安全码").fill(journey.totp.now())
    page.get_by_role("button", name="登录").click()

    # The consent screen.
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{APP_NAME} 要求获取您的资料")
    assert html_lang(page) == ZH
    expect(page.locator('h1 span[lang="en"]')).to_have_text(APP_NAME)
    expect(page.get_by_role("heading", name="将分享的资料")).to_be_visible()
    expect(page.get_by_role("group", name="记住此决定")).to_be_visible()
    assert "is asking for your information" not in page.content()
    assert tab.axe_violations() == []
    page.get_by_role("button", name="不分享").click()
    expect(page.get_by_role("heading", name="Back at the app")).to_be_visible()
    params = gate.last_params()
    assert params["error"] == "access_denied" and params["state"] == "st-languages"

    # The portal remembers the choice.
    tab.goto("/citizen/profile")
    assert html_lang(page) == ZH
    expect(page.get_by_role("heading", name="我的个人资料", exact=True)).to_be_visible()
    page.locator("summary", has_text="国民身份登记处").click()
    expect(page.get_by_text("政府核实").first).to_be_visible()
    assert tab.axe_violations() == []

    tab.goto("/citizen/history")
    expect(page.get_by_role("heading", name="谁获取了我的资料")).to_be_visible()
    table = page.get_by_role("table", name="您的记录")
    expect(table).to_contain_text("您拒绝分享")
    expect(table.locator('strong span[lang="en"]').first).to_have_text(APP_NAME)
    assert tab.axe_violations() == []

    # Back to English, on the same page, and it stays English.
    picker(page).get_by_role("link", name="English").click()
    expect(page).to_have_url(re.compile(r"/citizen/history$"))
    assert html_lang(page) == "en"
    expect(page.get_by_role("heading", name="Who has my data")).to_be_visible()
    expect(page.get_by_role("table", name="Your history")).to_contain_text("You declined to share")
    assert tab.axe_violations() == []
    tab.goto("/")
    assert html_lang(page) == "en"
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Share your government records, with your consent"
    )
    assert tab.problems == []
