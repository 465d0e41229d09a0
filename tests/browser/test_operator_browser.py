"""An operator's journey in a real Chromium: sign in, find a citizen, read the profile, refresh it.
Every page is checked for accessibility (axe-core), console errors and CSP violations."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.factories import fresh_uinfin

SCREENSHOT = "/tmp/operator_profile.png"  # noqa: S108 - a fixed path to look at by hand
PHONE_SCREENSHOT = "/tmp/operator_profile_phone.png"  # noqa: S108


def sign_in(tab, live_app) -> None:
    tab.goto("/operator/")
    expect(tab.page).to_have_url(re.compile(r"/operator/login$"))
    tab.page.get_by_label("Operator password").fill(live_app.extensions["consentry"].config.operator_password)
    tab.page.get_by_role("button", name="Sign in").click()
    expect(tab.page.get_by_role("heading", name="Find a citizen")).to_be_visible()


def find(tab, uinfin: str) -> None:
    tab.page.get_by_label("Find a citizen").fill(uinfin)
    tab.page.get_by_role("button", name="Find citizen").click()


def horizontal_overflow(tab) -> list[str]:
    """Why the page would scroll sideways or look cut off: the document is wider than the screen, or
    something in the main column reaches past the column's right edge (a table too wide for it)."""
    return tab.page.evaluate(
        """() => {
          const root = document.documentElement;
          const edge = document.querySelector("main").getBoundingClientRect().right;
          const wide = root.scrollWidth > root.clientWidth ? ["document"] : [];
          // Grid rows reach into the gutters by design; what they hold must not.
          return wide.concat(Array.from(document.querySelectorAll("main *"))
            .filter((e) => !/govuk-grid-(row|column)/.test(e.className))
            .filter((e) => e.getBoundingClientRect().right > edge + 0.5)
            .map((e) => `${e.tagName.toLowerCase()}.${e.className}`));
        }"""
    )


def test_operator_journey(tab, live_app, seeded_citizen, simulators):
    page = tab.page
    tab.goto("/")
    assert tab.axe_violations() == []
    page.get_by_role("link", name="Go to the operator pages").click()

    expect(page).to_have_url(re.compile(r"/operator/login$"))
    assert tab.axe_violations() == []
    page.get_by_label("Operator password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("The password is not correct")
    expect(page.locator(".govuk-error-summary")).to_be_focused()  # GOV.UK Frontend's JS ran
    assert tab.axe_violations() == []
    sign_in(tab, live_app)
    assert tab.axe_violations() == []

    find(tab, fresh_uinfin())
    expect(page.locator(".govuk-error-summary")).to_contain_text("No citizen with this NRIC or FIN")
    assert tab.axe_violations() == []

    find(tab, seeded_citizen.uinfin)
    expect(page).to_have_url(re.compile(rf"/operator/citizens/{seeded_citizen.id}$"))
    assert seeded_citizen.uinfin not in page.url
    expect(page.get_by_role("heading", name="Citizen profile")).to_be_visible()
    expect(page.get_by_role("heading", name="National Identity Registry")).to_be_visible()
    expect(page.get_by_text("Government-verified").first).to_be_visible()
    expect(page.get_by_text("Declared by citizen").first).to_be_visible()
    expect(page.locator(".govuk-tag", has_text="Unavailable").first).to_be_visible()
    expect(page.get_by_text(f"••••{seeded_citizen.uinfin[-4:]}")).to_be_visible()
    assert seeded_citizen.uinfin not in page.content()
    assert tab.axe_violations() == []
    page.screenshot(path=SCREENSHOT, full_page=True)

    simulators.set_fault("housing", outage=True)
    page.get_by_role("button", name="Refresh from agencies").click()
    banner = page.locator(".govuk-notification-banner")
    expect(banner).to_contain_text("Refreshed, with problems")
    expect(banner).to_contain_text("Housing Board: http_503")
    expect(page.get_by_role("row", name=re.compile("Housing Board"))).to_contain_text("Failed")
    assert tab.axe_violations() == []

    simulators.reset()
    page.get_by_role("button", name="Refresh from agencies").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "Profile refreshed from all 8 agencies"
    )

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("You have signed out")
    assert tab.problems == []


def test_pages_fit_a_phone_screen(phone_tab, live_app, seeded_citizen):
    phone_tab.goto("/")
    assert horizontal_overflow(phone_tab) == [], "landing page"
    sign_in(phone_tab, live_app)
    assert horizontal_overflow(phone_tab) == [], "search page"
    find(phone_tab, seeded_citizen.uinfin)
    expect(phone_tab.page.get_by_role("heading", name="Citizen profile")).to_be_visible()
    assert horizontal_overflow(phone_tab) == [], "profile page"
    phone_tab.page.screenshot(path=PHONE_SCREENSHOT, full_page=True)
    assert phone_tab.axe_violations() == []
    assert phone_tab.problems == []


def test_works_without_javascript(no_js_tab, live_app, seeded_citizen):
    page = no_js_tab.page
    no_js_tab.goto("/operator/login")
    page.get_by_label("Operator password").fill(live_app.extensions["consentry"].config.operator_password)
    page.get_by_role("button", name="Sign in").click()
    find(no_js_tab, seeded_citizen.uinfin)
    expect(page.get_by_role("heading", name="Citizen profile")).to_be_visible()
    page.get_by_role("button", name="Refresh from agencies").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("agencies")
    assert no_js_tab.problems == []


@pytest.mark.parametrize("path", ["/", "/operator/login"])
def test_no_csp_violation_or_console_error_on_public_pages(tab, path):
    response = tab.goto(path)
    assert response is not None and response.status == 200
    expect(tab.page.locator("body")).to_have_class(
        re.compile(r"\bjs-enabled\b.*\bgovuk-frontend-supported\b")
    )
    assert tab.problems == []
