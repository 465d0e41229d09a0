"""Client authentication with private_key_jwt: RFC 7523 (JWT profile for OAuth 2.0 client
authentication), as the MyInfo v4 connector sends it (spec §4.2).

The client signs a short-lived assertion with its ES256 key: header {"typ": "JWT", "alg": "ES256",
"kid": configured kid or, by default, the key's RFC 7638 thumbprint}; claims iss = sub =
client_id, aud = our token URL, iat, exp = iat + 300, a one-time jti and cnf.jkt (the DPoP key,
checked by the caller). Every failure raises ClientAuthError (OAuth `invalid_client`), whose
description says which check failed and, where it helps the integrator, what was expected and what
came (public values only: client ids, URLs, kids, times; never a key or a signature).

Myinfo v5 (FAPI 2.0, v5 spec §3.2) narrows and widens this per profile, through the keyword
arguments: ES256, ES384 or ES512; `aud` the issuer (or the receiving endpoint's URL) as a string;
a lifetime of at most 120 s; no `typ` required.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey
from sqlalchemy.orm import Session

from app.oauth.dpop import MAX_JTI_LENGTH, normalise_url, numeric_date, thumbprint, usable_jti
from app.oauth.jwks import ES_ALGORITHMS, JwksError, JwksResolver, extract_jws, verify_es
from app.oauth.replay import ReplayCache
from core.errors import Unauthorized

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_LENGTH = 8192


class ClientAuthError(Unauthorized):
    """The client assertion is malformed, unsigned by the client's key, stale or replayed."""

    code = "invalid_client"
    error = "invalid_client"


def verify_client_assertion(
    assertion: str,
    *,
    client_id: str,
    audience: str | Sequence[str],
    jwks: JwksResolver,
    now: dt.datetime,
    replay: ReplayCache,
    session: Session | None = None,
    max_lifetime_s: int = 300,
    leeway_s: int = 5,
    algorithms: tuple[str, ...] = ("ES256",),
    audience_as_string: bool = False,
) -> dict[str, Any]:
    """Authenticate `client_id` by its signed assertion; return the assertion's claims.

    `audience` is our canonical token URL, or several URLs any one of which the assertion may
    name; they are compared after URL normalisation. With `audience_as_string` an `aud` array is
    refused (FAPI 2.0). `algorithms` are the ECDSA algorithms the profile accepts. On success the
    jti is recorded in `replay` (namespace "client_assertion:<client_id>") until the assertion
    expires: at once, or with `session` in its transaction, which the caller then commits
    whatever becomes of the request. The caller still checks `cnf.jkt` (v4) or `code` (v5)
    itself. Raises ClientAuthError.
    """
    if not isinstance(assertion, str) or not assertion:
        raise ClientAuthError("client_assertion is missing")
    if len(assertion) > MAX_ASSERTION_LENGTH:
        raise ClientAuthError(f"client_assertion is too long: max {MAX_ASSERTION_LENGTH} characters")
    try:
        obj, claims = extract_jws(assertion, algorithms=algorithms)
    except ValueError as exc:
        raise ClientAuthError(f"client_assertion is not an {' or '.join(algorithms)} JWS: {exc}") from None
    _verify_signature(obj, jwks)
    audiences = (audience,) if isinstance(audience, str) else tuple(audience)
    if audience_as_string and not isinstance(claims.get("aud"), str):
        raise ClientAuthError("client_assertion aud must be a single string")
    _check_identity(claims, client_id=client_id, audiences=audiences)
    exp = _check_times(claims, now=now, max_lifetime_s=max_lifetime_s, leeway_s=leeway_s)
    expires_at = dt.datetime.fromtimestamp(math.ceil(exp) + leeway_s, dt.UTC)
    namespace = f"client_assertion:{client_id}"
    if session is None:
        first = replay.first_use(namespace, claims["jti"], expires_at)
    else:
        first = replay.first_use_in(session, namespace, claims["jti"], expires_at)
    if not first:
        raise ClientAuthError("client_assertion jti was already used: sign a new jti for every request")
    return claims


def claimed_client_id(assertion: Any) -> str | None:
    """The `iss` an assertion claims, read WITHOUT verifying it: only to find whose keys to verify
    it with, when the request names no client_id (v5 token requests may omit it). None if unreadable."""
    try:
        _obj, claims = extract_jws(assertion, algorithms=ES_ALGORITHMS)
    except ValueError:
        return None
    iss = claims.get("iss")
    return iss if isinstance(iss, str) and 0 < len(iss) <= 100 else None


