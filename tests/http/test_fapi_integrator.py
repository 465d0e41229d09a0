"""A Myinfo v5 relying party written the way an integrator writes one (examples/fapi_client.py:
httpx and joserfc, its own keys, URLs from discovery) runs the whole FAPI 2.0 flow against the
real server over loopback HTTP: discovery → PAR with DPoP → the citizen signs in with password and
authenticator code and approves some fields → token → ID token decrypted and verified (iss, aud,
exp, nonce) → userinfo decrypted and verified (sub, iss, aud)."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urljoin, urlsplit

import pyotp
import pytest

from consent.apps import register_app
from core.clock import utcnow
from examples.fapi_client import FapiClient, FapiError
from identity.accounts import enrol
from profile_store.citizens import reveal_uinfin
from tests.fapi.flow import citizen_with
from tests.http.citizen_browser import PASSWORD, Browser
from tests.oauth.flow import AgencyKeys, registration

REDIRECT_URI = "http://localhost:3080/callback"  # the Singpass demo's staging redirect URI


@pytest.fixture
def integrator(live):
    """A v5 app (unique client id, one purpose), a citizen with agency data and a sign-in account."""
    rt = live.app.extensions["consentry"]
    keys = AgencyKeys()
    client_id = f"fapi-rp-{secrets.token_hex(4)}"
    with rt.sessions() as session:
        document = registration(
            keys, client_id=client_id, redirect_uris=[REDIRECT_URI], profiles=["myinfo-v5"]
        )
        register_app(session, document=document, catalogue=rt.catalogue, now=utcnow())
        session.commit()
        citizen = citizen_with(session, rt, "cpfbalances")  # the scope asks for cpfbalances.oa
        uinfin = reveal_uinfin(rt.vault, citizen)
        enrolment = enrol(session, vault=rt.vault, uinfin=uinfin, password=PASSWORD, now=utcnow())
        session.commit()
    return keys, client_id, citizen, uinfin, enrolment.totp_secret


def make_client(live, integrator, **options) -> FapiClient:
    keys, client_id, *_ = integrator
    return FapiClient(
        issuer=f"{live.url}/fapi",
        client_id=client_id,
        redirect_uri=REDIRECT_URI,
        signing_key=keys.signing,
        encryption_key=keys.encryption,
        **options,
    )


@pytest.mark.parametrize("nimbus_style", [False, True], ids=["openid-client style", "Nimbus style"])
def test_a_relying_party_gets_exactly_the_approved_fields(live, integrator, nimbus_style):
    _keys, client_id, citizen, uinfin, totp = integrator
    client = make_client(live, integrator, nimbus_style=nimbus_style)
    login = client.begin(scope=["uinfin", "name", "regadd", "cpfbalances.oa"])
    assert login.authorization_url.startswith(f"{live.url}/fapi/auth?client_id=")

    browser = Browser(live.url)
    params = browser.follow_to_app(
        browser.get(login.authorization_url),
        uinfin=uinfin,
        totp=totp,
        approve=["cpfbalances"],
        redirect_uri=REDIRECT_URI,
    )
    assert set(params) == {"code", "state", "iss"}

    result = client.finish(login, params)
    assert result.id_token["sub"] == citizen.id and result.id_token["aud"] == client_id
    assert result.id_token["nonce"] == login.nonce
    assert result.token_response["scope"] == "openid uinfin name cpfbalances.oa"
    assert set(result.person_info) == {"uinfin", "name", "cpfbalances"}
    assert result.person_info["uinfin"]["value"] == uinfin
    assert set(result.person_info["cpfbalances"]) == {"oa", "lastupdated", "source", "classification"}

    with pytest.raises(FapiError) as replay:
        client.token(login, params["code"])
    assert replay.value.status == 400 and replay.value.body["error"] == "invalid_grant"


def test_a_forged_redirect_and_a_stolen_code_get_nothing(live, integrator):
    _keys, _client_id, _citizen, uinfin, totp = integrator
    client = make_client(live, integrator)
    login = client.begin(scope=["uinfin", "name"])
    browser = Browser(live.url)
    params = browser.follow_to_app(
        browser.get(login.authorization_url), uinfin=uinfin, totp=totp, approve=[], redirect_uri=REDIRECT_URI
    )
    with pytest.raises(FapiError, match="iss"):
        client.finish(login, {**params, "iss": "https://id.singpass.gov.sg/fapi"})
    thief = client.begin(scope=["uinfin", "name"])  # the same client, another login's DPoP key
    with pytest.raises(FapiError) as refused:
        client.token(thief, params["code"])
    assert refused.value.status == 400 and refused.value.body["error"] in (
        "invalid_dpop_proof",
        "invalid_grant",
    )


def decline(browser: Browser, response, *, uinfin: str, totp: str) -> dict[str, str]:
    """Sign in as the citizen, answer the consent screen "do not share", return the app's query."""
    for _ in range(8):
        if response.status_code in (302, 303):
            location = urljoin(response.url, response.headers["Location"])
            if location.startswith(REDIRECT_URI):
                return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
            response = browser.get(location)
        elif urlsplit(response.url).path == "/citizen/sign-in":
            fields = [("uinfin", uinfin), ("password", PASSWORD), ("code", pyotp.TOTP(totp).now())]
            fields += [("next", n) for n in parse_qs(urlsplit(response.url).query).get("next", [])]
            response = browser.submit(response.url, response, fields)
        else:
            response = browser.submit(
                response.url, response, [("decision", "decline"), ("remember", "request")]
            )
    raise AssertionError("never got back to the app")


def test_declining_comes_back_as_access_denied_with_iss(live, integrator):
    _keys, _client_id, _citizen, uinfin, totp = integrator
    client = make_client(live, integrator)
    login = client.begin(scope=["uinfin", "name"])
    browser = Browser(live.url)
    answer = decline(browser, browser.get(login.authorization_url), uinfin=uinfin, totp=totp)
    assert answer["error"] == "access_denied" and answer["iss"] == f"{live.url}/fapi"
    assert answer["state"] == login.state
    with pytest.raises(FapiError, match="access_denied"):
        client.finish(login, answer)
