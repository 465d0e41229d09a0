"""Activation, recovery and closing an account in a real Chromium: a citizen activates with the
code from their letter (a wrong code and a weak password first), reads the authenticator secret
from the page (no QR decoding) and confirms a code, saves their recovery codes; later signs in
with a recovery code and sets up a new authenticator; and closes their account, after which their
consent no longer releases anything and sign-in fails. Each page and error state is checked with
axe-core, for console errors and CSP violations (the QR is an SVG image), and at 375 px for
sideways scrolling."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import pyotp
import pytest
from playwright.sync_api import expect

from app.citizen.activation import code_key
from consent.apps import register_app
from consent.consents import get_active_consent, grant_consent
from consent.models import Purpose
from core.clock import utcnow
from core.errors import NotFound
from identity import enrolment
from identity.activation import choose_password, finish_activation, issue_letter, start_activation
from tests.browser.test_operator_browser import horizontal_overflow
from tests.factories import fresh_uinfin, make_citizen
from tests.oauth.flow import PURPOSE, AgencyKeys, registration

# A citizen's journey (issue 13): run on PostgreSQL too (tests/browser/conftest.py).
pytestmark = pytest.mark.both_databases

PASSWORD = "tangerine lantern kettle"


@dataclass(frozen=True)
class Letter:
    uinfin: str
    code: str


def key_of(live_app) -> bytes:
    with live_app.test_request_context():
        return code_key()


@pytest.fixture
def letter(live_app) -> Letter:
    runtime = live_app.extensions["consentry"]
    uinfin = fresh_uinfin()
    with runtime.writer_sessions() as session:
        make_citizen(session, runtime.vault, uinfin=uinfin)
        issued = issue_letter(session, vault=runtime.vault, key=key_of(live_app), uinfin=uinfin, now=utcnow())
        session.commit()
    return Letter(uinfin, issued.code)


@dataclass(frozen=True)
class Activated:
    uinfin: str
    citizen_id: str
    secret: str
    codes: list[str]


@pytest.fixture
def activated(live_app, letter) -> Activated:
    """An account opened through the domain (the journey itself is tested below)."""
    runtime, now = live_app.extensions["consentry"], utcnow()
    key = key_of(live_app)
    with runtime.writer_sessions() as session:
        token, citizen_id = start_activation(
            session, vault=runtime.vault, key=key, uinfin=letter.uinfin, code=letter.code, now=now
        )
        progress = enrolment.find(session, token=token, purpose="activate", now=now)
        choose_password(session, progress=progress, uinfin=letter.uinfin, password=PASSWORD, confirm=PASSWORD)
        secret = enrolment.pending_secret(progress, runtime.vault.keyring)
        code = pyotp.TOTP(secret).at(
            now.timestamp() - 30
        )  # an earlier step: the browser's sign-in uses the current one
        codes = finish_activation(
            session, progress=progress, keyring=runtime.vault.keyring, key=key, totp_code=code, now=now
        )
        enrolment.discard(session, progress)
        session.commit()
    return Activated(letter.uinfin, citizen_id, secret, codes)


def checked(tab, name: str) -> None:
    assert tab.axe_violations() == [], name
    assert horizontal_overflow(tab) == [], name


def activate_in(tab, letter: Letter) -> list[str]:
    page = tab.page
    tab.goto("/citizen/activate")
    expect(page.get_by_role("heading", name="Activate your account")).to_be_visible()
    checked(tab, "activate")
    page.get_by_label("NRIC or FIN").fill(letter.uinfin)
    page.get_by_label("Activation code").fill("AAAA-BBBB-CCCC")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("activation code is not correct")
    checked(tab, "activate, wrong code")
    page.get_by_label("Activation code").fill(letter.code.lower())
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Choose a password")).to_be_visible()
    checked(tab, "password")
    page.get_by_label("Password", exact=True).fill("password1234")
    page.get_by_label("Enter the password again").fill("password1234")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("too common")
    checked(tab, "password, too common")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Enter the password again").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()

    secret = authenticator_step(tab, "activation")
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    checked(tab, "recovery codes")
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and secret not in page.content()
    page.get_by_role("button", name="I have saved these codes").click()
    expect(page).to_have_url(re.compile(r"/citizen/$"))
    return codes


def authenticator_step(tab, name: str) -> str:
    page = tab.page
    expect(page.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    qr = page.get_by_role("img", name="QR code to scan with your authenticator app")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.naturalWidth") > 0  # the SVG rendered under the CSP
    checked(tab, f"{name}: authenticator")
    secret = page.locator("#secret").inner_text().replace(" ", "")
    page.get_by_label("Security code").fill("000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    page.get_by_role("button", name="Confirm code").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("The code is not correct")
    checked(tab, f"{name}: authenticator, wrong code")
    page.get_by_label("Security code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirm code").click()
    return secret


def test_a_citizen_activates_their_account(tab, letter):
    activate_in(tab, letter)
    assert tab.problems == []


def test_activation_fits_a_phone(phone_tab, letter):
    activate_in(phone_tab, letter)
    assert phone_tab.problems == []


def test_lost_authenticator_recovery_code_then_a_new_one(tab, activated):
    page = tab.page
    tab.goto("/citizen/recover")
    checked(tab, "recover")
    page.get_by_label("NRIC or FIN").fill(activated.uinfin)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Recovery code").fill(activated.codes[0])
    page.get_by_role("button", name="Continue").click()
    new_secret = authenticator_step(tab, "recovery")
    expect(page.get_by_role("heading", name="Your new authenticator app is set up")).to_be_visible()
    assert new_secret != activated.secret
    checked(tab, "re-enrolled")
    page.locator("main").get_by_role("link", name="Go to your account").click()
    expect(page).to_have_url(re.compile(r"/citizen/$"))

    tab.page.context.clear_cookies()
    tab.goto("/citizen/recover")
    page.get_by_label("NRIC or FIN").fill(activated.uinfin)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Recovery code").fill(activated.codes[0])
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("already been used")
    checked(tab, "recover, used code")
    assert tab.problems == []


def test_closing_the_account_stops_pre_fill_and_sign_in(tab, live_app, activated):
    runtime = live_app.extensions["consentry"]
    client_id = f"close-{secrets.token_hex(4)}"
    with runtime.writer_sessions() as session:
        app = register_app(
            session,
            document=registration(AgencyKeys(), client_id=client_id),
            catalogue=runtime.catalogue,
            now=utcnow(),
        )
        consent = grant_consent(
            session,
            citizen_id=activated.citizen_id,
            app=app,
            purpose=session.get(Purpose, (client_id, PURPOSE)),
            requested=["uinfin", "name"],
            approved=["uinfin", "name"],
            remember_for=None,
            now=utcnow(),
        )
        consent_id = consent.id
        session.commit()

    page = tab.page
    totp = pyotp.TOTP(activated.secret)
    sign_in(tab, activated, totp.now())
    tab.goto("/citizen/account/close")
    expect(page.get_by_role("heading", name="Close your account?")).to_be_visible()
    checked(tab, "close")
    page.get_by_role("button", name="Close my account").click()
    expect(page).to_have_url(re.compile(r"/citizen/sign-in$"))
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Your account is closed")
    checked(tab, "closed")

    with runtime.sessions() as session, pytest.raises(NotFound):
        get_active_consent(session, consent_id, now=utcnow())  # what every token use checks
    sign_in(tab, activated, totp.at(utcnow().timestamp() + 30))
    expect(page.locator(".govuk-error-summary")).to_contain_text("not correct")
    assert tab.problems == []


def sign_in(tab, activated: Activated, code: str) -> None:
    page = tab.page
    tab.goto("/citizen/sign-in")
    page.get_by_label("NRIC or FIN").fill(activated.uinfin)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Security code").fill(code)
    page.get_by_role("button", name="Sign in").click()


def test_recovery_and_closing_fit_a_phone(phone_tab, activated):
    page = phone_tab.page
    phone_tab.goto("/citizen/recover")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter your NRIC or FIN")
    checked(phone_tab, "recover, empty form, phone")
    sign_in(phone_tab, activated, pyotp.TOTP(activated.secret).now())
    expect(page).to_have_url(re.compile(r"/citizen/$"))
    checked(phone_tab, "home with the close link, phone")
    page.locator("main").get_by_role("link", name="Close my account").click()
    expect(page.get_by_role("heading", name="Close your account?")).to_be_visible()
    checked(phone_tab, "close, phone")
    assert phone_tab.problems == []
