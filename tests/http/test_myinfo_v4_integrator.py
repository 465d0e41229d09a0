"""An agency app written the way an integrator writes one (examples/myinfo_v4_client.py: Authlib's
OAuth client, joserfc, its own keys) runs the whole MyInfo v4 flow against the real server over
loopback HTTP: the citizen signs in with password and authenticator code, approves some fields,
and the app decrypts and verifies exactly those."""

from __future__ import annotations

import secrets

import pytest
from joserfc.jwk import ECKey

from consent.apps import register_app
from core.clock import utcnow
from examples.myinfo_v4_client import MyInfoV4Client, ServerError
from identity.accounts import enrol
from profile_store.citizens import reveal_uinfin
from tests.http.citizen_browser import PASSWORD, Browser
from tests.oauth.flow import AgencyKeys, registration, setup_citizen

REDIRECT_URI = "http://localhost:3001/callback"


@pytest.fixture
def integrator(live):
    """A registered app (unique client id), a citizen with agency data and a sign-in account."""
    rt = live.app.extensions["consentry"]
    keys = AgencyKeys()
    client_id = f"integrator-{secrets.token_hex(4)}"
    with rt.sessions() as session:
        register_app(
            session,
            document=registration(keys, client_id=client_id, redirect_uris=[REDIRECT_URI]),
            catalogue=rt.catalogue,
            now=utcnow(),
        )
        session.commit()
        citizen = setup_citizen(session, rt)
        uinfin = reveal_uinfin(rt.vault, citizen)
        enrolment = enrol(session, vault=rt.vault, uinfin=uinfin, password=PASSWORD, now=utcnow())
        session.commit()
    client = MyInfoV4Client(
        base_url=live.url,
        client_id=client_id,
        redirect_uri=REDIRECT_URI,
        signing_key=keys.signing,
        encryption_key=keys.encryption,
    )
    return client, uinfin, enrolment.totp_secret


def test_an_integrators_client_gets_exactly_the_approved_fields(live, integrator, monkeypatch):
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # loopback http in tests only
    client, uinfin, totp = integrator
    scope = ["uinfin", "name", "regadd", "noa-basic", "cpfbalances"]
    url, verifier = client.authorization_url(scope=scope, purpose_id="grant", state="xyz")

    browser = Browser(live.url)
    params = browser.follow_to_app(
        browser.get(url), uinfin=uinfin, totp=totp, approve=["regadd"], redirect_uri=REDIRECT_URI
    )

    assert params["state"] == "xyz" and params["iss"] == f"{live.url}/com/v4"
    person = client.person(code=params["code"], code_verifier=verifier, scope=["uinfin", "name", "regadd"])
    assert set(person) == {"uinfin", "name", "regadd"}
    assert person["uinfin"]["value"] == uinfin
    assert {"source", "classification", "lastupdated"} <= set(person["name"])

    with pytest.raises(ServerError) as replay:
        client.person(code=params["code"], code_verifier=verifier, scope=["name"])
    assert replay.value.status == 400 and "invalid_grant" in str(replay.value.body)


def test_a_declined_field_is_absent_and_one_never_requested_is_forbidden(live, integrator, monkeypatch):
    """As the official connector does: ask the person API for the whole configured scope."""
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    client, uinfin, totp = integrator
    url, verifier = client.authorization_url(scope=["uinfin", "name", "cpfbalances"], purpose_id="grant")
    browser = Browser(live.url)
    params = browser.follow_to_app(
        browser.get(url), uinfin=uinfin, totp=totp, approve=[], redirect_uri=REDIRECT_URI
    )
    dpop_key = ECKey.generate_key("P-256")
    token = client.token(code=params["code"], code_verifier=verifier, dpop_key=dpop_key)
    assert token["scope"] == "uinfin name"
    person = client.fetch_person(token["access_token"], dpop_key=dpop_key, scope=["name", "cpfbalances"])
    assert set(person) == {"name"}
    with pytest.raises(ServerError) as refused:
        client.fetch_person(token["access_token"], dpop_key=dpop_key, scope=["name", "regadd"])
    assert refused.value.status == 403 and refused.value.body["error"] == "insufficient_scope"
