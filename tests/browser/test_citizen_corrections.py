"""Report a mistake and the national id's 'Show' in a real Chromium against the live app and the
simulated agencies: the id shown in place on "My profile" (not stored, "Hide", hidden again when
the page is loaded again) at once after sign-in, then only after a fresh authenticator code
once the sign-in is over five minutes old; 'This is wrong' on the name and on the sex, errors next
to their fields, the requests listed; the simulated identity agency answers over HTTP (the name
corrected and fetched again, the sex rejected with a reason); a request withdrawn before an answer
stays withdrawn and unanswered. axe-core on every new page and state,
no console errors or CSP violations."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import urllib.request
from dataclasses import dataclass

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from agency_connectors.refresh import refresh_citizen
from agency_connectors.simulators import DEMO_CONTROL_KEY
from app.config import demo_notify_secret
from core.clock import utcnow
from identity.accounts import enrol
from identity.models import WebSession
from tests.browser.test_citizen_sign_in import PASSWORD
from tests.browser.test_operator_browser import horizontal_overflow
from tests.factories import fresh_uinfin, make_citizen

# A citizen's journey (issue 13): run on PostgreSQL too (tests/browser/conftest.py).
pytestmark = pytest.mark.both_databases


@dataclass(frozen=True)
class Person:
    id: str
    uinfin: str
    totp: pyotp.TOTP


@pytest.fixture
def person(live_app, simulators) -> Person:
    """A citizen with an account and their identity agency's values, committed for real."""
    rt = live_app.extensions["consentry"]
    uinfin = fresh_uinfin()
    with rt.writer_sessions() as session:
        citizen = make_citizen(session, rt.vault, uinfin=uinfin)
        refresh_citizen(
            session, registry=rt.connectors, vault=rt.vault, catalogue=rt.catalogue, citizen=citizen,
            now=utcnow(), agencies=["identity"],
        )  # fmt: skip
        enrolment = enrol(session, vault=rt.vault, uinfin=uinfin, password=PASSWORD, now=utcnow())
        session.commit()
        return Person(citizen.id, uinfin, pyotp.TOTP(enrolment.totp_secret))


def sign_in(tab, person: Person) -> None:
    page = tab.page
    tab.goto("/citizen/profile")
    page.get_by_label("NRIC or FIN").fill(person.uinfin)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Security code").fill(person.totp.now())
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My profile")).to_be_visible()


def age_sign_in(live_app, person: Person, minutes: int) -> None:
    rt = live_app.extensions["consentry"]
    with rt.writer_sessions() as session:
        session.execute(
            update(WebSession)
            .where(WebSession.subject == person.id, WebSession.role == "citizen")
            .values(authenticated_at=utcnow() - dt.timedelta(minutes=minutes))
        )
        session.commit()


