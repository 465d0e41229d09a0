"""An app admin manages agency apps in a real Chromium: registers one through the form (first with
every error at once, each next to its field, then fixed), sees its page with recent activity,
imports another from a JSON document, lists it, sets and removes its webhook and disables it. Every
page and state is checked with axe, for console errors and CSP violations, and at 375 px for
sideways scrolling."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.test_operator_browser import horizontal_overflow, sign_in

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agency-app.json"
SCREENSHOT = "/tmp/admin_app.png"  # noqa: S108 - a fixed path to look at by hand
FORM_SCREENSHOT = "/tmp/admin_app_form_errors.png"  # noqa: S108


def example_document(client_id: str) -> dict:
    return {**json.loads(EXAMPLE.read_text(encoding="utf-8")), "client_id": client_id}


def import_document(tab, document: dict) -> None:
    page = tab.page
    page.get_by_label("Registration document (JSON)").fill(json.dumps(document, indent=2))
    page.get_by_role("button", name="Import and register").click()


def purpose(page, n: int = 1):
    return page.get_by_role("group", name=f"Purpose {n}")


def choose(page, kind: str, *labels: str, n: int = 1) -> None:
    """Tick catalogue items by their label in purpose `n`'s Required or Optional group."""
    group = purpose(page, n).get_by_role("group", name=f"{kind} items")
    for label in labels:
        group.get_by_label(label, exact=True).check()


def fill_with_every_error(page) -> None:
    page.get_by_label("Name", exact=True).fill("")
    page.get_by_label("Agency", exact=True).fill("H")
    page.get_by_label("Client id").fill("x")
    page.get_by_label("Return addresses").fill("http://grants.example.gov/callback")
    page.get_by_label("Myinfo v4").uncheck()
    page.get_by_label("Key set (JWKS)").fill('{"keys": [')
    purpose(page).get_by_label("Short name").fill("grant assessment")
    purpose(page).get_by_label("Description").fill("Too short")
    choose(page, "Required", "Principal name", "NRIC/FIN")
    choose(page, "Optional", "Principal name")


def fill_correctly(page, client_id: str, *, paste_keys: bool = True) -> None:
    document = example_document(client_id)
    page.get_by_label("Name", exact=True).fill("Housing grant (form)")
    page.get_by_label("Agency", exact=True).fill("Housing Board")
    page.get_by_label("Client id").fill(client_id)
    page.get_by_label("Return addresses").fill("https://grants.example.gov/callback")
    page.get_by_label("Myinfo v4").check()
    if paste_keys:
        page.get_by_label("Key set (JWKS)").fill(json.dumps(document["jwks"]))
    purpose(page).get_by_label("Short name").fill("grant-assessment")
    purpose(page).get_by_label("Description").fill(document["purposes"][0]["description"])
    optional = purpose(page).get_by_role("group", name="Optional items")
    optional.get_by_label("Principal name", exact=True).uncheck()
    choose(page, "Optional", "Registered address")


