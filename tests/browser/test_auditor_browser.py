"""An auditor's journey in a real Chromium: sign in with a TOTP code, search by national id, read an
entry's inclusion proof, download the log and verify it offline. Every page is checked with
axe-core, for console errors and CSP violations, and at phone width for sideways scrolling."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from playwright.sync_api import expect

from audit.checkpoint_signing import load_public_key_pem
from audit.log import Event, append
from audit.tree import create_checkpoint
from audit.verifier import verify_export
from audit.witness_client import WitnessSubmitter, httpx_post
from core.clock import utcnow
from tests.audit.test_witness_submission import start_witness
from tests.browser.test_operator_browser import horizontal_overflow
from tests.factories import fresh_uinfin, make_staff

PASSWORD = "correct horse battery staple"
SCREENSHOT = "/tmp/auditor_entry.png"  # noqa: S108 - a fixed path to look at by hand
SEARCH_SCREENSHOT = "/tmp/auditor_search.png"  # noqa: S108
PHONE_SCREENSHOT = "/tmp/auditor_search_phone.png"  # noqa: S108


@pytest.fixture
def auditor_world(live_app):
    """An auditor and a few disclosures about one citizen, under a signed checkpoint, committed."""
    runtime = live_app.extensions["consentry"]
    username, uinfin, app_id = (
        f"auditor-{uuid.uuid4().hex[:8]}",
        fresh_uinfin(),
        f"app-{uuid.uuid4().hex[:6]}",
    )
    with runtime.sessions() as session:
        now = utcnow()
        auditor = make_staff(
            session, runtime.config.secret_key, roles=("auditor",), username=username, password=PASSWORD
        )
        for attributes in (("name",), ("name", "cpfbalances"), ("regadd",)):
            event = Event(
                kind="disclosure",
                citizen_ref=runtime.vault.digest_uinfin(uinfin),
                app_id=app_id,
                purpose="loan application",
                outcome="released",
                attributes=attributes,
            )
            append(session, event, now=now)
        create_checkpoint(session, signer=runtime.audit_signer, now=now)
        session.commit()
    return username, auditor.totp, uinfin


def download(page, link_name: str):
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name).click()
    return info.value.path().read_bytes()


@pytest.mark.both_databases
def test_auditor_journey(tab, auditor_world):
    username, totp, uinfin = auditor_world
    page = tab.page
    tab.goto("/auditor/")
    expect(page).to_have_url(re.compile(r"/staff/sign-in\?next=/auditor/$"))
    assert tab.axe_violations() == []
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Security code").fill("000000" if totp.now() != "000000" else "111111")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "The username, password or code is not correct"
    )
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    assert tab.axe_violations() == []

    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Security code").fill(totp.now())
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Search the audit log")).to_be_visible()
    assert tab.axe_violations() == []

    page.get_by_label("NRIC or FIN").fill(uinfin)
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"citizen_ref=[0-9a-f]{64}"))
    assert uinfin not in page.url and uinfin not in page.content()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("regadd")
    expect(page.locator(".govuk-inset-text")).to_contain_text("Showing one citizen's entries")
    assert tab.axe_violations() == []
    page.screenshot(path=SEARCH_SCREENSHOT, full_page=True)
    search_url = page.url

    rows.first.get_by_role("link").click()
    expect(page.get_by_role("heading", name=re.compile(r"Audit entry \d+"))).to_be_visible()
    expect(page.locator("main .govuk-tag")).to_have_text("Verified")
    assert tab.axe_violations() == []
    page.screenshot(path=SCREENSHOT, full_page=True)
    entry_url = page.url

    page.get_by_role("link", name="Log status").click()
    expect(page.get_by_role("heading", name="Log status")).to_be_visible()
    assert tab.axe_violations() == []
    log = download(page, "The log up to the latest checkpoint (JSON Lines)")
    checkpoint = json.loads(download(page, "The latest signed checkpoint (JSON)"))
    key = load_public_key_pem(download(page, "The audit public key (PEM)"))
    report = verify_export(log.decode().splitlines(keepends=True), checkpoint, key)
    assert report.ok, report.first_error
    assert report.checked == checkpoint["body"]["tree_size"]

    page.set_viewport_size({"width": 375, "height": 740})
    for url in (search_url, entry_url, tab.base_url + "/auditor/status"):
        page.goto(url)
        assert horizontal_overflow(tab) == [], url
        assert tab.axe_violations() == [], url
    page.goto(search_url)
    page.screenshot(path=PHONE_SCREENSHOT, full_page=True)

    page.set_viewport_size({"width": 1280, "height": 900})  # the phone layout folds the menu away
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("You have signed out")
    assert tab.problems == []


def test_the_status_page_shows_the_witnesses(tab, live_app, auditor_world, tmp_path):
    """The Witnesses section with a witness on loopback that cosigned the newest checkpoint: its
    key, the quorum met; axe clean and no sideways scroll on a phone (keys are long)."""
    username, totp, _ = auditor_world
    runtime = live_app.extensions["consentry"]
    witness = start_witness(tmp_path, runtime.audit_signer)
    before = runtime.config
    try:
        submitter = WitnessSubmitter(runtime.writer_sessions, [witness.target], httpx_post(), utcnow)
        assert [o.result for o in submitter.run_round()] == ["cosigned"]
        runtime.config = before.replace(audit_witnesses=f"{witness.url} {witness.witness.vkey}")
        page = tab.page
        tab.goto("/auditor/status")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Security code").fill(totp.now())
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Witnesses")).to_be_visible()
        expect(page.locator("#witness-quorum")).to_contain_text("Quorum met")
        expect(page.locator("main table")).to_contain_text(witness.witness.vkey)
        assert tab.axe_violations() == []
        page.set_viewport_size({"width": 375, "height": 740})
        assert horizontal_overflow(tab) == []
        assert tab.axe_violations() == []
        assert tab.problems == []
    finally:
        runtime.config = before
        witness.stop()