def _verify_signature(obj: jws.CompactSignature, jwks: JwksResolver) -> None:
    """Find the client's key for the header kid (refetching the JWKS once on a miss) and verify."""
    kid = obj.headers().get("kid")
    if kid is not None and not isinstance(kid, str):
        raise ClientAuthError("client_assertion kid must be a string")
    alg = obj.headers()["alg"]  # one of the accepted ones: extract_jws checked it
    try:
        candidates = _candidates(jwks.signing_keys((alg,)), kid)
        if not candidates and jwks.refresh():
            candidates = _candidates(jwks.signing_keys((alg,)), kid)
    except JwksError as exc:
        raise ClientAuthError(f"client keys unavailable: {exc.message}") from None
    if not candidates:
        if kid is None:
            raise ClientAuthError(f"no signing key in the client's JWKS is usable for {alg}")
        raise ClientAuthError(
            f"no signing key in the client's JWKS has kid {shown(kid)} (nor that RFC 7638 "
            f"thumbprint) for {alg}: publish the key, or send its kid"
        )
    if not any(verify_es(obj, key) for key in candidates):
        signer = f"the client's key {shown(kid)}" if kid is not None else "any of the client's signing keys"
        raise ClientAuthError(f"client_assertion signature is invalid: it does not verify with {signer}")


def _candidates(keys: list[ECKey], kid: str | None) -> list[ECKey]:
    """Keys with that kid; failing that, keys whose RFC 7638 thumbprint is the kid (the MyInfo
    connector's default kid). Without a kid, every signing key (at most 64) is a candidate."""
    if kid is None:
        return keys
    by_kid = [key for key in keys if key.kid == kid]
    return by_kid or [key for key in keys if thumbprint(key.dict_value) == kid]


def _check_identity(claims: dict[str, Any], *, client_id: str, audiences: tuple[str, ...]) -> None:
    """iss and sub name the client, aud names one of our audiences, jti is usable as a cache key."""
    iss, sub = claims.get("iss"), claims.get("sub")
    if iss is None or sub is None:
        missing = " and ".join(name for name in ("iss", "sub") if claims.get(name) is None)
        raise ClientAuthError(f"client_assertion {missing} must be the client_id {shown(client_id)}")
    if iss != sub:
        raise ClientAuthError(
            f"client_assertion iss and sub must both be the client_id (RFC 7523 §3): "
            f"iss is {shown(iss)}, sub is {shown(sub)}"
        )
    if iss != client_id:
        raise ClientAuthError(
            f"client_assertion iss and sub are {shown(iss)}, not the client_id {shown(client_id)}"
        )
    aud = claims.get("aud")
    if not any(_audience_ok(aud, audience) for audience in audiences):
        raise ClientAuthError(f"client_assertion aud must be {' or '.join(audiences)}, got {shown(aud)}")
    jti = claims.get("jti")
    if not usable_jti(jti):
        raise ClientAuthError(
            f"client_assertion jti must be a string of 1 to {MAX_JTI_LENGTH} characters, no NUL"
        )


def _check_times(claims: dict[str, Any], *, now: dt.datetime, max_lifetime_s: int, leeway_s: int) -> float:
    """exp ahead, iat (and nbf, if sent) not ahead, a short lifetime; return exp (epoch seconds)."""
    iat, exp, nbf = (numeric_date(claims.get(name)) for name in ("iat", "exp", "nbf"))
    current = now.timestamp()
    if exp is None or iat is None or ("nbf" in claims and nbf is None):
        raise ClientAuthError("client_assertion needs numeric iat and exp (and nbf, if sent)")
    if exp + leeway_s <= current:
        raise ClientAuthError(f"client_assertion has expired: exp was {_seconds(current - exp)} s ago")
    if iat > current + leeway_s:
        ahead = _seconds(iat - current)
        raise ClientAuthError(f"client_assertion is not valid yet: iat is {ahead} s ahead of our clock")
    if nbf is not None and nbf > current + leeway_s:
        ahead = _seconds(nbf - current)
        raise ClientAuthError(f"client_assertion is not valid yet: nbf is {ahead} s ahead of our clock")
    # Bounds how long the replay cache must remember the jti, and how long a leak stays usable.
    if exp <= iat:
        raise ClientAuthError("client_assertion lifetime must be positive: exp must be after iat")
    if exp - iat > max_lifetime_s:
        raise ClientAuthError(
            f"client_assertion lifetime is too long: max {max_lifetime_s} s, got {_seconds(exp - iat)} s"
        )
    return exp


def _seconds(value: float) -> int | float:
    """Whole seconds as an int, a fraction kept (so "got 300.5 s" does not read "got 300 s")."""
    return int(value) if float(value).is_integer() else round(value, 3)


def shown(value: Any, limit: int = 100) -> str:
    """A claim or header value as an error description may quote it: JSON, at most `limit`
    characters. Only ever given public values (client ids, URLs, kids)."""
    text = json.dumps(value, ensure_ascii=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _audience_ok(claimed: Any, audience: str) -> bool:
    want = normalise_url(audience)
    values = claimed if isinstance(claimed, list) else [claimed]
    for value in values:
        try:
            if isinstance(value, str) and normalise_url(value) == want:
                return True
        except ValueError:
            continue
    return False
