"""The example agency service (examples/housing_grant) in a real Chromium, against a live Consentry:
the citizen retrieves their details sharing some optional items (Myinfo v4), comes back to a form
with the retrieved items read-only and inputs for the rest, revisits the callback (reload or back
button) and still has the form, then submits and gets a reference. Or they choose "Do not share"
(Myinfo v5) and are back at the empty form with a note. Every page of the service is axe-clean.

The service is registered as `consentry demo` registers it (app.demo.seed_example_app), on the
free port it is served on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest
from playwright.sync_api import Page, expect

from app.demo import seed_example_app
from core.clock import utcnow
from examples.housing_grant.app import create_demo_agency_app
from identity.accounts import enrol
from profile_store.citizens import reveal_uinfin
from tests.oauth import flow
from tests.servers import serving

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agency-app.json"
PASSWORD = "correct horse battery staple"
NOT_SHARED = ["noa-basic", "cpfbalances", "hdbownership"]  # optional items the citizen unticks
SCREENSHOT = "/tmp/example_service_{}.png"  # noqa: S108 - fixed paths to look at by hand


@dataclass
class Service:
    url: str
    app: object
    uinfin: str
    totp: pyotp.TOTP
    labels: dict[str, str]  # attribute -> its label on Consentry's consent screen


@pytest.fixture
def service(live, monkeypatch, tmp_path) -> Iterator[Service]:
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    rt = live.app.extensions["consentry"]
    client_id = json.loads(EXAMPLE.read_text())["client_id"]

    def build(url: str):
        return create_demo_agency_app(live.url, base_url=url, database=tmp_path / "grant.db")

    with serving(build) as (url, agency_app):
        with rt.sessions() as session:
            kids = flow.platform_kids(session)
        with live.app.app_context():
            seed_example_app(urlsplit(url).port)
        with rt.sessions() as session:
            citizen = flow.setup_citizen(session, rt)
            uinfin = reveal_uinfin(rt.vault, citizen)
            secret = enrol(
                session, vault=rt.vault, uinfin=uinfin, password=PASSWORD, now=utcnow()
            ).totp_secret
            session.commit()
        labels = {name: rt.catalogue[name].label for name in NOT_SHARED}
        yield Service(url, agency_app, uinfin, pyotp.TOTP(secret), labels)
        with rt.sessions() as session:
            flow.forget_committed(session, citizen_id=citizen.id, kids=kids, client_id=client_id)


def retrieve_and_sign_in(page: Page, service: Service, *, version: str) -> None:
    """From the service's empty form to Consentry's consent screen."""
    page.goto(service.url + "/")
    if version == "v5":
        page.get_by_text("Myinfo version (for testing)").click()
        page.get_by_label("Myinfo v5 (FAPI 2.0)").check()
    page.get_by_role("button", name="Retrieve my details with Myinfo").click()
    page.get_by_label("NRIC or FIN").fill(service.uinfin)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Security code").fill(service.totp.now())
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Share", exact=True)).to_be_visible()


def items_to_type(page: Page) -> list[str]:
    return page.locator("form[action='/submit'] div[data-item]:not(.govuk-summary-list__row)").evaluate_all(
        "nodes => nodes.map(n => n.dataset.item)"
    )


@pytest.mark.both_databases
def test_share_some_reload_and_submit(tab, service):
    page = tab.page
    page.goto(service.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Apply for the Enhanced Housing Grant")
    assert tab.axe_violations() == [], "empty form"

    callbacks: list[str] = []
    page.on(
        "request", lambda r: callbacks.append(r.url) if r.url.startswith(service.url + "/callback") else None
    )
    retrieve_and_sign_in(page, service, version="v4")
    for name in NOT_SHARED:
        page.get_by_role("checkbox", name=service.labels[name], exact=True).uncheck()
    page.get_by_role("button", name="Share", exact=True).click()

    expect(page).to_have_url(service.url + "/")
    retrieved = page.locator("#retrieved")
    expect(page.get_by_role("heading", name="Your details from Myinfo")).to_be_visible()
    uinfin_row = retrieved.locator("[data-item=uinfin]")
    expect(uinfin_row.locator("dt")).to_have_text("NRIC or FIN")  # the service's label, not a code
    expect(uinfin_row.locator("dd")).to_contain_text(service.uinfin)
    expect(uinfin_row.locator(".govuk-tag")).to_have_text("Verified")
    # The address as lines of an envelope, ending with the postal code; no input to change it.
    address = retrieved.locator("[data-item=regadd] dd p").first
    lines = address.inner_text().splitlines()
    assert len(lines) >= 2 and re.fullmatch(r"SINGAPORE \d{6}", lines[-1]), lines
    assert page.locator("input[name=uinfin], input[name^=regadd]").count() == 0
    # The three unticked items are inputs, labelled by the service.
    typed = items_to_type(page)
    assert set(NOT_SHARED) <= set(typed)
    expect(page.get_by_label("Ordinary account")).to_be_editable()
    assert tab.axe_violations() == [], "form with retrieved details"
    page.screenshot(path=SCREENSHOT.format("retrieved"), full_page=True)

    # Reload or back button on the callback: the sign-in is spent; the form is still there.
    assert len(callbacks) == 1
    page.goto(callbacks[0])
    expect(page).to_have_url(service.url + "/")
    expect(retrieved.locator("[data-item=uinfin] dd")).to_contain_text(service.uinfin)
    expect(page.locator(".govuk-notification-banner")).to_have_count(0)

    page.get_by_role("button", name="Submit application").click()  # empty: each problem listed
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter your annual income in dollars")
    assert tab.axe_violations() == [], "form with errors"
    page.screenshot(path=SCREENSHOT.format("errors"), full_page=True)

    page.get_by_label("Assessable income for the year").fill("64400")
    page.get_by_label("Year of assessment").fill("2025")
    for account, amount in (
        ("Ordinary account", "1000"),
        ("Special account", "0"),
        ("MediSave account", "250.5"),
    ):
        page.get_by_label(account).fill(amount)
    page.get_by_role("group", name="Do you own, or have you ever owned, an HDB flat?").get_by_label(
        "No"
    ).check()
    fill_other_items(page, set(typed) - set(NOT_SHARED))
    page.get_by_role("button", name="Submit application").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Application submitted")
    reference = page.locator(".govuk-panel strong").inner_text()
    assert re.fullmatch(r"HG-[A-Z0-9]{4}-[A-Z0-9]{4}", reference)
    stored = service.app.extensions["housing_grant"]["store"].application(reference)
    assert stored["answers"]["uinfin"]["source"] == "myinfo"
    assert stored["answers"]["cpfbalances"] == {
        "source": "applicant",
        "value": {"oa": "1000.00", "sa": "0.00", "ma": "250.50"},
    }
    assert tab.axe_violations() == [], "confirmation"
    page.screenshot(path=SCREENSHOT.format("confirmation"), full_page=True)
    assert tab.problems == []


def fill_other_items(page: Page, names: set[str]) -> None:
    """Items a synthetic citizen's records may not hold, typed instead."""
    if "dob" in names:
        for part, value in (("Day", "6"), ("Month", "6"), ("Year", "1990")):
            page.get_by_label(part, exact=True).fill(value)
    if "regadd" in names:
        page.get_by_label("Block or house number").fill("102")
        page.get_by_label("Street name").fill("Bedok North Avenue 4")
        page.get_by_label("Postal code").fill("460102")
    if "marital" in names:
        page.get_by_label("Single").check()


