"""Myinfo v5 (FAPI 2.0) end to end with the citizen in a real Chromium: the relying party
(examples/fapi_client.py: httpx and joserfc, its own keys, URLs from discovery) pushes the request
(PAR with DPoP); the browser follows the authorization URL, the citizen signs in with password and
authenticator code, reads the consent screen (a sub-attribute scope named as such), unticks an
optional item and shares; the browser lands on the app's redirect URI; the app redeems the code,
decrypts and verifies the ID token, then fetches, decrypts and verifies userinfo.

The app's redirect URI is a loopback server (tests/browser/test_consent_browser.py explains why a
Playwright route cannot stand in for it); any request for elsewhere is aborted and recorded. The
same citizen then consents through MyInfo v4 too, and the portal lists both consents.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pyotp
import pytest
from playwright.sync_api import expect

from consent.apps import register_app
from core.clock import utcnow
from examples.fapi_client import FapiClient
from examples.myinfo_v4_client import MyInfoV4Client
from identity.accounts import enrol
from profile_store.citizens import reveal_uinfin
from tests.browser.agency_site import AgencyApp, agency_site
from tests.browser.test_consent_browser import (
    APP_NAME,
    PASSWORD,
    PURPOSE_TEXT,
    Gate,
    item,
    refuses_framing,
    sign_in,
)
from tests.fapi.flow import citizen_with
from tests.oauth.flow import PURPOSE, AgencyKeys, registration

# The purpose's required items (uinfin, name) and optional ones, pension balances asked for by
# their ordinary account only (v5 spec §8.3).
SCOPE = ["uinfin", "name", "regadd", "noa-basic", "cpfbalances.oa"]
UNTICKED = "noa-basic"
ENVELOPE = {"lastupdated", "source", "classification"}
SCREENSHOT = "/tmp/fapi_consent_screen.png"  # noqa: S108 - a fixed path to look at by hand


@dataclass
class Citizen:
    """What `sign_in` (the v4 browser test's) needs: a national id and an authenticator."""

    id: str
    uinfin: str
    totp: pyotp.TOTP


@dataclass
class Relying:
    client_id: str
    keys: AgencyKeys
    redirect_uri: str
    labels: dict[str, str]  # attribute -> its label in our catalogue


def v5_client(live, relying: Relying) -> FapiClient:
    """The agency app's Myinfo v5 client, as an integrator builds it from examples/fapi_client.py."""
    return FapiClient(
        issuer=f"{live.url}/fapi",
        client_id=relying.client_id,
        redirect_uri=relying.redirect_uri,
        signing_key=relying.keys.signing,
        encryption_key=relying.keys.encryption,
    )


@pytest.fixture(scope="module")
def app_server() -> Iterator[tuple[str, AgencyApp]]:
    with agency_site("fapi-app") as site:
        yield site


@pytest.fixture
def relying(live, app_server) -> Relying:
    """An app registered for both profiles (one purpose, as v5 requires), with its own keys."""
    rt = live.app.extensions["consentry"]
    keys, client_id = AgencyKeys(), f"fapi-browser-{secrets.token_hex(4)}"
    redirect_uri = f"{app_server[0]}/callback"
    document = registration(
        keys, client_id=client_id, redirect_uris=[redirect_uri], profiles=["myinfo-v4", "myinfo-v5"]
    )
    with rt.sessions() as session:
        register_app(session, document=document, catalogue=rt.catalogue, now=utcnow())
        session.commit()
    labels = {name: rt.catalogue[name.partition(".")[0]].label for name in SCOPE}
    return Relying(client_id, keys, redirect_uri, labels)


@pytest.fixture
def citizen(live) -> Citizen:
    """Someone with agency data, pension balances included, and a sign-in account."""
    rt = live.app.extensions["consentry"]
    with rt.sessions() as session:
        person = citizen_with(session, rt, "cpfbalances")
        uinfin = reveal_uinfin(rt.vault, person)
        enrolment = enrol(session, vault=rt.vault, uinfin=uinfin, password=PASSWORD, now=utcnow())
        session.commit()
        return Citizen(person.id, uinfin, pyotp.TOTP(enrolment.totp_secret))


@pytest.fixture
def gate(tab, relying, app_server) -> Iterator[Gate]:
    gate = Gate((tab.base_url + "/", app_server[0] + "/"), app_server[1], relying.redirect_uri)
    tab.page.context.route("**/*", gate.handle)
    yield gate
    assert gate.escaped == [], "the browser tried to leave loopback"


@pytest.mark.both_databases
def test_a_citizen_shares_some_fields_through_myinfo_v5_in_a_browser(live, tab, gate, relying, citizen):
    client = v5_client(live, relying)
    login = client.begin(scope=SCOPE)  # discovery, then PAR with a client assertion and DPoP
    page = tab.page
    page.goto(login.authorization_url)
    expect(page).to_have_url(re.compile(r"/citizen/sign-in\?next=/consent/"))

    with page.expect_response(re.compile(r"/consent/[^/?]+$")) as consent_page:
        sign_in(page, citizen)
    assert consent_page.value.status == 200 and refuses_framing(consent_page.value.all_headers())
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{APP_NAME} is asking for your information")
    expect(page.locator(".govuk-inset-text")).to_have_text(PURPOSE_TEXT)
    expect(page.locator(".app-consent-item")).to_have_count(len(SCOPE))
    # The sub-attribute scope: the attribute's label saying which part, and only that part shown.
    balances = page.get_by_role(
        "checkbox", name=f"{relying.labels['cpfbalances.oa']} — Ordinary account only"
    )
    expect(balances).to_be_checked()
    expect(item(page, "cpfbalances").locator(".app-consent-detail")).to_contain_text("Ordinary account:")
    expect(item(page, "cpfbalances").locator(".app-consent-detail")).not_to_contain_text("MediSave account")
    assert tab.axe_violations() == [], "consent page"
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.get_by_role("checkbox", name=relying.labels[UNTICKED], exact=True).uncheck()
    page.get_by_role("button", name="Share", exact=True).click()
    expect(page.get_by_role("heading", name="Back at the app")).to_be_visible()
    params = gate.last_params()
    assert set(params) == {"code", "state", "iss"}
    assert params["state"] == login.state and params["iss"] == f"{live.url}/fapi"

    # Token, ID token (decrypted, signature, iss, aud, exp, nonce), userinfo (decrypted, signature,
    # iss, aud, the ID token's sub): the example client checks each and raises on any failure.
    result = client.finish(login, params)
    assert result.id_token["sub"] == citizen.id and result.id_token["aud"] == relying.client_id
    assert result.id_token["nonce"] == login.nonce
    assert result.id_token["acr"] == "urn:singpass:authentication:loa:2"
    assert result.token_response["scope"] == "openid uinfin name regadd cpfbalances.oa"
    person = result.person_info
    assert set(person) == {"uinfin", "name", "regadd", "cpfbalances"}
    assert UNTICKED not in person
    assert person["uinfin"]["value"] == citizen.uinfin
    assert set(person["cpfbalances"]) == ENVELOPE | {"oa"}
    assert result.userinfo["sub"] == citizen.id and result.userinfo["iss"] == f"{live.url}/fapi"
    assert tab.problems == []


def test_consents_through_v4_and_v5_are_one_list_on_the_portal(live, tab, gate, relying, citizen):
    v5 = v5_client(live, relying)
    page = tab.page
    page.goto(v5.begin(scope=["uinfin", "name", "regadd"]).authorization_url)
    sign_in(page, citizen)
    page.get_by_role("button", name="Share", exact=True).click()
    expect(page.get_by_role("heading", name="Back at the app")).to_be_visible()

    v4 = MyInfoV4Client(
        base_url=live.url,
        client_id=relying.client_id,
        redirect_uri=relying.redirect_uri,
        signing_key=relying.keys.signing,
        encryption_key=relying.keys.encryption,
    )
    url, _verifier = v4.authorization_url(scope=["uinfin", "name", "noa-basic"], purpose_id=PURPOSE)
    page.goto(url)  # still signed in: straight to the consent screen
    expect(page.get_by_role("heading", level=1)).to_contain_text(APP_NAME)
    page.get_by_role("button", name="Share", exact=True).click()
    expect(page.get_by_role("heading", name="Back at the app")).to_be_visible()
    assert len(gate.arrivals()) == 2 and all("code" in url for url in gate.arrivals())

    tab.goto("/citizen/consents")
    expect(page.get_by_role("heading", name="My consents")).to_be_visible()
    cards = page.locator(".govuk-summary-card").filter(has_text=APP_NAME)
    expect(cards).to_have_count(2)
    expect(cards.filter(has_text=relying.labels["regadd"])).to_have_count(1)  # the v5 one
    expect(cards.filter(has_text=relying.labels["noa-basic"])).to_have_count(1)  # the v4 one
    for n in range(2):
        expect(cards.nth(n)).to_contain_text("Active")
    assert tab.axe_violations() == []
    assert tab.problems == []
