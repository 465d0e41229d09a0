"""The MyInfo v4 consent screen in a real Chromium: an agency app sends the citizen to authorize,
they sign in (password and authenticator code), read what is asked, why, from which agency and how
fresh, untick an optional item and share; or decline; or have the decision remembered. The test
then redeems the code like the app would (examples/myinfo_v4_client.py) and checks what was
released.

Nothing leaves loopback. The app's redirect URI is a loopback server the test runs: Playwright's
page.route never sees the target of a server redirect (its documented limit), so an off-box
redirect URI would be looked up in DNS however it is routed. A context-wide route still aborts, and
records, any other request that is not for Consentry or the app.

Every page is checked with axe-core, for console errors and CSP violations, at phone width for
sideways scrolling, and for refusing to be framed.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from joserfc.jwk import ECKey
from playwright.sync_api import Page, Route, expect

from app.profile_display import ShownField, show_field
from consent.apps import register_app
from core.clock import utcnow
from examples.myinfo_v4_client import MyInfoV4Client
from identity.accounts import enrol
from profile_store.assembly import load_fields
from profile_store.citizens import reveal_uinfin
from tests.browser.agency_site import AgencyApp, agency_site
from tests.oauth.flow import OPTIONAL, PURPOSE, REQUIRED, AgencyKeys, registration, setup_citizen

PASSWORD = "correct horse battery staple"
APP_NAME = "Housing grant application"
APP_AGENCY = "Housing Board"
PURPOSE_TEXT = "To assess your housing grant application."
SCOPE = REQUIRED + OPTIONAL  # uinfin name | regadd noa-basic cpfbalances
UNTICKED = "noa-basic"


@dataclass
class Journey:
    """One registered app and one citizen with agency data and a sign-in account, all committed."""

    app: MyInfoV4Client
    uinfin: str
    totp: pyotp.TOTP
    shown: dict[str, ShownField]  # what the consent screen should preview, computed server-side
    agencies: dict[str, str]  # attribute -> source agency's name


@pytest.fixture(scope="module")
def agency_server() -> Iterator[tuple[str, AgencyApp]]:
    with agency_site("agency-app") as site:
        yield site


@dataclass
class Gate:
    """Where the browser got to at the app, and anything it tried to reach off loopback."""

    allowed: tuple[str, ...]
    app: AgencyApp
    redirect_uri: str
    escaped: list[str] = field(default_factory=list)
    since: int = 0  # the app server is shared by the module's tests

    def __post_init__(self) -> None:
        self.since = len(self.app.arrivals)

    def handle(self, route: Route) -> None:
        if route.request.url.startswith(self.allowed):
            route.continue_()
        else:
            self.escaped.append(route.request.url)
            route.abort()

    def arrivals(self) -> list[str]:
        return [url for url in self.app.arrivals[self.since :] if url.startswith(self.redirect_uri)]

    def last_params(self) -> dict[str, str]:
        arrived = self.arrivals()
        assert arrived, "the browser never reached the app's redirect URI"
        return {k: v[0] for k, v in parse_qs(urlsplit(arrived[-1]).query).items()}


@pytest.fixture
def journey(live, agency_server) -> Journey:
    rt = live.app.extensions["consentry"]
    redirect_uri = f"{agency_server[0]}/callback"
    keys = AgencyKeys()
    client_id = f"consent-browser-{secrets.token_hex(4)}"
    now = utcnow()
    with rt.sessions() as session:
        document = registration(
            keys, client_id=client_id, name=APP_NAME, agency=APP_AGENCY, redirect_uris=[redirect_uri]
        )
        register_app(session, document=document, catalogue=rt.catalogue, now=now)
        session.commit()
        citizen = setup_citizen(session, rt)
        uinfin = reveal_uinfin(rt.vault, citizen)
        enrolment = enrol(session, vault=rt.vault, uinfin=uinfin, password=PASSWORD, now=now)
        session.commit()
        views = load_fields(
            session, vault=rt.vault, catalogue=rt.catalogue, citizen=citizen, attributes=SCOPE
        )
    app = MyInfoV4Client(
        base_url=live.url,
        client_id=client_id,
        redirect_uri=redirect_uri,
        signing_key=keys.signing,
        encryption_key=keys.encryption,
    )
    return Journey(
        app=app,
        uinfin=uinfin,
        totp=pyotp.TOTP(enrolment.totp_secret),
        shown={name: show_field(view, now=now) for name, view in views.items()},
        agencies={name: rt.catalogue.agencies[view.agency].name for name, view in views.items()},
    )


def _gate(tab, journey: Journey, agency_server) -> Iterator[Gate]:
    gate = Gate(
        (tab.base_url + "/", agency_server[0] + "/"), agency_server[1], journey.app.oauth.redirect_uri
    )
    tab.page.context.route("**/*", gate.handle)
    yield gate
    assert gate.escaped == [], "the browser tried to leave loopback"


@pytest.fixture
def gate(tab, journey, agency_server) -> Iterator[Gate]:
    yield from _gate(tab, journey, agency_server)


@pytest.fixture
def phone_gate(phone_tab, journey, agency_server) -> Iterator[Gate]:
    yield from _gate(phone_tab, journey, agency_server)


def start(page: Page, journey: Journey, *, state: str) -> str:
    """The app sends the browser to authorize; returns the PKCE verifier the app keeps."""
    url, verifier = journey.app.authorization_url(scope=SCOPE, purpose_id=PURPOSE, state=state)
    page.goto(url)
    return verifier


def sign_in(page: Page, journey: Journey, *, code: str | None = None) -> None:
    page.get_by_label("NRIC or FIN").fill(journey.uinfin)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Security code").fill(code or journey.totp.now())
    page.get_by_role("button", name="Sign in").click()


def item(page: Page, name: str):
    """One requested item on the consent screen: its label, Required tag and value preview."""
    return page.locator(".app-consent-item").filter(has=page.locator(f"#attr-{name}-detail"))


def expected_preview(shown: ShownField) -> str:
    """The first line of an item's value preview, as the template prints it."""
    if shown.unavailable:
        return "Not available"
    if shown.text is not None:
        return shown.text
    if shown.parts:
        label, text = shown.parts[0]
        return f"{label}: {text}"
    if shown.table:
        return ", ".join(shown.table[0])
    if shown.rows:
        return "; ".join(f"{label}: {text}" for label, text in shown.rows[0])
    return "None on record"


