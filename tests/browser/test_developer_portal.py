"""The developer portal in a real Chromium: every page under the site's strict CSP with no console
error, axe clean, no sideways scroll on a phone (code and wide tables scroll in their own box); the
reference works without JavaScript; a developer gets a test app from the sandbox, after fixing a
refused form, and downloads the generated keys once."""

from __future__ import annotations

import json
import re

import pytest
from joserfc.jwk import ECKey
from playwright.sync_api import expect

from consent.models import AgencyApp

PAGES = {
    "/developers/": "Build on Consentry",
    "/developers/flows/v4": "The MyInfo v4 flow, step by step",
    "/developers/flows/v5": "The Myinfo v5 flow, step by step",
    "/developers/errors": "Errors and what to do",
    "/developers/attributes": "Attributes you can ask for",
    "/developers/log": "The open disclosure log",
    "/developers/reference": "API reference",
    "/developers/sandbox": "Get a test app",
}
# What sticks out of <main> without a scroll box of its own to hold it.
OVERFLOW = """() => {
  const root = document.documentElement;
  const edge = document.querySelector("main").getBoundingClientRect().right;
  const wide = root.scrollWidth > root.clientWidth ? ["document"] : [];
  return wide.concat(Array.from(document.querySelectorAll("main *"))
    .filter((e) => !/govuk-grid-(row|column)/.test(e.className))
    .filter((e) => !e.closest(".app-code, .app-table-scroll"))
    .filter((e) => e.getBoundingClientRect().right > edge + 0.5)
    .map((e) => `${e.tagName.toLowerCase()}.${e.className}`));
}"""


def overflow(tab) -> list[str]:
    tab.page.wait_for_load_state("load")
    return tab.page.evaluate(OVERFLOW)


@pytest.mark.parametrize("path", list(PAGES))
def test_each_page_is_clean_on_desktop_and_phone(tab, phone_tab, path):
    for one in (tab, phone_tab):
        one.goto(path)
        expect(one.page.get_by_role("heading", level=1)).to_have_text(PAGES[path])
        assert one.axe_violations() == [], path
        assert overflow(one) == [], path
        assert one.problems == [], path


def test_code_samples_switch_language_with_tabs(tab):
    page = tab.page
    tab.goto("/developers/flows/v4")
    page.get_by_role("tab", name="Node").nth(2).click()  # the third step's tabs: the token request
    expect(page.locator("#token-node")).to_be_visible()
    expect(page.locator("#token-node")).to_contain_text("jose.SignJWT")
    expect(page.locator("#token-python")).to_be_hidden()
    assert tab.problems == []


def test_reference_needs_no_javascript(no_js_tab):
    page = no_js_tab.page
    no_js_tab.goto("/developers/reference")
    expect(page.locator("#post-fapi-par")).to_contain_text("POST/fapi/par")
    page.get_by_role("link", name="GET /api/citizen/consents").click()
    expect(page).to_have_url(re.compile(r"#get-api-citizen-consents$"))
    expect(page.locator("#schema-ConsentListOut")).to_be_visible()
    # Without script, every language's sample is on the page, one after another.
    no_js_tab.goto("/developers/flows/v5")
    expect(page.locator("#par-node")).to_be_visible()
    expect(page.locator("#par-python")).to_be_visible()
    assert no_js_tab.problems == []


def test_a_developer_gets_a_test_app_and_downloads_the_keys_once(tab, live_app):
    page = tab.page
    tab.goto("/developers/")
    page.get_by_role("button", name="Get a test app").click()
    expect(page.get_by_role("heading", name="Get a test app")).to_be_visible()

    page.get_by_label("Your app's name").fill("Bursary pre-fill (browser test)")
    page.get_by_label("Redirect URI").fill("http://bursary.example/callback")
    page.get_by_label("Myinfo v5 (FAPI 2.0)").check()
    page.get_by_role("button", name="Register test app").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("http is allowed only on a loopback host")
    expect(summary).to_be_focused()  # GOV.UK Frontend's script ran under the CSP
    expect(page.locator("#redirect_uri-error")).to_contain_text("loopback")
    assert tab.axe_violations() == []

    page.get_by_label("Redirect URI").fill("http://127.0.0.1:3000/callback")
    page.get_by_role("button", name="Register test app").click()
    expect(page.get_by_role("heading", name="Your test app is registered")).to_be_visible()
    client_id = page.locator("#client-id").inner_text()
    assert re.fullmatch(r"sandbox-[0-9a-f]{12}", client_id)
    assert tab.axe_violations() == []

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download keys (JSON)").click()
    keyfile = json.loads(download_info.value.path().read_text(encoding="utf-8"))
    assert keyfile["client_id"] == client_id
    with live_app.extensions["consentry"].sessions() as session:
        app = session.get(AgencyApp, client_id)
        assert app.profiles == ["myinfo-v4", "myinfo-v5"]
        registered = {key["kid"]: key for key in app.jwks["keys"]}
    for key in keyfile["keys"]:
        assert ECKey.import_key(key).as_dict(private=False) == registered[key["kid"]]

    # The keys are gone once downloaded: the same button now finds nothing.
    page.get_by_role("button", name="Download keys (JSON)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("not found", re.IGNORECASE))
    assert tab.problems == []
