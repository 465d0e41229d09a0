"""A generic OAuth client given only our v4 discovery document (issue 16, item 2): Authlib's stock
OAuth2Session and its stock private_key_jwt method (no `client_id` in the token form, no `kid`
unless configured, an hour-long assertion by default), plus the one MyInfo parameter
`purpose_id` and the DPoP proofs Authlib lacks, runs the whole v4 flow against the live server.

Its default assertion lifetime is refused with the reason and the numbers, so the integrator
knows the one setting to change."""

from __future__ import annotations

import json
import secrets
import time

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwe, jws, jwt
from joserfc.jwk import ECKey, KeySet

from consent.apps import register_app
from core.clock import utcnow
from examples.myinfo_v4_client import dpop_proof
from identity.accounts import enrol
from profile_store.citizens import reveal_uinfin
from tests.http.citizen_browser import PASSWORD, Browser
from tests.oauth.flow import AgencyKeys, registration, setup_citizen

REDIRECT_URI = "http://localhost:3001/callback"
SCOPE = "uinfin name regadd noa-basic cpfbalances"


@pytest.fixture
def agency(live):
    """A registered app (unique client id), and a citizen with agency data and a sign-in account."""
    rt = live.app.extensions["consentry"]
    keys = AgencyKeys()
    client_id = f"generic-{secrets.token_hex(4)}"
    with rt.sessions() as session:
        document = registration(keys, client_id=client_id, redirect_uris=[REDIRECT_URI])
        register_app(session, document=document, catalogue=rt.catalogue, now=utcnow())
        session.commit()
        citizen = setup_citizen(session, rt)
        uinfin = reveal_uinfin(rt.vault, citizen)
        enrolment = enrol(session, vault=rt.vault, uinfin=uinfin, password=PASSWORD, now=utcnow())
        session.commit()
    return client_id, keys, uinfin, enrolment.totp_secret


def oauth_session(metadata: dict, client_id: str, keys: AgencyKeys, **assertion) -> OAuth2Session:
    """Authlib configured from the discovery document: its endpoints, PKCE method and auth method."""
    session = OAuth2Session(
        client_id=client_id,
        client_secret=keys.signing,
        redirect_uri=REDIRECT_URI,
        scope=SCOPE,
        code_challenge_method=metadata["code_challenge_methods_supported"][0],
        token_endpoint_auth_method=metadata["token_endpoint_auth_methods_supported"][0],
    )
    alg = metadata["token_endpoint_auth_signing_alg_values_supported"][0]
    session.register_client_auth_method(PrivateKeyJWT(metadata["token_endpoint"], alg=alg, **assertion))
    return session


def log_in(live, session: OAuth2Session, metadata: dict, uinfin: str, totp: str) -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    url, state = session.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, purpose_id="grant"
    )
    browser = Browser(live.url)
    params = browser.follow_to_app(
        browser.get(url), uinfin=uinfin, totp=totp, approve=["regadd"], redirect_uri=REDIRECT_URI
    )
    assert params["state"] == state and params["iss"] == metadata["issuer"]
    return params["code"], verifier


def fetch_token(session: OAuth2Session, metadata: dict, code: str, verifier: str, dpop_key: ECKey) -> dict:
    url = metadata["token_endpoint"]
    return dict(
        session.fetch_token(
            url,
            code=code,
            code_verifier=verifier,
            timeout=10,
            headers={"DPoP": dpop_proof(dpop_key, method="POST", url=url), "Accept": "application/json"},
        )
    )


def test_authlib_from_discovery_alone_completes_the_v4_flow(live, agency, monkeypatch):
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # loopback http in tests only
    client_id, keys, uinfin, totp = agency
    metadata = requests.get(f"{live.url}/.well-known/oauth-authorization-server/com/v4", timeout=10).json()
    assert "id_token_signing_alg_values_supported" not in metadata, "v4 issues no ID tokens"
    dpop_key = ECKey.generate_key("P-256")

    stock = oauth_session(metadata, client_id, keys)  # Authlib's default: a 3600 s assertion
    code, verifier = log_in(live, stock, metadata, uinfin, totp)
    with pytest.raises(OAuthError) as refused:
        fetch_token(stock, metadata, code, verifier, dpop_key)
    assert refused.value.error == "invalid_client"
    assert refused.value.description == "client_assertion lifetime is too long: max 300 s, got 3600 s"

    # The one change the description asks for, and the same code again: a refused client
    # authentication does not spend it. (Authlib keeps `claims`, and adds its jti to them, so a
    # method object serves one token request.)
    short = oauth_session(metadata, client_id, keys, claims={"exp": int(time.time()) + 300})
    token = fetch_token(short, metadata, code, verifier, dpop_key)
    assert token["token_type"] == "DPoP"
    assert token["scope"] == "uinfin name regadd", "read `scope`: what the citizen approved"

    jwks = KeySet.import_key_set(requests.get(metadata["jwks_uri"], timeout=10).json())
    sub = jwt.decode(token["access_token"], jwks, algorithms=["ES256"]).claims["sub"]
    person_url = f"{metadata['person_endpoint']}/{sub}"
    response = requests.get(
        person_url,
        params={"scope": SCOPE},  # the whole configured scope, as the official connector asks
        headers={
            "Authorization": f"DPoP {token['access_token']}",
            "DPoP": dpop_proof(dpop_key, method="GET", url=person_url, access_token=token["access_token"]),
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    decrypted = jwe.decrypt_compact(response.text, keys.encryption, algorithms=["ECDH-ES+A256KW", "A256GCM"])
    person = jws.deserialize_compact(decrypted.plaintext, jwks, algorithms=["ES256"]).payload
    assert set(json.loads(person)) == {"uinfin", "name", "regadd"}
