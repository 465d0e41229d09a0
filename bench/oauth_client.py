"""The OAuth API benchmark's client side (bench/oauth_api.py, bench/fapi_api.py): token and
resource requests signed before the clock starts (DPoP proofs, private_key_jwt assertions), and
reading what came back (tokens, sealed responses)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwe, jws, jwt
from joserfc.jwk import ECKey, KeySet

from .oauth_phases import Call, Outcome
from .oauth_seed import Citizenry, Code
from .oauth_server import Server
from .oauth_settings import ASSERTION_TYPE, DPOP_WINDOW_S, REDIRECT_URI


def token_requests(
    token_url: str,
    people: Citizenry,
    codes: list[Code],
    dpop_keys: Sequence[ECKey],
    assertion: Callable[[ECKey], str],
) -> list[Call]:
    """One token request per code, by the i-th DPoP key (cycling), `assertion(key)` its client
    assertion; everything signed now."""
    calls = []
    for i, code in enumerate(codes):
        key = dpop_keys[i % len(dpop_keys)]
        form = {
            "grant_type": "authorization_code",
            "code": code.code,
            "redirect_uri": REDIRECT_URI,
            "client_id": people.client_id,
            "code_verifier": code.verifier,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(key),
        }
        headers = {"DPoP": dpop_proof(key, method="POST", url=token_url), "Accept": "application/json"}
        calls.append(Call("POST", token_url, headers, form))
    return calls


@dataclass(frozen=True)
class Token:
    access_token: str
    sub: str
    key: ECKey


def issued_tokens(outcome: Outcome, dpop_keys: Sequence[ECKey], count: int) -> list[Token]:
    """The access tokens of the successful token calls, each with the DPoP key its call used."""
    tokens = []
    for i in range(count):
        body = outcome.responses.get(i)
        if body is None:
            continue
        access_token = json.loads(body)["access_token"]
        tokens.append(Token(access_token, jwt_claims(access_token)["sub"], dpop_keys[i % len(dpop_keys)]))
    if not tokens:
        raise RuntimeError(f"no token call succeeded: {outcome.statuses} {outcome.bodies[:1]}")
    return tokens


def first_response(outcome: Outcome) -> bytes:
    """The body of the first call kept, or why there is none."""
    if not outcome.responses:
        raise RuntimeError(f"no call succeeded: {outcome.statuses} {outcome.bodies[:1]}")
    return outcome.responses[min(outcome.responses)]


def jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a compact JWS, unverified (the client reading its own token's `sub`)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def resource_calls(
    tokens: list[Token],
    count: int,
    url_of: Callable[[Token], str],
    *,
    query: str = "",
    headers: dict[str, str] | None = None,
) -> list[Call]:
    """`count` GETs round-robin over `tokens`, each with a fresh DPoP proof (`ath`, unique `jti`)
    for `url_of(token)`, signed now."""
    calls = []
    for i in range(count):
        token = tokens[i % len(tokens)]
        url = url_of(token)
        proof = dpop_proof(token.key, method="GET", url=url, access_token=token.access_token)
        sent = {"Authorization": f"DPoP {token.access_token}", "DPoP": proof, **(headers or {})}
        calls.append(Call("GET", url + query, sent))
    return calls


def platform_jwks(server: Server, path: str = "/.well-known/keys.json") -> KeySet:
    return KeySet.import_key_set(httpx.get(f"{server.base_url}{path}", timeout=10).json())


def open_sealed(
    body: bytes | str, people: Citizenry, platform: KeySet, enc: str = "A256GCM"
) -> dict[str, Any]:
    """Decrypt (the app's key) and verify (ES256, the platform's published JWKS) a JWS-in-JWE
    response; its payload."""
    decrypted = jwe.decrypt_compact(body, people.encryption, algorithms=["ECDH-ES+A256KW", enc])
    signed = jws.deserialize_compact(decrypted.plaintext, platform, algorithms=["ES256"])
    return json.loads(signed.payload)


def dpop_proof(key: ECKey, *, method: str, url: str, access_token: str | None = None) -> str:
    """An RFC 9449 proof as the MyInfo connector builds it (as examples/myinfo_v4_client.py)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "htu": url,
        "htm": method,
        "jti": secrets.token_urlsafe(30),
        "iat": now,
        "exp": now + DPOP_WINDOW_S,
    }
    if access_token is not None:
        digest = hashlib.sha256(access_token.encode("ascii")).digest()
        claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    return jwt.encode(header, claims, key, algorithms=["ES256"])


def client_assertion(
    people: Citizenry, *, audience: str, lifetime_s: int = 300, cnf_key: ECKey | None = None
) -> str:
    """A private_key_jwt assertion (RFC 7523) by the app's signing key, with a fresh `jti`; v4's
    carries `cnf.jkt` of the DPoP key, as the MyInfo connectors send it."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": people.client_id,
        "sub": people.client_id,
        "aud": audience,
        "jti": secrets.token_urlsafe(30),
        "iat": now,
        "exp": now + lifetime_s,
    }
    if cnf_key is not None:
        claims["cnf"] = {"jkt": cnf_key.thumbprint()}
    signing = people.signing
    return jwt.encode({"alg": "ES256", "typ": "JWT", "kid": signing.kid}, claims, signing)
