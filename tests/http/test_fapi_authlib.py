"""A generic OAuth client given only our v5 discovery document (issue 16, item 7): Authlib's stock
OAuth2Session and its stock private_key_jwt method, configured from the metadata alone, runs the
whole Myinfo v5 flow against the live server. Authlib has neither PAR nor DPoP, so the test adds
what an integrator adds: the pushed request is the authorization request Authlib builds, posted
with Authlib's client authentication; the DPoP proofs come from a small function. (The v4
counterpart, given only `purpose_id`, is tests/http/test_myinfo_v4_generic_client.py.)"""

from __future__ import annotations

import json
import secrets
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwe, jws
from joserfc.jwk import ECKey, KeySet

from consent.apps import register_app
from core.clock import utcnow
from examples.myinfo_v4_client import dpop_proof
from identity.accounts import enrol
from profile_store.citizens import reveal_uinfin
from tests.fapi.flow import citizen_with
from tests.http.citizen_browser import PASSWORD, Browser
from tests.oauth.flow import AgencyKeys, registration

REDIRECT_URI = "http://localhost:3080/callback"
SCOPE = "openid uinfin name regadd cpfbalances.oa"


@pytest.fixture
def integrator(live):
    """A v5 app (unique client id, one purpose), and a citizen with pension balances who can sign in."""
    rt = live.app.extensions["consentry"]
    keys = AgencyKeys()
    client_id = f"authlib-v5-{secrets.token_hex(4)}"
    with rt.sessions() as session:
        document = registration(
            keys, client_id=client_id, redirect_uris=[REDIRECT_URI], profiles=["myinfo-v5"]
        )
        register_app(session, document=document, catalogue=rt.catalogue, now=utcnow())
        session.commit()
        citizen = citizen_with(session, rt, "cpfbalances")
        uinfin = reveal_uinfin(rt.vault, citizen)
        enrolment = enrol(session, vault=rt.vault, uinfin=uinfin, password=PASSWORD, now=utcnow())
        session.commit()
    return client_id, keys, citizen, uinfin, enrolment.totp_secret


def assertion_method(metadata: dict) -> PrivateKeyJWT:
    """Authlib's private_key_jwt, told the two things the metadata and the profile fix: `aud` the
    issuer (FAPI 2.0) and a lifetime within 120 s (Authlib's default is an hour). One object per
    request: Authlib adds its jti to the `claims` it keeps."""
    alg = metadata["token_endpoint_auth_signing_alg_values_supported"][0]
    return PrivateKeyJWT(metadata["issuer"], alg=alg, claims={"exp": int(time.time()) + 60})


def open_nested(compact: str, keys: AgencyKeys, our_keys: KeySet) -> dict:
    decrypted = jwe.decrypt_compact(
        compact, keys.encryption, algorithms=["ECDH-ES+A256KW", "A256CBC-HS512", "A256GCM"]
    )
    return json.loads(jws.deserialize_compact(decrypted.plaintext, our_keys, algorithms=["ES256"]).payload)


def test_authlib_from_discovery_alone_completes_the_v5_flow(live, integrator, monkeypatch):
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # loopback http in tests only
    client_id, keys, citizen, uinfin, totp = integrator
    metadata = requests.get(f"{live.url}/fapi/.well-known/openid-configuration", timeout=10).json()
    assert metadata["require_pushed_authorization_requests"] is True
    session = OAuth2Session(
        client_id=client_id,
        client_secret=keys.signing,
        redirect_uri=REDIRECT_URI,
        scope=SCOPE,
        code_challenge_method=metadata["code_challenge_methods_supported"][0],
        token_endpoint_auth_method=metadata["token_endpoint_auth_methods_supported"][0],
    )
    dpop_key = ECKey.generate_key("P-256")  # one key for this login: PAR, token, userinfo

    # PAR: the authorization request Authlib builds, pushed with Authlib's client authentication.
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(24)
    par_url = metadata["pushed_authorization_request_endpoint"]
    built, state = session.create_authorization_url(par_url, code_verifier=verifier, nonce=nonce)
    pushed = session.post(
        par_url,
        data=dict(parse_qsl(urlsplit(built).query)),
        auth=session.client_auth(assertion_method(metadata)),
        headers={"DPoP": dpop_proof(dpop_key, method="POST", url=par_url)},
        timeout=10,
    )
    assert pushed.status_code == 201, pushed.text
    authorization_url = (
        metadata["authorization_endpoint"]
        + "?"
        + urlencode({"client_id": client_id, "request_uri": pushed.json()["request_uri"]})
    )

    browser = Browser(live.url)
    params = browser.follow_to_app(
        browser.get(authorization_url),
        uinfin=uinfin,
        totp=totp,
        approve=["cpfbalances"],
        redirect_uri=REDIRECT_URI,
    )
    assert params["state"] == state and params["iss"] == metadata["issuer"]

    token_url = metadata["token_endpoint"]
    session.register_client_auth_method(assertion_method(metadata))
    token = session.fetch_token(
        token_url,
        code=params["code"],
        code_verifier=verifier,
        timeout=10,
        headers={"DPoP": dpop_proof(dpop_key, method="POST", url=token_url), "Accept": "application/json"},
    )
    assert token["token_type"] == "DPoP"
    assert token["scope"] == "openid uinfin name cpfbalances.oa", "read `scope`: regadd was declined"

    our_keys = KeySet.import_key_set(requests.get(metadata["jwks_uri"], timeout=10).json())
    id_token = open_nested(token["id_token"], keys, our_keys)
    assert id_token["iss"] == metadata["issuer"] and id_token["aud"] == client_id
    assert id_token["nonce"] == nonce and id_token["sub"] == citizen.id
    assert id_token["acr"] in metadata["acr_values_supported"]

    userinfo_url = metadata["userinfo_endpoint"]
    access_token = token["access_token"]
    response = requests.get(
        userinfo_url,
        headers={
            "Authorization": f"DPoP {access_token}",
            "DPoP": dpop_proof(dpop_key, method="GET", url=userinfo_url, access_token=access_token),
        },
        timeout=10,
    )
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/jwt"
    info = open_nested(response.text, keys, our_keys)
    assert info["sub"] == id_token["sub"] and info["aud"] == client_id
    assert set(info["person_info"]) == {"uinfin", "name", "cpfbalances"}  # regadd was not approved
    assert info["person_info"]["uinfin"]["value"] == uinfin
