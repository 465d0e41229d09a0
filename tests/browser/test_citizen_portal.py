"""The citizen portal in a real Chromium: a citizen signs in, opens their profile, their history
("Who has my data") and their consents, and withdraws a consent; on a desktop and at phone width.
Every page is checked with axe-core, for console errors and CSP violations, and at 375 px for
sideways scrolling."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import delete

from agency_connectors.refresh import refresh_citizen
from audit.log import Event, append
from consent.apps import register_app
from consent.consents import grant_consent
from consent.models import AgencyApp, Consent, Purpose
from core.clock import utcnow
from identity.accounts import enrol
from profile_store.models import Citizen
from tests.browser.test_citizen_sign_in import Account, fill_sign_in
from tests.browser.test_operator_browser import horizontal_overflow
from tests.factories import fresh_uinfin, make_citizen
from tests.oauth.flow import PURPOSE, AgencyKeys, registration

PASSWORD = "correct horse battery staple"
APP_NAME = "Housing grant application"
PURPOSE_TEXT = "To assess your housing grant application."
SCREENSHOTS = "/tmp/citizen_portal_{}.png"  # noqa: S108 - fixed paths to look at by hand
PAGES = [
    ("/citizen/", "Your Consentry account"),
    ("/citizen/profile", "My profile"),
    ("/citizen/history", "Who has my data"),
    ("/citizen/consents", "My consents"),
]


@dataclass(frozen=True)
class Portal:
    account: Account
    citizen_id: str
    consent_id: str
    uinfin: str


@pytest.fixture
def portal(live_app) -> Iterator[Portal]:
    """A citizen with agency data, a sign-in account, one active consent for a freshly registered
    app and a disclosure under it, all committed for real; removed afterwards (the audit entries
    stay, as audit entries do, under a national id no other test uses)."""
    runtime = live_app.extensions["consentry"]
    client_id = f"portal-{secrets.token_hex(4)}"
    now = utcnow()
    with runtime.writer_sessions() as session:
        uinfin = fresh_uinfin()
        citizen = make_citizen(session, runtime.vault, uinfin=uinfin, now=now)
        refresh_citizen(
            session,
            registry=runtime.connectors,
            vault=runtime.vault,
            catalogue=runtime.catalogue,
            citizen=citizen,
            now=now,
        )
        enrolment = enrol(session, vault=runtime.vault, uinfin=uinfin, password=PASSWORD, now=now)
        app = register_app(
            session,
            document=registration(AgencyKeys(), client_id=client_id),
            catalogue=runtime.catalogue,
            now=now,
        )
        purpose = session.get(Purpose, (client_id, PURPOSE))
        consent = grant_consent(
            session,
            citizen_id=citizen.id,
            app=app,
            purpose=purpose,
            requested=["uinfin", "name", "regadd", "noa-basic"],
            approved=["uinfin", "name", "regadd"],
            remember_for=None,
            now=now,
        )
        for kind, outcome in (("consent_granted", "granted"), ("disclosure", "released")):
            event = Event(
                kind=kind,
                citizen_ref=citizen.uinfin_digest,
                app_id=client_id,
                purpose=PURPOSE,
                outcome=outcome,
                attributes=tuple(consent.approved),
                details={"consent_id": consent.id, "agency": app.agency},
            )
            append(session, event, now=now)
        session.commit()
        made = Portal(Account(uinfin, pyotp.TOTP(enrolment.totp_secret)), citizen.id, consent.id, uinfin)
    yield made
    with runtime.writer_sessions() as session:
        session.execute(delete(Citizen).where(Citizen.id == made.citizen_id))
        session.execute(delete(AgencyApp).where(AgencyApp.client_id == client_id))
        session.commit()


def consent_of(live_app, consent_id: str) -> Consent:
    with live_app.extensions["consentry"].sessions() as session:
        return session.get(Consent, consent_id)


def test_citizen_reads_their_portal_and_withdraws_a_consent(tab, live_app, portal):
    page = tab.page
    tab.goto("/citizen/")
    fill_sign_in(page, portal.account, portal.account.totp.now())
    expect(page.get_by_role("heading", name="Your Consentry account")).to_be_visible()
    assert tab.axe_violations() == []

    page.locator("main").get_by_role("link", name="My profile").click()
    expect(page.get_by_role("heading", name="My profile", exact=True)).to_be_visible()
    expect(page.get_by_text(f"••••{portal.uinfin[-4:]}")).to_be_visible()
    assert portal.uinfin not in page.content()
    expect(page.get_by_text("Government-verified").first).to_be_visible()
    assert tab.axe_violations() == []
    page.screenshot(path=SCREENSHOTS.format("profile"), full_page=True)

    page.get_by_role("navigation", name="Account menu").get_by_role("link", name="Who has my data").click()
    expect(page.get_by_role("heading", name="Who has my data")).to_be_visible()
    table = page.get_by_role("table", name="Your history")
    expect(table.get_by_role("row")).to_have_count(3)  # heading row, disclosure, consent
    expect(table).to_contain_text(APP_NAME)
    expect(table).to_contain_text("Received your details")
    expect(table).to_contain_text("Registered address")
    expect(table).to_contain_text(PURPOSE_TEXT)
    assert tab.axe_violations() == []
    page.screenshot(path=SCREENSHOTS.format("history"), full_page=True)

    page.get_by_role("navigation", name="Account menu").get_by_role("link", name="My consents").click()
    expect(page.get_by_role("heading", name="My consents")).to_be_visible()
    card = page.locator(".govuk-summary-card").filter(has_text=APP_NAME)
    expect(card).to_contain_text("Active")
    expect(card).to_contain_text("Principal name")
    assert tab.axe_violations() == []

    card.get_by_role("link", name=re.compile("^Withdraw")).click()
    expect(page.get_by_role("heading", name=f"Withdraw your consent for {APP_NAME}?")).to_be_visible()
    assert tab.axe_violations() == []
    page.get_by_role("button", name="Withdraw consent").click()

    expect(page).to_have_url(re.compile(r"/citizen/consents$"))
    expect(page.locator(".govuk-notification-banner")).to_contain_text("You withdrew your consent")
    expect(card).to_contain_text("Withdrawn")
    expect(card.get_by_role("link", name=re.compile("^Withdraw"))).to_have_count(0)
    assert tab.axe_violations() == []
    page.screenshot(path=SCREENSHOTS.format("consents"), full_page=True)
    assert consent_of(live_app, portal.consent_id).revoked_at is not None
    assert tab.problems == []


def test_portal_fits_a_phone(phone_tab, portal):
    page = phone_tab.page
    phone_tab.goto("/citizen/sign-in")
    fill_sign_in(page, portal.account, portal.account.totp.now())
    withdraw = (f"/citizen/consents/{portal.consent_id}/withdraw", "Withdraw your consent")
    for path, heading in [*PAGES, withdraw]:
        phone_tab.goto(path)
        expect(page.get_by_role("heading", name=heading).first).to_be_visible()
        assert horizontal_overflow(phone_tab) == [], path
        assert phone_tab.axe_violations() == [], path
    page.screenshot(path=SCREENSHOTS.format("consents_phone"), full_page=True)
    assert phone_tab.problems == []


def test_withdrawing_works_without_javascript(no_js_tab, live_app, portal):
    page = no_js_tab.page
    no_js_tab.goto(f"/citizen/consents/{portal.consent_id}/withdraw")
    fill_sign_in(page, portal.account, portal.account.totp.now())
    page.get_by_role("button", name="Withdraw consent").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("You withdrew your consent")
    assert consent_of(live_app, portal.consent_id).revoked_at is not None
    assert no_js_tab.problems == []