def test_do_not_share_returns_to_the_empty_form_with_a_note(tab, service):
    page = tab.page
    retrieve_and_sign_in(page, service, version="v5")
    page.get_by_role("button", name="Do not share").click()

    expect(page).to_have_url(service.url + "/")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("You chose not to share your details")
    expect(page.locator("#retrieved")).to_have_count(0)
    assert items_to_type(page) == ["uinfin", "name", "dob", "regadd", "marital", *NOT_SHARED]
    expect(page.get_by_label("NRIC or FIN")).to_be_editable()
    expect(page.get_by_role("button", name="Retrieve my details with Myinfo")).to_be_visible()
    assert tab.axe_violations() == []
    page.screenshot(path=SCREENSHOT.format("declined"), full_page=True)
    assert tab.problems == []


def test_the_form_its_errors_and_an_error_page_fit_a_phone(phone_tab, service):
    page = phone_tab.page
    page.goto(service.url + "/")
    page.wait_for_load_state("load")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 375, "empty form"
    page.get_by_label("Postal code").fill("46")
    page.get_by_role("button", name="Submit application").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter a postal code of 6 digits")
    expect(page.get_by_label("Postal code")).to_have_value("46")  # what was typed is kept
    page.wait_for_load_state("load")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 375, "form with errors"
    assert phone_tab.axe_violations() == []

    page.goto(service.url + "/no-such-page")
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    assert phone_tab.axe_violations() == [], "error page"
    assert phone_tab.problems == []
