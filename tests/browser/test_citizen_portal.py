"""The citizen portal in a real Chromium: the home page's way in, a citizen signs in, reads their
profile (a summary, then one collapsed group per agency that opens without JavaScript, every value
in full but the NRIC), their history ("Who has my data") and their consents, and withdraws a
consent; on a desktop (1280 px) and a phone (375 px). Every page is checked with axe-core, for
console errors and CSP violations, and at 375 px for sideways scrolling. Screenshots of these
pages are taken by tests/browser/test_screenshots.py."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import delete

from agency_connectors.refresh import refresh_citizen
from agency_connectors.simulators.records import record_for
from audit.log import Event, append
from consent.apps import register_app
from consent.consents import grant_consent
from consent.models import AgencyApp, Consent, Purpose
from core.clock import utcnow
from core.uinfin import demo_uinfin
from identity.accounts import enrol
from profile_store.fields import apply_agency_record
from profile_store.models import Citizen
from tests.browser.test_citizen_sign_in import Account, fill_sign_in
from tests.browser.test_operator_browser import horizontal_overflow
from tests.factories import fresh_uinfin, make_citizen
from tests.oauth.flow import PURPOSE, AgencyKeys, registration

# A citizen's journey (issue 13): run on PostgreSQL too (tests/browser/conftest.py).
pytestmark = pytest.mark.both_databases

PASSWORD = "correct horse battery staple"
APP_NAME = "Housing grant application"
PURPOSE_TEXT = "To assess your housing grant application."
DONOR, DONOR_AGENCIES = demo_uinfin(0), ("pension", "transport", "family")
PAGES = [
    ("/citizen/", "Your Consentry account"),
    ("/citizen/profile", "My profile"),
    ("/citizen/history", "Who has my data"),
    ("/citizen/consents", "My consents"),
]


def code(account: Account, step: int = 0) -> str:
    """The account's code `step` 30-second steps ahead: a code works once, and the server accepts
    the next step's too, so a second sign-in in the same test uses step 1."""
    return account.totp.at(time.time() + 30 * step)


