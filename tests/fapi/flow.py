"""Driving the Myinfo v5 (FAPI 2.0) flow through the Flask test client: PAR → authorization →
consent → token → userinfo, each step overridable so a test can break exactly one rule. The app,
citizen, sign-in and consent helpers are the v4 flow's (tests/oauth/flow.py): one engine."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from joserfc import jwe, jws, jwt
from joserfc.jwk import ECKey, KeySet

from consent.grants import pkce_challenge
from profile_store.assembly import load_fields
from tests.oauth import flow as v4
from tests.oauth.flow import CLIENT_ID, REDIRECT_URI, AgencyKeys

BASE = "http://localhost"
ISSUER = f"{BASE}/fapi"
PAR_URL = f"{ISSUER}/par"
TOKEN_URL = f"{ISSUER}/token"
USERINFO_URL = f"{ISSUER}/userinfo"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SCOPE = "openid uinfin name regadd cpfbalances.oa"
ALG_OF = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
JWE_ALGORITHMS = ["ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW", "A256GCM", "A256CBC-HS512"]


def citizen_with(db_session, runtime, *attributes: str):
    """A citizen (with agency data) whose records hold all of `attributes`: simulated people
    differ (not everyone has pension balances or a driving licence), and a test of narrowing
    needs something to narrow."""
    for _ in range(40):
        citizen = v4.setup_citizen(db_session, runtime)
        views = load_fields(
            db_session,
            vault=runtime.vault,
            catalogue=runtime.catalogue,
            citizen=citizen,
            attributes=attributes,
        )
        if all(not views[name].unavailable and views[name].item for name in attributes):
            return citizen
    raise AssertionError(f"no simulated citizen holds {attributes}")


def setup_app(db_session, runtime, keys: AgencyKeys, **overrides: Any):
    """The v4 test app, also registered for Myinfo v5 (one purpose, as v5 requires)."""
    return v4.setup_app(db_session, runtime, keys, profiles=["myinfo-v4", "myinfo-v5"], **overrides)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def assertion(
    signing: ECKey, *, client_id: str = CLIENT_ID, header: dict | None = None, **claims: Any
) -> str:
    """A FAPI client assertion as oauth4webapi signs it: header {alg, kid}, no typ; aud the
    issuer; 60 s lifetime. A claim given as None is left out."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": ISSUER,
        "jti": secrets.token_urlsafe(20),
        "iat": now,
        "exp": now + 60,
    }
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    alg = ALG_OF.get(signing.curve_name, "ES256") if isinstance(signing, ECKey) else "RS256"
    protected = {"alg": alg, "kid": signing.kid, **(header or {})}
    protected = {k: v for k, v in protected.items() if v is not None}
    return jwt.encode(protected, body, signing, algorithms=[protected["alg"]])


def dpop_proof(key: ECKey, *, method: str, url: str, access_token: str | None = None, **claims: Any) -> str:
    """A DPoP proof as openid-client builds it: no exp, the key's curve decides the alg."""
    payload: dict[str, Any] = {
        "htm": method,
        "htu": url,
        "jti": secrets.token_urlsafe(24),
        "iat": int(time.time()),
    }
    if access_token is not None:
        payload["ath"] = b64(hashlib.sha256(access_token.encode("ascii")).digest())
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    alg = ALG_OF[key.curve_name]
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False)}
    return jwt.encode(header, payload, key, algorithms=[alg])


def par_form(keys: AgencyKeys, verifier: str, **overrides: Any) -> dict[str, str]:
    form = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "scope": SCOPE,
        "redirect_uri": REDIRECT_URI,
        "state": secrets.token_urlsafe(24),
        "nonce": secrets.token_urlsafe(24),
        "code_challenge": pkce_challenge(verifier),
        "code_challenge_method": "S256",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion(keys.signing),
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def post_par(client, form: dict[str, str] | str, *, dpop: str | None, content_type: str | None = None):
    headers = {"DPoP": dpop} if dpop else {}
    if isinstance(form, str):
        return client.post(
            "/fapi/par",
            data=form,
            headers=headers,
            content_type=content_type or "application/x-www-form-urlencoded",
        )
    return client.post("/fapi/par", data=form, headers=headers)


def push(client, keys: AgencyKeys, verifier: str, dpop_key: ECKey, **overrides: Any) -> str:
    response = post_par(
        client, par_form(keys, verifier, **overrides), dpop=dpop_proof(dpop_key, method="POST", url=PAR_URL)
    )
    assert response.status_code == 201, response.text
    return response.get_json()["request_uri"]


def authorize(client, request_uri: str, *, client_id: str = CLIENT_ID, **extra: str):
    return client.get(
        "/fapi/auth?" + urlencode({"client_id": client_id, "request_uri": request_uri, **extra})
    )


def get_code(
    client,
    citizen_id: str,
    keys: AgencyKeys,
    verifier: str,
    dpop_key: ECKey,
    *,
    attributes=None,
    **overrides: Any,
) -> dict[str, str]:
    """Push, sign in, approve (the optional `attributes`, by default all), and return the
    redirect's parameters (code, state, iss)."""
    v4.sign_in(client, citizen_id)
    request_uri = push(client, keys, verifier, dpop_key, **overrides)
    path = v4.consent_path(authorize(client, request_uri))
    chosen = ["regadd", "cpfbalances"] if attributes is None else attributes  # SCOPE's optional ones
    params = v4.redirect_params(v4.decide(client, path, attributes=chosen))
    assert "code" in params, params
    return params


def token_form(keys: AgencyKeys, code: str, verifier: str, /, **overrides: Any) -> dict[str, str]:
    """As the Singpass sample and the Nimbus demo send it: no client_id."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion(keys.signing),
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def post_token(client, form: dict[str, str], *, dpop: str | None):
    headers = {"DPoP": dpop} if dpop else {}
    return client.post("/fapi/token", data=form, headers=headers)


def get_tokens(client, keys: AgencyKeys, code: str, verifier: str, dpop_key: ECKey) -> dict[str, Any]:
    response = post_token(
        client, token_form(keys, code, verifier), dpop=dpop_proof(dpop_key, method="POST", url=TOKEN_URL)
    )
    assert response.status_code == 200, response.text
    return response.get_json()


def userinfo(client, access_token: str, dpop_key: ECKey, *, proof: str | None = None, scheme: str = "DPoP"):
    headers = {
        "Authorization": f"{scheme} {access_token}",
        "DPoP": proof
        if proof is not None
        else dpop_proof(dpop_key, method="GET", url=USERINFO_URL, access_token=access_token),
    }
    return client.get("/fapi/userinfo", headers={k: v for k, v in headers.items() if v})


def open_nested(
    compact: str, keys: AgencyKeys, platform_jwks: dict[str, Any], *, enc_key: ECKey | None = None
):
    """Decrypt a JWE with the app's key, verify the JWS inside with our published keys: (claims,
    JWE header, JWS header)."""
    decrypted = jwe.decrypt_compact(compact, enc_key or keys.encryption, algorithms=JWE_ALGORITHMS)
    signed = jws.deserialize_compact(
        decrypted.plaintext, KeySet.import_key_set(platform_jwks), algorithms=["ES256"]
    )
    return json.loads(signed.payload), dict(decrypted.protected), dict(signed.protected)


def verifier() -> str:
    return secrets.token_urlsafe(48)