def agency_answers(simulators, live_server) -> dict:
    told = json.dumps({"platform_url": live_server, "secret": demo_notify_secret("identity")}).encode()
    request = urllib.request.Request(  # noqa: S310 - the loopback simulators
        f"{simulators.base_url}/_control/identity/corrections",
        data=told,
        method="POST",
        headers={"X-Control-Key": DEMO_CONTROL_KEY, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


def clean(tab, what: str) -> None:
    assert tab.axe_violations() == [], what


def test_show_the_national_id_with_a_step_up(tab, live_app, person):
    page = tab.page
    sign_in(tab, person)
    page.locator("#agency-identity > summary").click()
    expect(page.locator("#show-national-id")).to_be_visible()
    assert person.uinfin not in page.content()
    clean(tab, "profile with Show and This is wrong")

    with page.expect_response(
        lambda r: r.url.split("#")[0].endswith("/citizen/profile/national-id")
    ) as shown:
        page.locator("#show-national-id").click()
    assert shown.value.status == 200 and shown.value.headers["cache-control"] == "no-store"
    # In place: "My profile" again, the identity group open, the row in full with "Hide".
    expect(page.get_by_role("heading", name="My profile")).to_be_visible()
    expect(page.locator("#field-uinfin")).to_contain_text(person.uinfin)
    expect(page.locator("#field-uinfin")).to_be_in_viewport()
    expect(page.locator("#show-national-id")).to_have_count(0)
    clean(tab, "the id shown in place right after sign-in")
    page.locator("#hide-national-id").click()
    # Back at the row (Chromium opens the <details> holding the link's #field-uinfin), hidden.
    expect(page.locator("#show-national-id")).to_be_visible()
    assert person.uinfin not in page.content()
    # Shown again, then the address loaded again (no new POST): partly hidden.
    page.locator("#show-national-id").click()
    expect(page.locator("#field-uinfin")).to_contain_text(person.uinfin)
    tab.goto("/citizen/profile/national-id")
    expect(page.get_by_role("heading", name="My profile")).to_be_visible()
    assert person.uinfin not in page.content()

    age_sign_in(live_app, person, minutes=6)
    tab.goto("/citizen/profile")
    page.locator("#agency-identity > summary").click()
    page.locator("#show-national-id").click()
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    assert person.uinfin not in page.content()
    clean(tab, "step-up code page")
    page.get_by_label("Code from your authenticator app").fill("12")
    page.get_by_role("button", name="Show my NRIC or FIN").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the 6-digit code")
    clean(tab, "step-up with an error")
    # The sign-in used this step's code; a code works once, so the next step's (inside the window).
    page.get_by_label("Code from your authenticator app").fill(person.totp.at(time.time() + 30))
    page.get_by_role("button", name="Show my NRIC or FIN").click()
    expect(page.locator("#field-uinfin")).to_contain_text(person.uinfin)
    expect(page.locator("#hide-national-id")).to_be_visible()
    assert tab.problems == []


def test_report_a_mistake_and_the_agencys_answers(tab, live_app, live_server, simulators, person):
    page = tab.page
    sign_in(tab, person)
    tab.goto("/citizen/corrections")
    expect(page.get_by_text("You have not reported any mistakes.")).to_be_visible()
    clean(tab, "no requests yet")

    tab.goto("/citizen/profile")
    page.locator("#agency-identity > summary").click()
    page.locator("#wrong-name").click()
    expect(page.get_by_role("heading", name="Name")).to_be_visible()
    clean(tab, "report form")
    page.get_by_label("Note for the agency (optional)").fill("n" * 1001)
    page.get_by_role("button", name="Send to the agency").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Say what is wrong")
    expect(page.locator("#note-error")).to_contain_text("1000 characters or fewer")
    expect(page.locator("#correct_value-error")).to_contain_text("Enter the correct value")
    clean(tab, "report form with errors")
    page.get_by_label("What is wrong?").fill("My name is misspelt")
    page.get_by_label("What is the correct value?").fill("TAN AH KAU")
    page.get_by_label("Note for the agency (optional)").fill("As on my passport")
    page.get_by_role("button", name="Send to the agency").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Your request is sent")
    expect(page.locator("#status")).to_contain_text("Sent")
    clean(tab, "request sent")

    tab.goto("/citizen/profile")
    page.locator("#agency-identity > summary").click()
    page.locator("#wrong-sex").click()
    page.get_by_label("What is wrong?").fill("Wrong sex recorded")
    page.get_by_label("What is the correct value?").fill("MALE")
    page.get_by_role("button", name="Send to the agency").click()
    expect(page.locator("#status")).to_contain_text("Sent")

    tab.goto("/citizen/corrections")
    expect(page.locator("#corrections tbody tr")).to_have_count(2)
    clean(tab, "two requests listed")

    counts = agency_answers(simulators, live_server)
    assert counts["corrected"] >= 1 and counts["rejected"] >= 1 and counts["failed"] == 0
    assert live_app.extensions["consentry"].background.wait_idle(timeout=30)

    tab.goto("/citizen/corrections")
    rows = page.locator("#corrections tbody tr")
    expect(rows.filter(has_text="Name")).to_contain_text("Corrected")
    expect(rows.filter(has_text="Sex")).to_contain_text("Rejected")
    clean(tab, "answered requests listed")
    rows.filter(has_text="Sex").get_by_role("link").click()
    expect(page.locator("#reason")).to_contain_text("cannot change")
    clean(tab, "a rejected request with its reason")
    tab.goto("/citizen/corrections")
    page.locator("#corrections tbody tr").filter(has_text="Name").get_by_role("link").click()
    expect(page.locator("#status")).to_contain_text("corrected its record")
    clean(tab, "a corrected request")

    tab.goto("/citizen/profile")
    page.locator("#agency-identity > summary").click()
    expect(page.locator("#field-name")).to_contain_text("TAN AH KAU")
    expect(page.locator("#summary")).to_contain_text(re.compile("TAN AH KAU"))
    assert tab.problems == []


def test_withdraw_a_request_before_the_agency_answers(tab, live_app, live_server, simulators, person):
    page = tab.page
    sign_in(tab, person)
    page.locator("#agency-identity > summary").click()
    page.locator("#wrong-name").click()
    page.get_by_label("What is wrong?").fill("My name is misspelt")
    page.get_by_label("What is the correct value?").fill("TAN AH KAU")
    page.get_by_role("button", name="Send to the agency").click()
    expect(page.locator("#status")).to_contain_text("Sent")

    page.locator("#withdraw").click()
    expect(
        page.get_by_role("heading", name="Withdraw your request about your principal name?")
    ).to_be_visible()
    clean(tab, "withdraw confirmation")
    page.get_by_role("button", name="Withdraw request").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("You withdrew your request")
    expect(page.locator("#status")).to_contain_text("Withdrawn")
    expect(page.locator("#withdraw")).to_have_count(0)
    clean(tab, "a withdrawn request")
    tab.goto("/citizen/corrections")
    expect(page.locator("#corrections tbody tr").filter(has_text="Name")).to_contain_text("Withdrawn")

    # The simulated agency reads only open requests: nothing to answer, nothing changed.
    counts = agency_answers(simulators, live_server)
    assert counts["failed"] == 0
    assert live_app.extensions["consentry"].background.wait_idle(timeout=30)
    tab.goto("/citizen/corrections")
    expect(page.locator("#corrections tbody tr").filter(has_text="Name")).to_contain_text("Withdrawn")
    tab.goto("/citizen/profile")
    page.locator("#agency-identity > summary").click()
    expect(page.locator("#field-name")).not_to_contain_text("TAN AH KAU")
    assert tab.problems == []


def test_the_new_pages_fit_a_phone(phone_tab, live_app, person):
    tab, page = phone_tab, phone_tab.page
    sign_in(tab, person)
    page.locator("#agency-identity > summary").click()
    page.locator("#wrong-name").click()
    page.get_by_role("button", name="Send to the agency").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    assert horizontal_overflow(tab) == [], "report form with errors"
    page.get_by_label("What is wrong?").fill("Misspelt")
    page.get_by_label("What is the correct value?").fill("A VERY LONG NAME " * 8)
    page.get_by_role("button", name="Send to the agency").click()
    expect(page.locator("#status")).to_contain_text("Sent")
    assert horizontal_overflow(tab) == [], "a request"
    tab.goto("/citizen/corrections")
    assert horizontal_overflow(tab) == [], "the list"
    clean(tab, "the list on a phone")
    age_sign_in(live_app, person, minutes=6)
    tab.goto("/citizen/profile")
    page.locator("#agency-identity > summary").click()
    page.locator("#show-national-id").click()
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    assert horizontal_overflow(tab) == [], "step-up"
    assert tab.problems == []
