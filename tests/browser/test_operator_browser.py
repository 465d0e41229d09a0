"""Staff in a real Chromium: a member created with `consentry staff add` signs in with a TOTP code,
finds a citizen giving a reason, reads the masked profile, reveals one value, refreshes it; the
citizen then sees the look in "Who has my data". Every page is checked for accessibility
(axe-core), console errors and CSP violations."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import pyotp
import pytest
from playwright.sync_api import expect

from core.clock import utcnow
from identity.accounts import enrol
from tests.factories import fresh_uinfin

SCREENSHOT = "/tmp/operator_profile.png"  # noqa: S108 - a fixed path to look at by hand
PHONE_SCREENSHOT = "/tmp/operator_profile_phone.png"  # noqa: S108
STAFF_PASSWORD = "a long staff password for the browser"
CITIZEN_PASSWORD = "citizen password in the browser"
_made = iter(range(1, 10_000))


@dataclass
class Staff:
    username: str
    totp: pyotp.TOTP


def add_staff(live_app, *roles: str) -> Staff:
    """A member of staff made as an admin makes one: `consentry staff add`, secret read from its output."""
    username = f"browser-{next(_made)}-{int(time.time() * 1000) % 100000}"
    args = ["staff", "add", username, "--password", STAFF_PASSWORD]
    for role in roles or ("operator", "admin"):
        args += ["--role", role]
    result = live_app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    secret = re.search(r"secret: ([A-Z2-7]+)", result.output).group(1)
    return Staff(username, pyotp.TOTP(secret))


def fill_staff_sign_in(page, staff: Staff, password: str = STAFF_PASSWORD) -> None:
    page.get_by_label("Username").fill(staff.username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Security code").fill(staff.totp.now())
    page.get_by_role("button", name="Sign in").click()


def sign_in(tab, live_app, *roles: str) -> Staff:
    """A new member of staff (operator and admin unless `roles` says), signed in."""
    staff = add_staff(live_app, *roles)
    tab.goto("/operator/")
    expect(tab.page).to_have_url(re.compile(r"/staff/sign-in\?next=/operator/$"))
    fill_staff_sign_in(tab.page, staff)
    expect(tab.page.get_by_role("heading", name="Find a citizen")).to_be_visible()
    return staff


def find(tab, uinfin: str, reason: str = "Support case", details: str = "Ticket 4711") -> None:
    tab.page.get_by_label("NRIC or FIN").fill(uinfin)
    tab.page.get_by_label(reason).check()
    tab.page.get_by_label("Details of the reason").fill(details)
    tab.page.get_by_role("button", name="Open record").click()


def horizontal_overflow(tab) -> list[str]:
    """Why the page would scroll sideways or look cut off: the document is wider than the screen, or
    something in the main column reaches past the column's right edge (a table too wide for it).
    Measured once the page has loaded: right after a redirect the DOM can be laid out before its
    stylesheets apply, and an unstyled table is wider than the screen (a CI run caught that)."""
    tab.page.wait_for_load_state("load")
    return tab.page.evaluate(
        """() => {
          const root = document.documentElement;
          const edge = document.querySelector("main").getBoundingClientRect().right;
          const wide = root.scrollWidth > root.clientWidth ? ["document"] : [];
          // Grid rows reach into the gutters by design; what they hold must not.
          return wide.concat(Array.from(document.querySelectorAll("main *"))
            .filter((e) => !/govuk-grid-(row|column)/.test(e.className))
            .filter((e) => e.getBoundingClientRect().right > edge + 0.5)
            .map((e) => `${e.tagName.toLowerCase()}.${e.className}`));
        }"""
    )


def test_operator_journey(tab, live_app, seeded_citizen, simulators):
    page = tab.page
    tab.goto("/")
    assert tab.axe_violations() == []
    page.get_by_role("link", name="Staff sign-in").click()

    expect(page).to_have_url(re.compile(r"/staff/sign-in$"))
    assert tab.axe_violations() == []
    staff = add_staff(live_app, "operator")
    fill_staff_sign_in(page, staff, password="not the password at all")
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "The username, password or code is not correct"
    )
    expect(page.locator(".govuk-error-summary")).to_be_focused()  # GOV.UK Frontend's JS ran
    assert tab.axe_violations() == []
    fill_staff_sign_in(page, staff)
    expect(page.get_by_role("heading", name="Find a citizen")).to_be_visible()
    assert tab.axe_violations() == []

    page.get_by_role("button", name="Open record").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Enter an NRIC or FIN")
    expect(summary).to_contain_text("Choose why you are looking at this record")
    find(tab, fresh_uinfin())
    expect(summary).to_contain_text("No citizen with this NRIC or FIN")
    assert tab.axe_violations() == []

    find(tab, seeded_citizen.uinfin)
    expect(page).to_have_url(re.compile(rf"/operator/citizens/{seeded_citizen.id}$"))
    assert seeded_citizen.uinfin not in page.url
    expect(page.get_by_role("heading", name="Citizen profile")).to_be_visible()
    expect(page.get_by_role("heading", name="National Identity Registry")).to_be_visible()
    expect(page.get_by_text("Government-verified").first).to_be_visible()
    expect(page.get_by_text("Declared by citizen").first).to_be_visible()
    expect(page.locator(".govuk-tag", has_text="Unavailable").first).to_be_visible()
    expect(page.locator("#field-uinfin").get_by_text(f"••••{seeded_citizen.uinfin[-4:]}")).to_be_visible()
    assert seeded_citizen.uinfin not in page.content()
    assert "tan.ah.kow@example.com" not in page.content(), "every value masked until revealed"
    assert tab.axe_violations() == []
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.get_by_role("button", name=re.compile(r"^Show in full Email")).click()
    expect(page.get_by_text("tan.ah.kow@example.com")).to_be_visible()
    assert tab.axe_violations() == []

    simulators.set_fault("housing", outage=True)
    page.get_by_role("button", name="Refresh from agencies").click()
    banner = page.locator(".govuk-notification-banner")
    expect(banner).to_contain_text("Refreshed, with problems")
    expect(banner).to_contain_text("Housing Board: http_503")
    expect(page.get_by_role("row", name=re.compile("Housing Board"))).to_contain_text("Failed")
    assert tab.axe_violations() == []

    simulators.reset()
    page.get_by_role("button", name="Refresh from agencies").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "Profile refreshed from all 8 agencies"
    )

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("You have signed out")

    # The citizen sees the look, with the reason, in "Who has my data".
    runtime = live_app.extensions["consentry"]
    with runtime.writer_sessions() as session:  # credentials as the demo gives them (no letter)
        uinfin, vault = seeded_citizen.uinfin, runtime.vault
        enrolment = enrol(session, vault=vault, uinfin=uinfin, password=CITIZEN_PASSWORD, now=utcnow())
        secret = enrolment.totp_secret
        session.commit()
    tab.goto("/citizen/sign-in")
    page.get_by_label("NRIC or FIN").fill(seeded_citizen.uinfin)
    page.get_by_label("Password", exact=True).fill(CITIZEN_PASSWORD)
    page.get_by_label("Security code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your Consentry account")).to_be_visible()
    tab.goto("/citizen/history")
    table = page.get_by_role("table", name="Your history")
    expect(table).to_contain_text(
        f"Consentry staff ({staff.username}) looked at your record: Support case: Ticket 4711"
    )
    expect(table).to_contain_text(f"Consentry staff ({staff.username}) saw in full")
    expect(table).to_contain_text("Email")
    assert tab.axe_violations() == []
    assert tab.problems == []


def test_pages_fit_a_phone_screen(phone_tab, live_app, seeded_citizen):
    phone_tab.goto("/")
    assert horizontal_overflow(phone_tab) == [], "landing page"
    sign_in(phone_tab, live_app)
    assert horizontal_overflow(phone_tab) == [], "search page"
    find(phone_tab, seeded_citizen.uinfin)
    expect(phone_tab.page.get_by_role("heading", name="Citizen profile")).to_be_visible()
    assert horizontal_overflow(phone_tab) == [], "profile page"
    phone_tab.page.screenshot(path=PHONE_SCREENSHOT, full_page=True)
    assert phone_tab.axe_violations() == []
    assert phone_tab.problems == []


def test_works_without_javascript(no_js_tab, live_app, seeded_citizen):
    page = no_js_tab.page
    staff = add_staff(live_app, "operator")
    no_js_tab.goto("/staff/sign-in")
    fill_staff_sign_in(page, staff)
    find(no_js_tab, seeded_citizen.uinfin, reason="Other", details="Checking a correction by post")
    expect(page.get_by_role("heading", name="Citizen profile")).to_be_visible()
    page.get_by_role("button", name=re.compile(r"^Show in full Email")).click()
    expect(page.get_by_text("tan.ah.kow@example.com")).to_be_visible()
    page.get_by_role("button", name="Refresh from agencies").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("agencies")
    assert no_js_tab.problems == []


@pytest.mark.parametrize("path", ["/", "/staff/sign-in"])
def test_no_csp_violation_or_console_error_on_public_pages(tab, path):
    response = tab.goto(path)
    assert response is not None and response.status == 200
    expect(tab.page.locator("body")).to_have_class(
        re.compile(r"\bjs-enabled\b.*\bgovuk-frontend-supported\b")
    )
    assert tab.problems == []