def check_consent_screen(page: Page, journey: Journey) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{APP_NAME} is asking for your information")
    expect(page.locator(".govuk-caption-l")).to_have_text(APP_AGENCY)
    expect(page.locator(".govuk-inset-text")).to_have_text(PURPOSE_TEXT)
    expect(page.locator(".app-consent-item")).to_have_count(len(SCOPE))
    for name in SCOPE:
        shown, row = journey.shown[name], item(page, name)
        detail = row.locator(".app-consent-detail")
        expect(row).to_contain_text(shown.label)
        expect(detail).to_contain_text(expected_preview(shown))
        expect(detail).to_contain_text(f"From {journey.agencies[name]}")
        if shown.lastupdated:
            expect(detail).to_contain_text(f"updated {shown.lastupdated}")
        else:  # which citizen a test gets varies with the order tests run in; some lack an item
            assert shown.unavailable, f"{name} has no last-updated date to show"
        expect(row.locator(".govuk-tag", has_text="Required")).to_have_count(1 if name in REQUIRED else 0)
        if name in REQUIRED:  # always shared: listed, with no checkbox to untick
            expect(row.get_by_role("checkbox")).to_have_count(0)
        else:
            box = page.get_by_role("checkbox", name=shown.label, exact=True)
            expect(box).to_be_checked()
            expect(box).to_be_enabled()
    # A high-sensitivity value is previewed masked, never in full.
    expect(item(page, "uinfin")).to_contain_text(f"••••{journey.uinfin[-4:]}")
    expect(item(page, "uinfin")).to_contain_text("Partly hidden here; shared in full")
    assert journey.uinfin not in page.content()


def refuses_framing(headers: dict[str, str]) -> bool:
    csp = headers.get("content-security-policy", "")
    return headers.get("x-frame-options", "").upper() == "DENY" and "frame-ancestors 'none'" in csp


@pytest.mark.both_databases
def test_citizen_signs_in_unticks_an_item_shares_and_the_app_gets_only_the_rest(
    tab, gate, journey, monkeypatch
):
    page = tab.page
    verifier = start(page, journey, state="st-share")
    expect(page).to_have_url(re.compile(r"/citizen/sign-in\?next=/consent/"))
    assert tab.axe_violations() == [], "sign-in page"

    with page.expect_response(re.compile(r"/consent/[^/?]+$")) as consent_page:
        sign_in(page, journey)
    assert consent_page.value.status == 200
    assert refuses_framing(consent_page.value.all_headers())
    check_consent_screen(page, journey)
    assert tab.axe_violations() == [], "consent page"

    page.get_by_role("checkbox", name=journey.shown[UNTICKED].label, exact=True).uncheck()
    page.get_by_role("button", name="Share", exact=True).click()
    expect(page.get_by_role("heading", name="Back at the app")).to_be_visible()
    assert page.url.startswith(gate.redirect_uri + "?")
    params = gate.last_params()
    assert params["state"] == "st-share" and params["iss"] == f"{tab.base_url}/com/v4"
    assert set(params) == {"code", "state", "iss"}

    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # loopback http in tests only
    dpop_key = ECKey.generate_key("P-256")
    token = journey.app.token(code=params["code"], code_verifier=verifier, dpop_key=dpop_key)
    granted = token["scope"].split()
    assert set(granted) == set(SCOPE) - {UNTICKED}
    person = journey.app.fetch_person(token["access_token"], dpop_key=dpop_key, scope=granted)
    assert set(person) == set(SCOPE) - {UNTICKED}
    assert person["uinfin"]["value"] == journey.uinfin
    # Asked for as the official connector does (its whole configured scope): the unticked item
    # is simply absent (RFC 6749 §3.3).
    whole = journey.app.fetch_person(token["access_token"], dpop_key=dpop_key, scope=list(SCOPE))
    assert set(whole) == set(SCOPE) - {UNTICKED}
    assert tab.problems == []


