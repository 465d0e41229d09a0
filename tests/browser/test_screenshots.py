"""Every citizen page and state of issue 13 in a real Chromium, at 1280 and 375 px, on both
databases: a screenshot of each, with axe-core finding no violation on it, no sideways scrolling,
and (through the `tab` fixtures) no console error or CSP violation anywhere on the way.

One journey per width, in one browser tab: the home page and sign-in (also the form naming the app
that sent the citizen there) and the consent screen, in Chinese and in English; activation (code,
password, authenticator QR, recovery codes, the finished activation opened again), recovery with a
recovery code and a new authenticator, closing the account; a citizen with agency data, a consent
and a disclosure: their account, profile (collapsed and open), the NRIC/FIN shown in place and the
step-up, history, a proof and a receipt, consents and withdrawing one, declarations (a list, a code,
a composite address, money, email, repeated fieldsets, errors, remove), correction requests (form,
errors, sent, withdrawn, rejected and corrected by the simulated agency), refresh (never asked,
running, already running, unfinished, done with an agency down, rate-limited), download; then
most of these pages again in 中文.

Screenshots land in `$SCREENSHOT_DIR` if set, else `/tmp/consentry-screenshots/<sqlite|postgresql>/`
(`screenshot_dir()`), as `<NN>-<page>-<state>-<width>px.png` (whole pages, CSS pixels), with an
`index.txt` listing each page and state and its files. A run first removes its width's earlier
files there, so the directory holds the latest run (docs/portal.md, "Tests")."""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from agency_connectors.refresh_jobs import finish_refresh, start_refresh
from app.citizen.refresh import REFRESH_LIMIT, STALE_AFTER
from app.rate_limit import check
from core.clock import utcnow
from identity.models import WebSession
from tests.browser import test_citizen_activation, test_citizen_portal, test_consent_browser
from tests.browser.conftest import Tab
from tests.browser.test_citizen_activation import PASSWORD as ACTIVATION_PASSWORD
from tests.browser.test_citizen_corrections import agency_answers
from tests.browser.test_citizen_portal import APP_NAME, open_all_groups
from tests.browser.test_citizen_proofs import sign_checkpoint
from tests.browser.test_citizen_sign_in import fill_sign_in
from tests.browser.test_consent_browser import sign_in as app_sign_in
from tests.browser.test_consent_browser import start
from tests.browser.test_operator_browser import horizontal_overflow

# A citizen's journey (issue 13): run on PostgreSQL too (tests/browser/conftest.py).
pytestmark = pytest.mark.both_databases

ZH = "zh-Hans-SG"
# Other journeys' fixtures: a letter to activate with, a citizen with data, a consent and a
# disclosure, and an agency app with its own site and a citizen of its own.
letter, portal = test_citizen_activation.letter, test_citizen_portal.portal
agency_server, journey = test_consent_browser.agency_server, test_consent_browser.journey


def screenshot_dir() -> Path:
    """Where this run's screenshots go: $SCREENSHOT_DIR, else one directory per database."""
    if named := os.environ.get("SCREENSHOT_DIR"):
        return Path(named)
    database = "postgresql" if os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql") else "sqlite"
    return Path("/tmp/consentry-screenshots") / database  # noqa: S108 - a stable, documented place


NAME = re.compile(r"^(\d+)-(.+)-(\d+)px\.png$")


def write_index(folder: Path) -> None:
    """index.txt from the PNGs there, one line per page and state with its file at each width;
    either width's journey rewrites it when it ends, so the last one lists both."""
    shots: dict[str, dict[str, str]] = {}
    for path in sorted(folder.glob("*.png")):
        if found := NAME.match(path.name):
            shots.setdefault(f"{found[1]}-{found[2]}", {})[found[3]] = str(path)
    lines = [f"Consentry citizen portal screenshots in {folder}: <NN>-<page>-<state>-<width>px.png", ""]
    for name, files in sorted(shots.items()):
        lines.append(name)
        lines += [f"  {width:>4} px  {files[width]}" for width in sorted(files, key=int, reverse=True)]
    partial = folder / f".index-{os.getpid()}.txt"
    partial.write_text("\n".join(lines) + "\n", encoding="utf-8")
    partial.replace(folder / "index.txt")


