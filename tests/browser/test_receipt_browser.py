"""A citizen's consent receipt in a real Chromium: from "Who has my data" to the receipt of a
release, read in words, downloaded, and verified with the documented command against the live
server's published receipt keys; and from "My consents" to the receipt of the consent. axe, console
and CSP checks on each page; at 375 px no sideways scrolling."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.test_citizen_portal import APP_NAME, portal  # noqa: F401  (fixtures)
from tests.browser.test_citizen_sign_in import fill_sign_in
from tests.browser.test_operator_browser import horizontal_overflow

ROOT = Path(__file__).resolve().parents[2]


def test_citizen_opens_downloads_and_verifies_a_receipt(tab, live_server, portal, tmp_path):  # noqa: F811
    page = tab.page
    tab.goto("/citizen/history")
    fill_sign_in(page, portal.account, portal.account.totp.now())
    expect(page.get_by_role("heading", name="Who has my data")).to_be_visible()
    page.get_by_role("link", name=re.compile("^Receipt for received your details")).click()

    expect(page.get_by_role("heading", name=f"{APP_NAME} received your details")).to_be_visible()
    summary = page.locator(".govuk-summary-list")
    expect(summary).to_contain_text("Housing Board")
    expect(summary).to_contain_text("Registered address")
    expect(summary).to_contain_text("This release only")
    expect(summary).to_contain_text("urn:consentry:receipt:")
    assert portal.uinfin not in page.content()
    assert tab.axe_violations() == []

    with page.expect_download() as caught:
        page.get_by_role("button", name="Download receipt (JSON)").click()
    download = caught.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert re.fullmatch(r"consent-receipt-\d+\.json", saved.name)

    command = page.locator("code").inner_text()
    assert command.startswith(f"python -m consent.receipt_verify {saved.name} --jwks ")
    assert command.endswith("/.well-known/receipt-keys")  # at PUBLIC_BASE_URL
    args = [
        sys.executable,
        "-m",
        "consent.receipt_verify",
        str(saved),
        "--jwks",
        f"{live_server}/.well-known/receipt-keys",
    ]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("valid: urn:consentry:receipt:")

    tab.goto("/citizen/consents")
    card = page.locator(".govuk-summary-card").filter(has_text=APP_NAME)
    card.get_by_role("link", name=re.compile("^Receipt of your consent")).click()
    expect(
        page.get_by_role("heading", name=f"You agreed to share your details with {APP_NAME}")
    ).to_be_visible()
    assert tab.axe_violations() == []
    assert tab.problems == []


def test_a_receipt_fits_a_phone(phone_tab, portal):  # noqa: F811
    page = phone_tab.page
    phone_tab.goto("/citizen/history")
    fill_sign_in(page, portal.account, portal.account.totp.now())
    page.get_by_role("link", name=re.compile("^Receipt for received your details")).click()
    expect(page.get_by_role("heading", name=f"{APP_NAME} received your details")).to_be_visible()
    assert horizontal_overflow(phone_tab) == []
    assert phone_tab.axe_violations() == []
    assert phone_tab.problems == []
