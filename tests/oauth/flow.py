"""Driving the MyInfo v4 flow through the Flask test client: an agency app with its own keys, a
citizen with agency data, and the steps authorize → consent → token → person, each overridable so
a test can break exactly one rule."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwe, jws, jwt
from joserfc.jwk import ECKey, KeySet
from sqlalchemy import delete, select

from agency_connectors.refresh import refresh_citizen
from consent.apps import register_app
from consent.grants import pkce_challenge
from consent.models import AgencyApp
from core.crypto.platform_key_model import PlatformKey
from core.rate_limit_model import RateLimitCounter
from examples.myinfo_v4_client import ASSERTION_TYPE, dpop_proof
from profile_store.models import Citizen
from tests.factories import make_citizen

BASE = "http://localhost"
TOKEN_URL = f"{BASE}/com/v4/token"
PERSON_URL = f"{BASE}/com/v4/person"
CLIENT_ID = "housing-grant-app"
REDIRECT_URI = "https://grants.example.gov/callback"
PURPOSE = "grant"
REQUIRED = ["uinfin", "name"]
OPTIONAL = ["regadd", "noa-basic", "cpfbalances"]
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class AgencyKeys:
    signing: ECKey = field(
        default_factory=lambda: ECKey.generate_key("P-256", {"use": "sig", "alg": "ES256"}, auto_kid=True)
    )
    encryption: ECKey = field(
        default_factory=lambda: ECKey.generate_key(
            "P-256", {"use": "enc", "alg": "ECDH-ES+A256KW"}, auto_kid=True
        )
    )

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.signing.as_dict(private=False), self.encryption.as_dict(private=False)]}


def registration(keys: AgencyKeys, **overrides: Any) -> dict[str, Any]:
    document = {
        "client_id": CLIENT_ID,
        "name": "Housing grant application",
        "agency": "Housing Board",
        "redirect_uris": [REDIRECT_URI, "http://localhost:3001/callback?tenant=a"],
        "allowed_attributes": REQUIRED + OPTIONAL + ["vehicles"],
        "purposes": [
            {
                "id": PURPOSE,
                "description": "To assess your housing grant application.",
                "required": REQUIRED,
                "optional": OPTIONAL,
            }
        ],
        "jwks": keys.jwks(),
    }
    return {**document, **overrides}


def setup_app(db_session, runtime, keys: AgencyKeys, **overrides: Any):
    app = register_app(
        db_session, document=registration(keys, **overrides), catalogue=runtime.catalogue, now=_now()
    )
    db_session.commit()
    return app


def setup_citizen(db_session, runtime):
    citizen = make_citizen(db_session, runtime.vault)
    refresh_citizen(
        db_session,
        registry=runtime.connectors,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=citizen,
        now=_now(),
    )
    db_session.commit()
    return citizen


def platform_kids(session) -> set[str]:
    return set(session.scalars(select(PlatformKey.kid)))


def forget_committed(session, *, citizen_id: str, kids: set[str], client_id: str = CLIENT_ID) -> None:
    """Delete what a test on real (committed) sessions left: the citizen, the app, platform keys
    made since `kids` were listed, and token rate-limit counters (they would count against later
    tests' windows)."""
    session.execute(delete(PlatformKey).where(PlatformKey.kid.not_in(kids)))
    session.execute(delete(Citizen).where(Citizen.id == citizen_id))
    session.execute(delete(AgencyApp).where(AgencyApp.client_id == client_id))
    session.execute(delete(RateLimitCounter).where(RateLimitCounter.key.startswith("oauth_token:")))
    session.commit()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def sign_in(client, citizen_id: str) -> None:
    """What a successful sign-in leaves: a server-side session and its token in the cookie (the
    sign-in page is tested on its own)."""
    from flask import session as flask_session

    from app.identity import start_citizen_session

    with client.application.test_request_context():
        start_citizen_session(citizen_id, now=_now())
        signed_in = dict(flask_session)
    with client.session_transaction() as session:
        session.clear()
        session.update(signed_in)


def authorize_params(verifier: str, **overrides: Any) -> dict[str, Any]:
    params = {
        "client_id": CLIENT_ID,
        "scope": " ".join(REQUIRED + OPTIONAL),
        "purpose_id": PURPOSE,
        "code_challenge": pkce_challenge(verifier),
        "code_challenge_method": "S256",
        "redirect_uri": REDIRECT_URI,
        "state": "st-" + secrets.token_hex(4),
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def authorize(client, verifier: str, **overrides: Any):
    return client.get("/com/v4/authorize?" + urlencode(authorize_params(verifier, **overrides)))


def consent_path(response) -> str:
    assert response.status_code == 303, response.text
    location = response.headers["Location"]
    assert location.startswith("/consent/"), location
    return location


def decide(client, path: str, *, decision: str = "approve", attributes=None, remember="request", csrf=True):
    page = client.get(path)
    data: list[tuple[str, str]] = [("decision", decision), ("remember", remember)]
    data += [("attributes", name) for name in (OPTIONAL if attributes is None else attributes)]
    if csrf:
        match = CSRF_INPUT.search(page.text)
        assert match, page.text
        data.append(("csrf_token", match.group(1)))
    return client.post(path, data=urlencode(data), content_type="application/x-www-form-urlencoded")


def redirect_params(response) -> dict[str, str]:
    assert response.status_code == 303, response.text
    location = response.headers["Location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def get_code(client, citizen_id: str, verifier: str, *, attributes=None, **overrides: Any) -> str:
    sign_in(client, citizen_id)
    path = consent_path(authorize(client, verifier, **overrides))
    params = redirect_params(decide(client, path, attributes=attributes))
    assert "code" in params, params
    return params["code"]


def client_assertion(keys: AgencyKeys, *, dpop_key: ECKey | None = None, **claims: Any) -> str:
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": CLIENT_ID,
        "sub": CLIENT_ID,
        "aud": TOKEN_URL,
        "jti": secrets.token_urlsafe(20),
        "iat": now,
        "exp": now + 300,
    }
    if dpop_key is not None:
        body["cnf"] = {"jkt": dpop_key.thumbprint()}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode({"alg": "ES256", "typ": "JWT", "kid": keys.signing.kid}, body, keys.signing)


def token_form(
    keys: AgencyKeys, code: str, verifier: str, dpop_key: ECKey, /, **overrides: Any
) -> dict[str, str]:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": CLIENT_ID,
        "code_verifier": verifier,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion(keys, dpop_key=dpop_key),
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def post_token(client, form: dict[str, str], *, dpop: str | None):
    headers = {"DPoP": dpop} if dpop is not None else {}
    return client.post("/com/v4/token", data=form, headers=headers)


def get_token(client, keys: AgencyKeys, code: str, verifier: str, dpop_key: ECKey) -> dict[str, Any]:
    response = post_token(
        client,
        token_form(keys, code, verifier, dpop_key),
        dpop=dpop_proof(dpop_key, method="POST", url=TOKEN_URL),
    )
    assert response.status_code == 200, response.text
    return response.get_json()


def token_claims(access_token: str) -> dict[str, Any]:
    return json.loads(jws.extract_compact(access_token.encode()).payload)


def jws_header(compact: str) -> dict[str, Any]:
    return dict(jws.extract_compact(compact.encode()).headers())


def inner_jws_kid(response, keys: AgencyKeys) -> str:
    """The kid of the JWS inside a person response's JWE."""
    decrypted = jwe.decrypt_compact(response.get_data(as_text=True), keys.encryption)
    return jws_header(decrypted.plaintext.decode())["kid"]


def token_sub(access_token: str) -> str:
    return token_claims(access_token)["sub"]


def get_person(
    client,
    access_token: str,
    dpop_key: ECKey,
    *,
    scope: str | None = None,
    sub: str | None = None,
    proof=None,
):
    sub = sub or token_sub(access_token)
    url = f"{PERSON_URL}/{sub}"
    headers = {
        "Authorization": f"DPoP {access_token}",
        "DPoP": proof
        if proof is not None
        else dpop_proof(dpop_key, method="GET", url=url, access_token=access_token),
    }
    query = "?" + urlencode({"scope": scope}) if scope is not None else ""
    return client.get(f"/com/v4/person/{sub}{query}", headers=headers)


def open_person(
    response, keys: AgencyKeys, platform_jwks: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Decrypt with the app's key, verify with our published keys: (person, JWE header)."""
    assert response.status_code == 200, response.text
    decrypted = jwe.decrypt_compact(response.get_data(as_text=True), keys.encryption)
    signed = jws.deserialize_compact(
        decrypted.plaintext, KeySet.import_key_set(platform_jwks), algorithms=["ES256"]
    )
    return json.loads(signed.payload), dict(decrypted.protected)