def test_register_an_app_through_the_form_with_every_error_at_once(tab, live_app):
    page, client_id = tab.page, f"form-{uuid.uuid4().hex[:8]}"
    sign_in(tab, live_app)
    page.get_by_role("link", name="Agency apps").click()
    page.get_by_role("button", name="Register an app").click()
    expect(page.get_by_role("heading", name="Register an agency app")).to_be_visible()
    assert tab.axe_violations() == [], "empty form"

    fill_with_every_error(page)
    page.get_by_role("button", name="Register app").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_focused()  # GOV.UK Frontend's JS ran under our CSP
    for text in ("Name:", "Agency:", "Client id:", "Return addresses:", "Protocols:", "Key set (JWKS):",
                 "Purpose 1 short name:", "Purpose 1 description:", "Purpose 1 optional items:"):  # fmt: skip
        expect(summary).to_contain_text(text)
    for field in ("name", "agency", "client_id", "redirect_uris", "profiles", "jwks", "purpose-0-id",
                  "purpose-0-description", "purpose-0-optional"):  # fmt: skip
        expect(page.locator(f"#{field}-error")).to_be_visible()
    expect(page.locator("#redirect_uris-error")).to_contain_text("loopback")
    expect(page.locator("#purpose-0-optional-error")).to_contain_text("Principal name")
    expect(page.get_by_label("Return addresses")).to_have_value("http://grants.example.gov/callback")
    assert tab.axe_violations() == [], "every error at once"
    page.screenshot(path=FORM_SCREENSHOT, full_page=True)
    summary.get_by_role("link", name=re.compile("^Return addresses")).click()
    expect(page.get_by_label("Return addresses")).to_be_focused()

    fill_correctly(page, client_id)
    page.get_by_role("button", name="Register app").click()
    expect(page).to_have_url(re.compile(rf"/admin/apps/{client_id}$"))
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Housing grant (form) is registered")
    expect(page.get_by_role("row", name=re.compile("Registered address"))).to_be_visible()
    activity = page.locator("#activity")
    expect(activity.get_by_role("row", name=re.compile("^24 hours"))).to_contain_text("0")
    expect(page.get_by_role("link", name="every entry for this app")).to_have_attribute(
        "href", f"/auditor/?app_id={client_id}"
    )
    assert tab.axe_violations() == [], "app page"
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert tab.problems == []


def test_a_jwks_uri_is_checked_live_and_a_purpose_added(tab, live_app):
    page, client_id = tab.page, f"form-{uuid.uuid4().hex[:8]}"
    sign_in(tab, live_app)
    tab.goto("/admin/apps/-/new")
    page.get_by_label("Give the address the app publishes it at").check()
    unreachable = f"{tab.base_url}/no-keys-here.json".replace("http:", "https:")  # no TLS there
    page.get_by_label("Key set address (jwks_uri)").fill(unreachable)
    page.get_by_role("button", name="Add another purpose").click()
    expect(purpose(page, 2)).to_be_visible()
    expect(page.get_by_label("Key set address (jwks_uri)")).to_be_visible()  # the choice is kept
    assert tab.axe_violations() == [], "two purposes"
    fill_correctly(page, client_id, paste_keys=False)
    page.get_by_role("button", name="Register app").click()
    expect(page.locator("#jwks_uri-error")).to_contain_text("could not be fetched")
    expect(page.locator("#purpose-1-id-error")).to_be_visible()  # the empty second purpose
    assert tab.axe_violations() == [], "jwks_uri refused"
    assert tab.problems == []


def test_import_a_document_list_and_disable_an_app(tab, live_app):
    page, client_id = tab.page, f"browser-{uuid.uuid4().hex[:8]}"
    sign_in(tab, live_app)
    page.get_by_role("link", name="Agency apps").click()
    expect(page.get_by_role("heading", name="Agency apps", exact=True)).to_be_visible()
    assert tab.axe_violations() == []

    page.get_by_role("button", name="Import a registration document").click()
    expect(page.get_by_role("heading", name="Import a registration document")).to_be_visible()
    assert tab.axe_violations() == []

    refused = {**example_document(client_id), "redirect_uris": ["http://grants.example.gov/callback"]}
    import_document(tab, refused)
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("http is allowed only on a loopback host")
    expect(summary).to_be_focused()
    assert tab.axe_violations() == []
    summary.get_by_role("link").first.click()
    expect(page.get_by_label("Registration document (JSON)")).to_be_focused()

    import_document(tab, example_document(client_id))
    expect(page).to_have_url(re.compile(rf"/admin/apps/{client_id}$"))
    expect(page.locator(".govuk-notification-banner")).to_contain_text("is registered")
    expect(page.get_by_text("housing-demo-sig-2026: use sig, algorithm ES256")).to_be_visible()
    assert tab.axe_violations() == []

    page.get_by_role("link", name="All agency apps").click()
    row = page.get_by_role("row", name=re.compile(client_id))
    expect(row).to_contain_text("Housing Board")
    expect(row).to_contain_text("Enabled")
    assert tab.axe_violations() == []

    row.get_by_role("link", name=client_id).click()
    set_a_webhook(tab)
    page.get_by_role("button", name="Disable app").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Disable .*\?$"))).to_be_visible()
    assert tab.axe_violations() == []
    page.get_by_role("button", name="Yes, disable this app").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("is disabled")
    expect(page.locator(".govuk-summary-list")).to_contain_text("Disabled")
    assert tab.axe_violations() == []

    page.get_by_role("button", name="Edit registration").click()
    textarea = page.get_by_label("Registration document (JSON)")
    expect(textarea).to_have_value(re.compile(rf'"client_id": "{client_id}"'))
    assert tab.axe_violations() == []
    assert tab.problems == []


