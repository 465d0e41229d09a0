"""A citizen signs in in a real Chromium: sent from a protected page to sign in and back, a wrong
code first, then the right one, then signs out; on a desktop and at phone width; a copy of the
signed-in cookie, replayed in another browser after sign-out, is signed out. Every page is checked
with axe-core, for console errors and CSP violations, and at phone width for sideways scrolling."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyotp
import pytest
from playwright.sync_api import expect

from core.clock import utcnow
from identity.accounts import SIGN_IN_FAILED, enrol
from tests.browser.test_operator_browser import horizontal_overflow
from tests.factories import fresh_uinfin, make_citizen

# A citizen's journey (issue 13): run on PostgreSQL too (tests/browser/conftest.py).
pytestmark = pytest.mark.both_databases

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Account:
    uinfin: str
    totp: pyotp.TOTP


@pytest.fixture
def account(live_app) -> Account:
    """A citizen with an account, committed for real (the live server reads it)."""
    runtime = live_app.extensions["consentry"]
    uinfin = fresh_uinfin()
    with runtime.sessions() as session:
        make_citizen(session, runtime.vault, uinfin=uinfin)
        enrolment = enrol(session, vault=runtime.vault, uinfin=uinfin, password=PASSWORD, now=utcnow())
        session.commit()
    return Account(uinfin, pyotp.TOTP(enrolment.totp_secret))


def fill_sign_in(page, account: Account, code: str) -> None:
    page.get_by_label("NRIC or FIN").fill(account.uinfin.lower())
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Security code").fill(code)
    page.get_by_role("button", name="Sign in").click()


def test_citizen_signs_in_and_out(tab, account):
    page = tab.page
    tab.goto("/citizen/")
    expect(page).to_have_url(re.compile(r"/citizen/sign-in\?next=/citizen/$"))
    expect(page.get_by_role("heading", name="Sign in to Consentry")).to_be_visible()
    assert tab.axe_violations() == []

    fill_sign_in(page, account, "000000" if account.totp.now() != "000000" else "111111")
    expect(page.locator(".govuk-error-summary")).to_contain_text(SIGN_IN_FAILED)
    expect(page.locator(".govuk-error-summary")).to_be_focused()  # GOV.UK Frontend's JS ran
    expect(page.get_by_label("NRIC or FIN")).to_have_value(account.uinfin)
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    assert tab.axe_violations() == []

    fill_sign_in(page, account, account.totp.now())
    expect(page).to_have_url(re.compile(r"/citizen/$"))
    expect(page.get_by_role("heading", name="Signed in")).to_be_visible()
    assert account.uinfin not in page.content()
    assert tab.axe_violations() == []

    page.locator("main").get_by_role("button", name="Sign out").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("You have signed out")
    assert tab.axe_violations() == []
    tab.goto("/citizen/")
    expect(page).to_have_url(re.compile(r"/citizen/sign-in"))
    assert tab.problems == []


def test_citizen_signs_in_on_a_phone(phone_tab, account):
    page = phone_tab.page
    phone_tab.goto("/citizen/sign-in")
    assert horizontal_overflow(phone_tab) == []
    assert phone_tab.axe_violations() == []
    fill_sign_in(page, account, account.totp.now())
    expect(page.get_by_role("heading", name="Signed in")).to_be_visible()
    assert horizontal_overflow(phone_tab) == []
    assert phone_tab.axe_violations() == []
    assert phone_tab.problems == []


def test_sign_in_works_without_javascript(no_js_tab, account):
    page = no_js_tab.page
    no_js_tab.goto("/citizen/sign-in?next=/citizen/")
    fill_sign_in(page, account, account.totp.now())
    expect(page.get_by_role("heading", name="Signed in")).to_be_visible()
    assert no_js_tab.problems == []


def test_a_copied_cookie_is_signed_out_with_the_citizen(tab, phone_tab, account):
    """The phone is another browser, holding a copy of the desktop's cookie."""
    page, thief = tab.page, phone_tab
    tab.goto("/citizen/sign-in")
    fill_sign_in(page, account, account.totp.now())
    expect(page.get_by_role("heading", name="Signed in")).to_be_visible()
    copied = page.context.cookies()
    assert [cookie["httpOnly"] for cookie in copied] == [True]  # no script can read it
    thief.page.context.add_cookies(copied)
    thief.goto("/citizen/")
    expect(thief.page.get_by_role("heading", name="Signed in")).to_be_visible()

    page.locator("main").get_by_role("button", name="Sign out").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("You have signed out")

    thief.goto("/citizen/")
    expect(thief.page).to_have_url(re.compile(r"/citizen/sign-in\?next=/citizen/$"))
    expect(thief.page.locator(".govuk-notification-banner")).to_contain_text("Your session has ended")
    assert thief.axe_violations() == []
    assert tab.problems == [] and thief.problems == []
