"""An operator manages agency apps in a real Chromium: signs in, registers an app from a pasted
document (after fixing a refused one), sees it listed, disables it. Every page is checked with axe,
for console errors and for CSP violations."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.test_operator_browser import horizontal_overflow, sign_in

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agency-app.json"
SCREENSHOT = "/tmp/admin_app.png"  # noqa: S108 - a fixed path to look at by hand


def example_document(client_id: str) -> dict:
    return {**json.loads(EXAMPLE.read_text(encoding="utf-8")), "client_id": client_id}


def register(tab, document: dict) -> None:
    page = tab.page
    page.get_by_label("Registration document (JSON)").fill(json.dumps(document, indent=2))
    page.get_by_role("button", name="Register app").click()


def test_operator_registers_lists_and_disables_an_app(tab, live_app):
    page, client_id = tab.page, f"browser-{uuid.uuid4().hex[:8]}"
    sign_in(tab, live_app)
    page.get_by_role("link", name="Agency apps").click()
    expect(page.get_by_role("heading", name="Agency apps", exact=True)).to_be_visible()
    assert tab.axe_violations() == []

    page.get_by_role("button", name="Register an app").click()
    expect(page.get_by_role("heading", name="Register an agency app")).to_be_visible()
    assert tab.axe_violations() == []

    refused = {**example_document(client_id), "redirect_uris": ["http://grants.example.gov/callback"]}
    register(tab, refused)
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("http is allowed only on a loopback host")
    expect(summary).to_be_focused()  # GOV.UK Frontend's JS ran under our CSP
    assert tab.axe_violations() == []
    summary.get_by_role("link").first.click()
    expect(page.get_by_label("Registration document (JSON)")).to_be_focused()

    register(tab, example_document(client_id))
    expect(page).to_have_url(re.compile(rf"/admin/apps/{client_id}$"))
    expect(page.locator(".govuk-notification-banner")).to_contain_text("is registered")
    expect(page.get_by_role("heading", name="Housing grant application (demo)")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Registered address"))).to_be_visible()
    expect(page.get_by_text("housing-demo-sig-2026: use sig, algorithm ES256")).to_be_visible()
    assert tab.axe_violations() == []
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.get_by_role("link", name="All agency apps").click()
    row = page.get_by_role("row", name=re.compile(client_id))
    expect(row).to_contain_text("Housing Board")
    expect(row).to_contain_text("Enabled")
    assert tab.axe_violations() == []

    row.get_by_role("link", name=client_id).click()
    page.get_by_role("button", name="Disable app").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Disable .*\?$"))).to_be_visible()
    assert tab.axe_violations() == []
    page.get_by_role("button", name="Yes, disable this app").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("is disabled")
    expect(page.locator(".govuk-summary-list")).to_contain_text("Disabled")
    assert tab.axe_violations() == []

    page.get_by_role("link", name="All agency apps").click()
    expect(page.get_by_role("row", name=re.compile(client_id))).to_contain_text("Disabled")

    page.get_by_role("link", name=client_id).click()
    page.get_by_role("button", name="Edit registration").click()
    textarea = page.get_by_label("Registration document (JSON)")
    expect(textarea).to_have_value(re.compile(rf'"client_id": "{client_id}"'))
    assert tab.axe_violations() == []
    assert tab.problems == []


def test_admin_pages_fit_a_phone_screen(phone_tab, live_app):
    client_id = f"phone-{uuid.uuid4().hex[:8]}"
    sign_in(phone_tab, live_app)
    phone_tab.goto("/admin/apps/-/new")
    register(phone_tab, example_document(client_id))
    expect(phone_tab.page.locator(".govuk-notification-banner")).to_contain_text("is registered")
    assert horizontal_overflow(phone_tab) == [], "app page"
    phone_tab.goto("/admin/apps/")
    assert horizontal_overflow(phone_tab) == [], "list page"
    assert phone_tab.axe_violations() == []
    assert phone_tab.problems == []