@dataclass
class Camera:
    """`snap(page, state)`: the whole page's PNG, numbered in order; then axe-core finds no
    violation and, on a phone, nothing scrolls sideways."""

    tab: Tab
    width: int
    folder: Path
    taken: list[Path] = field(default_factory=list)

    def snap(self, page: str, state: str) -> None:
        what = f"{page}, {state}, {self.width} px"
        path = self.folder / f"{len(self.taken) + 1:02d}-{page}-{state}-{self.width}px.png"
        self.tab.page.screenshot(path=str(path), full_page=True, scale="css", animations="disabled")
        self.taken.append(path)  # first, so a failing state has its picture
        assert self.tab.axe_violations() == [], what
        if self.width < 640:  # GOV.UK's button group reaches into the gutter on wider screens
            assert horizontal_overflow(self.tab) == [], what


@pytest.fixture(params=[1280, 375], ids=lambda width: f"{width}px")
def camera(request) -> Camera:
    width = request.param
    tab = request.getfixturevalue("tab" if width == 1280 else "phone_tab")
    folder = screenshot_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"*-{width}px.png"):
        old.unlink()
    return Camera(tab, width, folder)


def age_sign_in(live_app, citizen_id: str, minutes: int) -> None:
    runtime = live_app.extensions["consentry"]
    with runtime.writer_sessions() as session:
        session.execute(
            update(WebSession)
            .where(WebSession.subject == citizen_id, WebSession.role == "citizen")
            .values(authenticated_at=utcnow() - dt.timedelta(minutes=minutes))
        )
        session.commit()


def heading(page, name) -> None:
    expect(page.get_by_role("heading", name=name).first).to_be_visible()


def language(tab: Tab, locale: str) -> None:
    """The language picker's link, from the page the citizen is on (and back to it)."""
    label = "中文" if locale == "zh" else "English"
    tab.page.get_by_role("navigation", name=re.compile("^(Language|语言)$")).get_by_role(
        "link", name=label
    ).click()
    expect(tab.page.locator("html")).to_have_attribute("lang", ZH if locale == "zh" else "en")