def test_declining_sends_access_denied_back_to_the_app(tab, gate, journey):
    page = tab.page
    start(page, journey, state="st-decline")
    sign_in(page, journey)
    expect(page.get_by_role("heading", level=1)).to_contain_text(APP_NAME)
    page.get_by_role("button", name="Do not share").click()
    expect(page.get_by_role("heading", name="Back at the app")).to_be_visible()
    params = gate.last_params()
    assert params["error"] == "access_denied" and params["state"] == "st-decline"
    assert params["iss"] == f"{tab.base_url}/com/v4" and "code" not in params
    assert tab.problems == []


def consent_screens_shown(page: Page) -> list[str]:
    """Every consent screen the page is shown from now on (a 200 document under /consent/)."""
    shown: list[str] = []
    page.on(
        "response",
        lambda r: (
            shown.append(r.url)
            if r.request.resource_type == "document"
            and urlsplit(r.url).path.startswith("/consent/")
            and r.status == 200
            else None
        ),
    )
    return shown


def test_a_remembered_decision_goes_straight_back_to_the_app(tab, gate, journey):
    page = tab.page
    start(page, journey, state="st-first")
    sign_in(page, journey)
    page.get_by_label("3 months").check()
    page.get_by_role("button", name="Share", exact=True).click()
    expect(page.get_by_role("heading", name="Back at the app")).to_be_visible()
    assert "code" in gate.last_params()

    shown = consent_screens_shown(page)
    start(page, journey, state="st-again")
    expect(page.get_by_role("heading", name="Back at the app")).to_be_visible()
    params = gate.last_params()
    assert params["state"] == "st-again" and "code" in params
    assert shown == [], "the consent screen was shown although the decision was remembered"
    assert len(gate.arrivals()) == 2
    assert tab.problems == []


def test_a_remembered_decision_after_signing_in_again_goes_straight_back_to_the_app(
    chromium, tab, gate, journey
):
    """The common case for remembering: a later visit, in a new browser session. The sign-in form
    is then what sends the browser (through the consent step) back to the app."""
    page = tab.page
    start(page, journey, state="st-first")
    sign_in(page, journey)
    page.get_by_label("3 months").check()
    page.get_by_role("button", name="Share", exact=True).click()
    expect(page.get_by_role("heading", name="Back at the app")).to_be_visible()

    later = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        later.route("**/*", gate.handle)
        page = later.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        shown = consent_screens_shown(page)
        start(page, journey, state="st-later")
        expect(page).to_have_url(re.compile(r"/citizen/sign-in\?next=/consent/"))
        # A code works once: the next step's code (the server allows one step of drift).
        sign_in(page, journey, code=journey.totp.at(time.time() + 30))
        expect(page.get_by_role("heading", name="Back at the app")).to_be_visible()
        params = gate.last_params()
        assert params["state"] == "st-later" and "code" in params
        assert shown == [] and problems == []
    finally:
        later.close()
    assert tab.problems == []


def test_consent_screen_fits_a_phone(phone_tab, phone_gate, journey):
    page = phone_tab.page
    start(page, journey, state="st-phone")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 375, "sign-in page"
    sign_in(page, journey)
    expect(page.get_by_role("heading", level=1)).to_contain_text(APP_NAME)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 375, "consent page"
    share = page.get_by_role("button", name="Share", exact=True)
    share.scroll_into_view_if_needed()
    expect(share).to_be_visible()
    expect(share).to_be_in_viewport()
    box = share.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
    assert phone_tab.axe_violations() == []
    assert phone_tab.problems == []


def test_the_consent_screen_cannot_be_framed(tab, gate, journey, agency_server):
    page = tab.page
    start(page, journey, state="st-frame")
    with page.expect_response(re.compile(r"/consent/[^/?]+$")) as consent_page:
        sign_in(page, journey)
    assert refuses_framing(consent_page.value.all_headers())
    expect(page.get_by_role("heading", level=1)).to_contain_text(APP_NAME)

    # Another site (the app's origin) puts the screen in a frame (clickjacking); Chromium refuses.
    framer = page.context.new_page()
    with framer.expect_console_message(lambda m: m.type == "error") as refusal:
        framer.goto(f"{agency_server[0]}/frame?src={page.url}")
    assert "frame-ancestors 'none'" in refusal.value.text, refusal.value.text
    framed = framer.frames[1]
    assert not framed.url.startswith(tab.base_url), f"the frame shows {framed.url}"
    framer.close()
    expect(page.get_by_role("button", name="Share", exact=True)).to_be_visible()
    assert tab.problems == []