def set_a_webhook(tab) -> None:
    """From the app's page: a plain-http address refused next to its field, an https one saved,
    then removed."""
    page = tab.page
    page.get_by_role("link", name="Change webhook").click()
    expect(page.get_by_role("heading", name="Webhook")).to_be_visible()
    assert tab.axe_violations() == []
    page.get_by_label("Webhook address").fill("http://grants.example.gov/events")
    page.get_by_role("button", name="Save webhook").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("must use https")
    expect(summary).to_be_focused()
    assert tab.axe_violations() == []
    summary.get_by_role("link").first.click()
    expect(page.get_by_label("Webhook address")).to_be_focused()
    page.get_by_label("Webhook address").fill("https://grants.example.gov/events")
    page.get_by_role("button", name="Save webhook").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("webhook is saved")
    expect(page.locator("#webhook")).to_have_text("https://grants.example.gov/events")
    page.get_by_role("link", name="Change webhook").click()
    page.get_by_role("button", name="Remove webhook").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("webhook is removed")
    expect(page.locator("#webhook")).to_contain_text("not told")


def test_an_operator_without_the_admin_role_gets_the_403_page(tab, live_app):
    sign_in(tab, live_app, "operator")
    response = tab.page.goto(f"{tab.base_url}/admin/apps/-/new")
    assert response.status == 403
    expect(tab.page.get_by_text("does not have the admin role")).to_be_visible()
    assert tab.axe_violations() == []


def test_admin_pages_fit_a_phone_screen(phone_tab, live_app):
    page, client_id = phone_tab.page, f"phone-{uuid.uuid4().hex[:8]}"
    sign_in(phone_tab, live_app)
    phone_tab.goto("/admin/apps/-/new")
    assert horizontal_overflow(phone_tab) == [], "empty form"
    assert phone_tab.axe_violations() == [], "empty form"
    fill_with_every_error(page)
    page.get_by_role("button", name="Register app").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    assert horizontal_overflow(phone_tab) == [], "form with errors"
    assert phone_tab.axe_violations() == [], "form with errors"
    fill_correctly(page, client_id)
    page.get_by_role("button", name="Register app").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("is registered")
    assert horizontal_overflow(phone_tab) == [], "app page"
    assert phone_tab.axe_violations() == [], "app page"
    phone_tab.goto(f"/admin/apps/{client_id}/webhook")
    page.get_by_label("Webhook address").fill("http://" + "long-agency-host-name." * 6 + "example.gov/events")
    page.get_by_role("button", name="Save webhook").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    assert horizontal_overflow(phone_tab) == [], "webhook page with an error"
    assert phone_tab.axe_violations() == [], "webhook page with an error"
    phone_tab.goto("/admin/apps/-/import")
    import_document(phone_tab, example_document(f"phone-{uuid.uuid4().hex[:8]}"))
    expect(page.locator(".govuk-notification-banner")).to_contain_text("is registered")
    phone_tab.goto("/admin/apps/")
    assert horizontal_overflow(phone_tab) == [], "list page"
    assert phone_tab.axe_violations() == []
    assert phone_tab.problems == []