def test_every_citizen_page(
    camera,
    live_app,
    live_server,
    simulators,
    agency_server,
    journey,
    letter,
    portal,
):
    started = time.monotonic()
    tab, snap = camera.tab, camera.snap
    page = tab.page

    # The app's own site answers "Back at the app" and has no favicon: not Consentry's 404.
    page.context.route(f"{agency_server[0]}/favicon.ico", lambda route: route.fulfill(status=204))

    # The way in, and an agency app's request: first in Chinese, then in English.
    tab.goto("/")
    heading(page, "Share your government records, with your consent")
    snap("home", "en")
    language(tab, "zh")
    heading(page, "经您同意，分享您的政府记录")  # noqa: RUF001
    snap("home", "zh")
    start(page, journey, state="st-shots-zh")
    expect(page.locator('h1 span[lang="en"]')).to_have_text(APP_NAME)
    snap("sign-in", "from-an-app-zh")
    page.get_by_label("身份证或准证号码").fill(journey.uinfin)
    page.get_by_label("密码", exact=True).fill("correct horse battery staple")
    page.get_by_label("安全码").fill(journey.totp.now())
    page.get_by_role("button", name="登录").click()
    heading(page, f"{APP_NAME} 要求获取您的资料")
    snap("consent-screen", "zh")
    page.locator("#decline").click()
    heading(page, "Back at the app")

    page.context.clear_cookies()  # signed out, and English again
    tab.goto("/citizen/sign-in")
    heading(page, "Sign in to Consentry")
    snap("sign-in", "form")
    fill_sign_in(page, journey, "000000" if journey.totp.now() != "000000" else "111111")
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    snap("sign-in", "wrong-code")
    start(page, journey, state="st-shots-en")
    heading(page, f"Sign in to share your details with {APP_NAME}")
    snap("sign-in", "from-an-app")
    app_sign_in(page, journey, code=journey.totp.at(time.time() + 30))
    heading(page, f"{APP_NAME} is asking for your information")
    snap("consent-screen", "en")
    page.locator("#decline").click()
    heading(page, "Back at the app")

    # Activation from the letter, the finished activation opened again.
    page.context.clear_cookies()
    tab.goto("/citizen/activate")
    page.get_by_label("NRIC or FIN").fill(letter.uinfin)
    page.get_by_label("Activation code").fill(letter.code)
    snap("activation", "code")
    page.get_by_role("button", name="Continue").click()
    heading(page, "Choose a password")
    page.get_by_label("Password", exact=True).fill(ACTIVATION_PASSWORD)
    page.get_by_label("Enter the password again").fill(ACTIVATION_PASSWORD)
    snap("activation", "password")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("img", name="QR code to scan with your authenticator app")).to_be_visible()
    snap("activation", "authenticator-qr")
    secret = page.locator("#secret").inner_text().replace(" ", "")
    page.get_by_label("Security code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirm code").click()
    heading(page, "Save your recovery codes")
    snap("activation", "recovery-codes")
    codes = page.locator("#recovery-codes code").all_inner_texts()
    tab.goto("/citizen/activate/authenticator")  # a reload: the codes were shown once
    heading(page, "This activation has already finished")
    snap("activation", "already-finished")
    page.get_by_role("button", name="Continue to your account").click()
    expect(page).to_have_url(re.compile(r"/citizen/$"))

    # A lost authenticator: a recovery code, then a new one; then closing the account.
    page.context.clear_cookies()
    tab.goto("/citizen/recover")
    heading(page, "Sign in with a recovery code")
    page.get_by_label("NRIC or FIN").fill(letter.uinfin)
    page.get_by_label("Password", exact=True).fill(ACTIVATION_PASSWORD)
    page.get_by_label("Recovery code").fill(codes[0])
    snap("recovery", "form")
    page.get_by_role("button", name="Continue").click()
    heading(page, "Set up your authenticator app")
    snap("recovery", "new-authenticator")
    secret = page.locator("#secret").inner_text().replace(" ", "")
    page.get_by_label("Security code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirm code").click()
    heading(page, "Your new authenticator app is set up")
    snap("recovery", "re-enrolled")
    language(tab, "zh")
    tab.goto("/citizen/account/close")
    snap("close-account", "zh")
    language(tab, "en")
    heading(page, "Close your account?")
    snap("close-account", "confirm")
    page.get_by_role("button", name="Close my account").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Your account is closed")
    snap("close-account", "closed")

    # A citizen with agency data, a consent and a disclosure: account, profile, step-up.
    tree_size = sign_checkpoint(live_app)  # so the proof page finds the history's rows in the log
    tab.goto("/citizen/")
    fill_sign_in(page, portal.account, portal.account.totp.now())
    heading(page, "Your Consentry account")
    snap("account", "home")
    tab.goto("/citizen/profile")
    heading(page, "My profile")
    snap("profile", "groups-collapsed")
    page.locator("#agency-identity > summary").click()
    page.locator("#show-national-id").click()
    expect(page.locator("#field-uinfin")).to_contain_text(portal.uinfin)
    snap("profile", "national-id-shown-in-place")
    tab.goto("/citizen/profile")
    open_all_groups(tab)
    snap("profile", "groups-open")

    # History, a proof, a receipt.
    tab.goto("/citizen/history")
    heading(page, "Who has my data")
    snap("history", "with-proofs-and-receipts")
    history = page.get_by_role("table", name="Your history")
    history.get_by_role("link", name=re.compile("^Proof")).first.click()
    expect(page.locator("#proof-result")).to_contain_text(f"({tree_size} entries)")
    snap("proof", "in-the-public-log")
    proof_url = page.url
    tab.goto("/citizen/history")
    page.get_by_role("link", name=re.compile("^Receipt for received your details")).click()
    heading(page, f"{APP_NAME} received your details")
    snap("receipt", "release")
    receipt_url = page.url

    # Declarations: the list, a code, errors, a composite address, money, email, a list of people.
    tab.goto("/citizen/declarations")
    heading(page, "My declarations")
    snap("declarations", "list")
    page.get_by_role("link", name="Add highest education level").click()
    page.get_by_role("button", name="Save declaration").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Select highest education level")
    snap("declaration-code", "error")
    page.get_by_label("Highest education level").select_option(label="Polytechnic Diploma")
    page.get_by_role("button", name="Save declaration").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("is saved")
    snap("declarations", "saved")
    for attribute, state in (
        ("mailadd", "composite-address"),
        ("householdincome", "money"),
        ("email", "email"),
    ):
        tab.goto(f"/citizen/declarations/{attribute}")
        page.get_by_role("button", name="Save declaration").click()
        expect(page.locator(".govuk-error-summary")).to_be_visible()
        snap(f"declaration-{state}", "errors")
    tab.goto("/citizen/declarations/email")
    page.get_by_label("Email address").fill("tan.ah.kow@example.com")
    snap("declaration-email", "form")
    tab.goto("/citizen/declarations/dependants")
    page.locator("#field-0-name").fill("TAN AH MEI")
    page.locator("#field-0-dob").fill("2999-01-01")
    page.get_by_role("button", name="Save declaration").click()
    expect(page.locator("#field-0-dob-error")).to_contain_text("must be today or in the past")
    snap("declaration-dependants", "errors")
    tab.goto("/citizen/declarations/edulevel/remove")
    heading(page, re.compile("Remove your declaration"))
    snap("declaration-remove", "confirm")

    # Correction requests: the form, errors, sent; one withdrawn; the agency's answers.
    tab.goto("/citizen/corrections")
    expect(page.get_by_text("You have not reported any mistakes.")).to_be_visible()
    snap("corrections", "none-yet")
    tab.goto("/citizen/profile/name/wrong")
    page.get_by_role("button", name="Send to the agency").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Say what is wrong")
    snap("correction-form", "errors")
    page.get_by_label("What is wrong?").fill("My name is misspelt")
    page.get_by_label("What is the correct value?").fill("TAN AH KAU")
    snap("correction-form", "filled")
    page.get_by_role("button", name="Send to the agency").click()
    expect(page.locator("#status")).to_contain_text("Sent")
    snap("correction", "sent")
    for attribute, wrong, correct in (
        ("sex", "Wrong sex recorded", "MALE"),
        ("dob", "Wrong date", "1970-01-01"),
    ):
        tab.goto(f"/citizen/profile/{attribute}/wrong")
        page.get_by_label("What is wrong?").fill(wrong)
        page.get_by_label("What is the correct value?").fill(correct)
        page.get_by_role("button", name="Send to the agency").click()
        expect(page.locator("#status")).to_contain_text("Sent")
    page.locator("#withdraw").click()
    heading(page, re.compile("^Withdraw your request about"))
    snap("correction-withdraw", "confirm")
    withdraw_request_url = page.url
    page.get_by_role("button", name="Withdraw request").click()
    expect(page.locator("#status")).to_contain_text("Withdrawn")
    snap("correction", "withdrawn")
    counts = agency_answers(simulators, live_server)
    assert counts["corrected"] >= 1 and counts["rejected"] >= 1 and counts["failed"] == 0
    assert live_app.extensions["consentry"].background.wait_idle(timeout=30)
    tab.goto("/citizen/corrections")
    rows = page.locator("#corrections tbody tr")
    expect(rows.filter(has_text="Sex")).to_contain_text("Rejected")
    snap("corrections", "answered")
    rows.filter(has_text="Sex").get_by_role("link").click()
    expect(page.locator("#reason")).to_contain_text("cannot change")
    snap("correction", "rejected")
    rejected_url = page.url
    tab.goto("/citizen/corrections")
    page.locator("#corrections tbody tr").filter(has_text="Name").get_by_role("link").click()
    expect(page.locator("#status")).to_contain_text("corrected its record")
    snap("correction", "corrected")

    # Refresh: never asked, running, asked again while running, unfinished, done, rate-limited.
    runtime = live_app.extensions["consentry"]
    tab.goto("/citizen/refresh")
    heading(page, "Refresh my record")
    snap("refresh", "never-asked")
    with runtime.writer_sessions() as session:  # a refresh held running, as a slow agency would
        held = start_refresh(session, citizen_id=portal.citizen_id, now=utcnow(), stale_after=STALE_AFTER)
        session.commit()
    assert held is not None
    tab.goto("/citizen/refresh")
    expect(page.locator("#refresh-running")).to_be_visible()
    snap("refresh", "running")
    tab.goto("/citizen/profile")
    page.get_by_role("button", name="Refresh my record now").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("already running")
    snap("refresh", "already-running")
    with runtime.writer_sessions() as session:
        finish_refresh(session, refresh_id=held, result=None, now=utcnow())
        session.commit()
    tab.goto("/citizen/refresh")
    expect(page.locator("#refresh-unfinished")).to_be_visible()
    snap("refresh", "unfinished")
    simulators.set_fault("identity", outage=True)
    with live_app.app_context():  # two refreshes asked for already: the next one is the third
        for _ in range(REFRESH_LIMIT.limit - 1):
            check(
                REFRESH_LIMIT.scope, portal.citizen_id, limit=REFRESH_LIMIT.limit, window=REFRESH_LIMIT.window
            )
    page.get_by_role("button", name="Try again").click()
    outcomes = page.get_by_role("table", name="What each agency said")
    for _ in range(40):
        if outcomes.count():
            break
        time.sleep(0.25)
        page.get_by_role("link", name="Check again").click()
    expect(outcomes.locator("#outcome-identity")).to_contain_text("Not reached")
    snap("refresh", "done-one-agency-down")
    page.get_by_role("button", name="Refresh again").click()
    expect(page.locator("#refresh-limited")).to_be_visible()
    snap("refresh", "rate-limited")

    # Download, the step-up, consents and withdrawing one.
    tab.goto("/citizen/download")
    heading(page, "Download my data")
    snap("download", "choose-a-format")
    age_sign_in(live_app, portal.citizen_id, minutes=6)
    tab.goto("/citizen/profile")
    page.locator("#agency-identity > summary").click()
    page.locator("#show-national-id").click()
    heading(page, "Confirm it is you")
    snap("step-up", "code")
    page.get_by_label("Code from your authenticator app").fill("12")
    page.get_by_role("button", name="Show my NRIC or FIN").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the 6-digit code")
    snap("step-up", "error")
    tab.goto("/citizen/consents")
    heading(page, "My consents")
    snap("consents", "active")
    withdraw_url = f"/citizen/consents/{portal.consent_id}/withdraw"
    tab.goto(withdraw_url)
    heading(page, f"Withdraw your consent for {APP_NAME}?")
    snap("consent-withdraw", "confirm")

    # The same pages in Chinese.
    language(tab, "zh")
    for name, path in (
        ("account", "/citizen/"),
        ("profile", "/citizen/profile"),
        ("history", "/citizen/history"),
        ("proof", proof_url),
        ("receipt", receipt_url),
        ("consents", "/citizen/consents"),
        ("consent-withdraw", withdraw_url),
        ("declarations", "/citizen/declarations"),
        ("declaration-composite-address", "/citizen/declarations/mailadd"),
        ("declaration-remove", "/citizen/declarations/edulevel/remove"),
        ("corrections", "/citizen/corrections"),
        ("correction-form", "/citizen/profile/name/wrong"),
        ("correction", rejected_url),
        ("correction-withdraw", withdraw_request_url),
        ("refresh", "/citizen/refresh"),
        ("download", "/citizen/download"),
    ):
        tab.goto(path.removeprefix(live_server))
        expect(page.locator("html")).to_have_attribute("lang", ZH)
        snap(name, "zh")
    tab.goto("/citizen/declarations/mailadd")
    page.locator("main form button").last.click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    snap("declaration-composite-address", "errors-zh")
    language(tab, "en")

    tab.goto(withdraw_url)
    page.get_by_role("button", name="Withdraw consent").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("You withdrew your consent")
    snap("consents", "one-withdrawn")

    page.context.clear_cookies()
    tab.goto("/citizen/sign-in")
    language(tab, "zh")
    for name, path in (
        ("sign-in", "/citizen/sign-in"),
        ("activation", "/citizen/activate"),
        ("recovery", "/citizen/recover"),
    ):
        tab.goto(path)
        expect(page.locator("html")).to_have_attribute("lang", ZH)
        snap(name, "zh")

    assert tab.problems == []
    write_index(camera.folder)
    took = time.monotonic() - started
    print(f"{len(camera.taken)} screenshots at {camera.width} px in {took:.1f} s: {camera.folder}")