def page_height(tab) -> int:
    return tab.page.evaluate("document.documentElement.scrollHeight")


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
        # Then the pension fund, transport authority and family registry send another person's
        # record (one with contributions, a vehicle and a child): wide lists to show, and the
        # values they replace become the fields' earlier values.
        for agency in DONOR_AGENCIES:
            apply_agency_record(
                session,
                vault=runtime.vault,
                catalogue=runtime.catalogue,
                citizen=citizen,
                agency=agency,
                items=record_for(agency, DONOR),
                now=now + dt.timedelta(seconds=1),
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
    page.locator("summary", has_text="National Identity Registry").click()
    expect(page.get_by_text(f"••••{portal.uinfin[-4:]}")).to_be_visible()
    assert portal.uinfin not in page.content()
    expect(page.get_by_text("Government-verified").first).to_be_visible()
    assert tab.axe_violations() == []

    page.get_by_role("navigation", name="Account menu").get_by_role("link", name="Who has my data").click()
    expect(page.get_by_role("heading", name="Who has my data")).to_be_visible()
    table = page.get_by_role("table", name="Your history")
    expect(table.get_by_role("row")).to_have_count(3)  # heading row, disclosure, consent
    expect(table).to_contain_text(APP_NAME)
    expect(table).to_contain_text("Received your details")
    expect(table).to_contain_text("Registered address")
    expect(table).to_contain_text(PURPOSE_TEXT)
    assert tab.axe_violations() == []

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
    assert phone_tab.problems == []


def test_withdrawing_works_without_javascript(no_js_tab, live_app, portal):
    page = no_js_tab.page
    no_js_tab.goto(f"/citizen/consents/{portal.consent_id}/withdraw")
    fill_sign_in(page, portal.account, portal.account.totp.now())
    page.get_by_role("button", name="Withdraw consent").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("You withdrew your consent")
    assert consent_of(live_app, portal.consent_id).revoked_at is not None
    assert no_js_tab.problems == []


def test_the_home_page_offers_citizens_a_way_in(tab, phone_tab):
    for each, width in ((tab, 1280), (phone_tab, 375)):
        page = each.page
        each.goto("/")
        header = page.locator("header, .govuk-service-navigation")
        expect(header.get_by_role("link", name="Sign in")).to_have_count(1)
        for staff in ("Operator", "Agency apps", "Audit log"):
            expect(header.get_by_role("link", name=staff)).to_have_count(0)
        expect(page.locator("main").get_by_role("button", name="Sign in")).to_be_visible()
        expect(page.locator("footer").get_by_role("link", name="Staff sign-in")).to_be_visible()
        assert horizontal_overflow(each) == [], width
        assert each.axe_violations() == [], width
        page.locator("main").get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Sign in to Consentry")).to_be_visible()
        assert each.problems == []


def open_all_groups(tab) -> None:
    for summary in tab.page.locator("details.app-agency-group > summary").all():
        summary.click()


def test_my_profile_is_short_collapsed_and_shows_the_owners_values(tab, phone_tab, portal):
    """A summary first and one collapsed group per agency: the page is a fraction of its full
    height; opened, every value is there in full (only the NRIC partly hidden), with no sideways
    scrolling on a phone. Prints the page heights."""
    identity = record_for("identity", portal.uinfin)
    address = identity["regadd"]
    for step, (each, width) in enumerate(((tab, 1280), (phone_tab, 375))):
        page = each.page
        each.goto("/citizen/sign-in")
        fill_sign_in(page, portal.account, code(portal.account, step))
        each.goto("/citizen/profile")
        expect(page.get_by_role("heading", name="My profile", exact=True)).to_be_visible()
        summary = page.locator("#summary")
        expect(summary).to_contain_text(identity["name"]["value"])
        expect(summary).to_contain_text("Singapore time")
        groups = page.locator("details.app-agency-group")
        assert groups.count() >= 8
        assert all(not open_ for open_ in groups.evaluate_all("(gs) => gs.map((g) => g.open)"))
        expect(page.locator("#field-regadd")).to_be_hidden()  # inside a closed group
        collapsed = page_height(each)
        assert horizontal_overflow(each) == [], width
        assert each.axe_violations() == [], width

        open_all_groups(each)
        if "value" in identity["passportnumber"]:  # not every synthetic citizen holds one
            expect(page.get_by_text(identity["passportnumber"]["value"])).to_be_visible()
        expect(page.get_by_text(f"••••{portal.uinfin[-4:]}")).to_be_visible()
        expect(page.locator("#field-regadd")).to_contain_text(
            f"{address['block']['value']} {address['street']['value']}"
        )
        masked = page.evaluate("document.querySelector('main').innerText.split('••••').length - 1")
        assert masked == 1, "only the NRIC is partly hidden from its owner"
        vehicle = record_for("transport", DONOR)["vehicles"][0]["vehicleno"]["value"]
        # The current list first; an earlier list, if the citizen had one, sits in its history.
        current = page.locator("#field-vehicles caption").first
        expect(current).to_have_text(f"Vehicles, 1 of 1: {vehicle}")
        expect(page.locator("#field-cpfcontributions th").first).to_have_text("Month")
        expect(page.locator("#field-cpfbalances")).to_contain_text("S$")
        expect(page.locator("#field-marital")).to_contain_text("Married")
        expect(page.locator("#field-marital")).not_to_contain_text("(2)")
        history = page.locator("#field-vehicles details")
        history.locator("summary").click()
        expect(history).to_contain_text("Until ")
        expanded = page_height(each)
        print(f"My profile at {width} px: {collapsed} px collapsed, {expanded} px with every group open")
        assert collapsed * 3 < expanded, "collapsed groups make the page much shorter"
        assert horizontal_overflow(each) == [], f"{width}, every group open"
        assert each.axe_violations() == [], f"{width}, every group open"
        assert each.problems == []


def test_profile_groups_open_without_javascript(no_js_tab, portal):
    page = no_js_tab.page
    no_js_tab.goto("/citizen/profile")
    fill_sign_in(page, portal.account, code(portal.account))
    expect(page.get_by_role("heading", name="My profile", exact=True)).to_be_visible()
    address = page.locator("#field-regadd")  # every citizen has one, in the identity group
    expect(address).to_be_hidden()
    page.locator("summary", has_text="National Identity Registry").click()
    expect(address).to_be_visible()
    assert no_js_tab.problems == []
