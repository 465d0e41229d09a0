"""Screenshots of the citizen journeys for a release note, from real Chromium at 1280 and 375 px:
activation (code, password, authenticator QR, recovery codes), corrections (the form, "My
correction requests"), the step-up and the NRIC/FIN shown in place, declarations (the list, a form
with an error), and a page in 中文 after the language switch.

Run only when asked: `SCREENSHOT_DIR=/tmp/screens .venv/bin/pytest -p no:xdist
tests/browser/test_screenshots.py` writes `<journey>-<step>-<width>px.png` (whole pages) there;
without SCREENSHOT_DIR every test here is skipped, so the normal run writes nothing."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import expect

from tests.browser.test_citizen_activation import PASSWORD as ACTIVATION_PASSWORD
from tests.browser.test_citizen_activation import letter  # noqa: F401 - the fixture
from tests.browser.test_citizen_corrections import age_sign_in, person, sign_in  # noqa: F401

OUT = os.environ.get("SCREENSHOT_DIR")
pytestmark = pytest.mark.skipif(not OUT, reason="screenshots only when SCREENSHOT_DIR names a directory")


@pytest.fixture(params=[1280, 375], ids=lambda width: f"{width}px")
def shot(request):
    """A tab at the width, and `snap(name)` writing the whole page's PNG."""
    width = request.param
    tab = request.getfixturevalue("tab" if width == 1280 else "phone_tab")
    folder = Path(OUT or ".")
    folder.mkdir(parents=True, exist_ok=True)

    def snap(name: str) -> None:
        tab.page.screenshot(path=str(folder / f"{name}-{width}px.png"), full_page=True)

    return tab, snap


def test_activation(shot, letter):  # noqa: F811
    tab, snap = shot
    page = tab.page
    tab.goto("/citizen/activate")
    page.get_by_label("NRIC or FIN").fill(letter.uinfin)
    page.get_by_label("Activation code").fill(letter.code)
    snap("activation-1-code")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Choose a password")).to_be_visible()
    page.get_by_label("Password", exact=True).fill(ACTIVATION_PASSWORD)
    page.get_by_label("Enter the password again").fill(ACTIVATION_PASSWORD)
    snap("activation-2-password")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("img", name="QR code to scan with your authenticator app")).to_be_visible()
    snap("activation-3-authenticator-qr")
    secret = page.locator("#secret").inner_text().replace(" ", "")
    page.get_by_label("Security code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirm code").click()
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    snap("activation-4-recovery-codes")


def test_corrections_step_up_declarations_and_language(shot, live_app, person):  # noqa: F811
    tab, snap = shot
    page = tab.page
    sign_in(tab, person)

    tab.goto("/citizen/profile/name/wrong")
    page.get_by_label("What is wrong?").fill("My name is misspelt")
    page.get_by_label("What is the correct value?").fill("TAN AH KAU")
    snap("corrections-1-form")
    page.get_by_role("button", name="Send to the agency").click()
    expect(page.locator("#status")).to_contain_text("Sent")
    tab.goto("/citizen/corrections")
    snap("corrections-2-my-correction-requests")

    age_sign_in(live_app, person, minutes=6)
    tab.goto("/citizen/profile")
    page.locator("#agency-identity > summary").click()
    page.locator("#show-national-id").click()
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    snap("stepup-1-code")
    page.get_by_label("Code from your authenticator app").fill(person.totp.at(time.time() + 30))
    page.get_by_role("button", name="Show my NRIC or FIN").click()
    expect(page.locator("#hide-national-id")).to_be_visible()
    snap("stepup-2-national-id-shown-in-place")

    tab.goto("/citizen/declarations")
    expect(page.get_by_role("heading", name="My declarations")).to_be_visible()
    snap("declarations-1-list")
    page.get_by_role("link", name="Add highest education level").click()
    page.get_by_role("button", name="Save declaration").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    snap("declarations-2-form-with-error")

    tab.goto("/citizen/profile")
    page.get_by_role("link", name="中文").click()
    expect(page.get_by_role("heading", name="我的个人资料")).to_be_visible()
    snap("language-1-my-profile-in-chinese")
    tab.goto("/citizen/corrections")
    snap("language-2-my-correction-requests-in-chinese")
