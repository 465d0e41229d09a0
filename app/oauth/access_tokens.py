"""Access tokens: ES256 JWTs signed with the platform key, bound to the client's DPoP key by
`cnf.jkt` (RFC 9449 §6), carrying the spec's claims (MyInfo v4 §4.5).

The signature proves we issued it; whether it still works (revoked, consent withdrawn) is the
`issued_tokens` row's business, checked on every use.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

from consent.grants import RedeemedCode
from consent.token_grants import InvalidToken

from . import fast_jose
from .dpop import numeric_date
from .jwks import extract_es256, verify_es256
from .platform import PlatformKeys

MAX_TOKEN_LENGTH = 8192


def issue_access_token(
    keys: PlatformKeys,
    *,
    grant: RedeemedCode,
    jkt: str,
    issuer: str,
    audience: str,
    now: dt.datetime,
    ttl: dt.timedelta,
    scope: str | None = None,
    typ: str = "JWT",
) -> tuple[str, dict[str, Any]]:
    """Sign a token for a redeemed grant; returns (compact JWS, claims). `scope` defaults to the
    approved attributes; a profile whose scopes say more (v5: `openid`, sub-attributes such as
    `cpfbalances.oa`) passes its own. `typ` is the JWS header's (v5: `at+jwt`, RFC 9068)."""
    iat = int(now.timestamp())
    claims: dict[str, Any] = {
        "sub": grant.citizen_id,
        "scope": scope if scope is not None else " ".join(grant.scope),
        "client_id": grant.client_id,
        "purpose_id": grant.purpose_id,
        "cnf": {"jkt": jkt},
        "jti": secrets.token_urlsafe(24),
        "iss": issuer,
        "aud": audience,
        "iat": iat,
        "exp": iat + int(ttl.total_seconds()),
    }
    if grant.subentity:
        claims["subentity"] = grant.subentity
    key = keys.signing_key()
    header = {"alg": "ES256", "kid": key.kid, "typ": typ}
    payload = json.dumps(claims, separators=(",", ":")).encode("utf-8")
    # On `cryptography` (app.oauth.fast_jose: joserfc's bytes, checked by its tests).
    return fast_jose.sign_es256(header, payload, key).decode("ascii"), claims


def verify_access_token(
    keys: PlatformKeys, token: str, *, issuer: str, audience: str, now: dt.datetime
) -> dict[str, Any]:
    """Claims of a token we signed with a key still published, for this audience, unexpired and
    DPoP-bound. Raises InvalidToken for anything else."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("access token is missing or too long")
    try:
        obj, claims = extract_es256(token)
    except ValueError:
        raise InvalidToken("access token is not a JWT we issued") from None
    kid = obj.headers().get("kid")
    key = keys.public_key(kid) if isinstance(kid, str) and len(kid) <= 100 else None
    if key is None or not verify_es256(obj, key):
        raise InvalidToken("access token signature is invalid or its key was withdrawn")
    if claims.get("iss") != issuer or claims.get("aud") != audience:
        raise InvalidToken("access token was not issued for this resource")
    exp = numeric_date(claims.get("exp"))
    if exp is None or exp <= now.timestamp():
        raise InvalidToken("access token has expired")
    cnf = claims.get("cnf")
    if not isinstance(cnf, dict) or not isinstance(cnf.get("jkt"), str):
        raise InvalidToken("access token is not DPoP-bound")
    if not all(isinstance(claims.get(name), str) for name in ("sub", "jti", "scope", "client_id")):
        raise InvalidToken("access token lacks required claims")
    return claims
