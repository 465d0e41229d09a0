"""A consent's life in a real Chromium: the citizen shares with an agency app for 3 months, pauses
the consent (the app's token is refused with invalid_token), resumes it (the same token works
again); then says "This wasn't me" about the release, and an auditor finds the report in the
queue, opens its entry and moves it on. Every new page is checked with axe-core."""

from __future__ import annotations

import re
import uuid

import pytest
from joserfc.jwk import ECKey
from playwright.sync_api import expect

from examples.myinfo_v4_client import ServerError
from tests.browser import test_consent_browser as consent_browser
from tests.browser.conftest import Tab
from tests.browser.test_consent_browser import sign_in, start
from tests.factories import make_staff

PASSWORD = "correct horse battery staple"
# The consent-screen journey's fixtures: a registered app with its loopback site, a citizen.
agency_server, journey, gate = consent_browser.agency_server, consent_browser.journey, consent_browser.gate


def test_pause_resume_and_this_wasnt_me_to_the_auditors_queue(
    chromium,
    tab,
    gate,
    journey,
    live_app,
    monkeypatch,
):
    page = tab.page
    verifier = start(page, journey, state="st-life")
    sign_in(page, journey)
    page.get_by_label("3 months").check()
    page.get_by_role("button", name="Share", exact=True).click()
    expect(page.get_by_role("heading", name="Back at the app")).to_be_visible()
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # loopback http in tests only
    dpop_key = ECKey.generate_key("P-256")
    token = journey.app.token(code=gate.last_params()["code"], code_verifier=verifier, dpop_key=dpop_key)
    access, granted = token["access_token"], token["scope"].split()
    assert "name" in journey.app.fetch_person(access, dpop_key=dpop_key, scope=granted)

    tab.goto("/citizen/consents")
    expect(page.get_by_role("heading", name="Current")).to_be_visible()
    assert tab.axe_violations() == [], "consents"
    page.get_by_role("link", name=re.compile(r"^Pause")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Pause your consent")
    assert tab.axe_violations() == [], "pause"
    page.get_by_role("button", name="Pause consent").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("You paused your consent")
    with pytest.raises(ServerError) as refused:
        journey.app.fetch_person(access, dpop_key=dpop_key, scope=granted)
    assert refused.value.status == 401 and refused.value.body["error"] == "invalid_token"

    page.get_by_role("link", name=re.compile(r"^Resume")).click()
    assert tab.axe_violations() == [], "resume"
    page.get_by_role("button", name="Resume consent").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("You resumed your consent")
    assert "name" in journey.app.fetch_person(access, dpop_key=dpop_key, scope=granted)

    page.get_by_role("link", name=re.compile(r"^Stop sharing an item")).click()
    expect(page.get_by_role("heading", name="Items you cannot drop")).to_be_visible()
    assert tab.axe_violations() == [], "narrow"

    tab.goto("/citizen/history")
    page.get_by_role("button", name=re.compile(r"^This wasn't me")).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Report that this was not you")
    assert tab.axe_violations() == [], "not me"
    page.get_by_label("Anything the auditors should know (optional)").fill("I never applied for this")
    page.get_by_role("button", name="Send report").click()
    expect(page.get_by_text("Report sent")).to_be_visible()
    expect(page.get_by_role("link", name="Withdraw the consent behind it")).to_be_visible()
    assert tab.axe_violations() == [], "report sent"
    assert tab.problems == []

    runtime = live_app.extensions["consentry"]
    username = f"auditor-{uuid.uuid4().hex[:8]}"
    with runtime.sessions() as session:
        member = make_staff(
            session, runtime.config.secret_key, roles=("auditor",), username=username, password=PASSWORD
        )
        session.commit()
    auditor = chromium.new_context(viewport={"width": 1280, "height": 900}, base_url=tab.base_url)
    try:
        staff = auditor.new_page()
        staff.goto("/staff/sign-in?next=/auditor/")
        staff.get_by_label("Username").fill(username)
        staff.get_by_label("Password", exact=True).fill(PASSWORD)
        staff.get_by_label("Security code").fill(member.totp.now())
        staff.get_by_role("button", name="Sign in").click()
        expect(staff.get_by_role("heading", name="Search the audit log")).to_be_visible()
        staff.get_by_role("link", name="Citizen reports").click()
        expect(staff.get_by_role("heading", level=1)).to_have_text("Citizen reports")
        row = staff.locator("tbody tr").filter(has_text="I never applied for this")
        expect(row).to_have_count(1)
        expect(row.locator(".govuk-tag")).to_have_text("Open")
        row.get_by_label(re.compile(r"^Reason")).fill("asked the agency for its logs")
        row.get_by_label(re.compile(r"^State")).select_option("investigating")
        row.get_by_role("button", name="Move").click()
        expect(staff.locator(".govuk-notification-banner")).to_contain_text("now investigating")
        row = staff.locator("tbody tr").filter(has_text="I never applied for this")
        expect(row.locator(".govuk-tag")).to_have_text("Investigating")
        assert Tab(staff, tab.base_url).axe_violations() == [], "auditor queue"
        row.get_by_role("link", name=re.compile(r"^Entry \d+")).click()
        expect(staff.get_by_role("heading", name=re.compile(r"Audit entry \d+"))).to_be_visible()
    finally:
        auditor.close()
