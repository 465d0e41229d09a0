"""My declarations in a real Chromium on a phone (375 px): a citizen declares their highest
education level and a dependant, sees errors next to the fields they concern, changes a
declaration and removes one after the confirmation page; the profile then counts and labels them.
Every new page and error state is checked with axe-core, for console errors and CSP violations,
and for sideways scrolling."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_citizen_sign_in import account, fill_sign_in  # noqa: F401 - the fixture
from tests.browser.test_operator_browser import horizontal_overflow

# A citizen's journey (issue 13): run on PostgreSQL too (tests/browser/conftest.py).
pytestmark = pytest.mark.both_databases


def check(tab, what: str) -> None:
    assert tab.axe_violations() == [], what
    assert horizontal_overflow(tab) == [], what


def test_declare_change_and_remove_on_a_phone(phone_tab, account):  # noqa: F811
    tab, page = phone_tab, phone_tab.page
    tab.goto("/citizen/declarations")
    fill_sign_in(page, account, account.totp.now())
    expect(page.get_by_role("heading", name="My declarations")).to_be_visible()
    expect(page.locator("#declaration-edulevel")).to_contain_text("Not declared")
    check(tab, "list")

    page.get_by_role("link", name="Add highest education level").click()
    expect(page.get_by_role("heading", name="Highest education level")).to_be_visible()
    check(tab, "form with a select")
    page.get_by_role("button", name="Save declaration").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select highest education level")
    expect(page.locator("#field-code-error")).to_contain_text("Select highest education level")
    check(tab, "form with an error")
    page.get_by_label("Highest education level").select_option(label="Polytechnic Diploma")
    page.get_by_role("button", name="Save declaration").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("is saved")
    expect(page.locator("#declaration-edulevel")).to_contain_text("Polytechnic Diploma")
    expect(page.locator("#declaration-edulevel")).to_contain_text("Declared by you")
    check(tab, "list with a declaration and a banner")

    page.get_by_role("link", name="Change highest education level").click()
    expect(page.get_by_label("Highest education level")).to_have_value("5")
    page.get_by_label("Highest education level").select_option(label="Bachelor's or Equivalent")
    page.get_by_role("button", name="Save declaration").click()
    expect(page.locator("#declaration-edulevel")).to_contain_text("Bachelor's or Equivalent")

    page.get_by_role("link", name="Add dependants").click()
    page.locator("#field-0-name").fill("TAN AH MEI")
    page.locator("#field-0-dob").fill("2999-01-01")
    page.get_by_role("button", name="Save declaration").click()
    expect(page.locator("#field-0-dob-error")).to_contain_text("must be today or in the past")
    expect(page.locator("#field-0-relationship-error")).to_contain_text("Select relationship to you")
    expect(page.locator("#field-0-name")).to_have_value("TAN AH MEI")
    check(tab, "repeated fieldsets with errors")
    page.locator("#field-0-relationship").check()
    page.locator("#field-0-dob").fill("2015-03-27")
    page.get_by_role("button", name="Save declaration").click()
    expect(page.locator("#declaration-dependants")).to_contain_text("TAN AH MEI")

    page.get_by_role("link", name="Remove highest education level").click()
    expect(page.get_by_role("heading", name=re.compile("Remove your declaration"))).to_be_visible()
    check(tab, "remove confirmation")
    page.get_by_role("button", name="Remove declaration").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("is removed")
    expect(page.locator("#declaration-edulevel")).to_contain_text("Not declared")

    tab.goto("/citizen/profile")
    expect(page.locator("#summary")).to_contain_text("1 item")
    page.locator("#agency-citizen summary").click()
    expect(page.locator("#agency-citizen")).to_contain_text("TAN AH MEI")
    check(tab, "profile")
    assert tab.problems == []
