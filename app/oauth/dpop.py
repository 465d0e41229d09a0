"""DPoP proof validation: RFC 9449 (OAuth 2.0 Demonstrating Proof of Possession).

Written for what MyInfo v4 clients send (spec §4.3, §5.1): a fresh ES256 proof per request,
header {"typ": "dpop+jwt", "alg": "ES256", "jwk": {public P-256 key, with extra kid/use/alg}},
claims jti, htm, htu, iat, exp (= iat + 120) and, at the resource server, ath. The key's RFC 7638
thumbprint (jkt) is what access tokens are bound to (`cnf.jkt`).

Myinfo v5 (FAPI 2.0) clients may also sign with ES384 or ES512 and usually send no `exp`
(v5 spec §9): the caller passes the algorithms and clock leeway of its profile.

Authlib has no DPoP support, so this is a small module over joserfc. Every failure raises
DPoPError; the replay cache is consulted last, so a proof that fails another check does not burn
its jti. A resource endpoint records the jti later still, with its disclosure
(app.oauth.resource.PresentedProof).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from joserfc.jwk import ECKey
from joserfc.jwk import thumbprint as rfc7638_thumbprint

from app.oauth.jwks import CURVE_OF, extract_jws, import_public_ec, verify_es
from app.oauth.replay import ReplayCache
from core.errors import Unauthorized

MAX_PROOF_LENGTH = 8192
MAX_JTI_LENGTH = 200
DEFAULT_PORTS = {"http": 80, "https": 443}
DPOP_NAMESPACE = "dpop"  # of the replay cache
PROOF_KEY_CACHE = 1024  # proof keys kept imported (with their thumbprints), least recently used out
REPLAYED = "DPoP proof jti was already used"
# RFC 7638 §3.2: the required members per key type, and nothing else, form the thumbprint input.
THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}


class DPoPError(Unauthorized):
    """The DPoP proof is missing, malformed, stale, replayed or bound to another key/token."""

    code = "invalid_dpop_proof"
    error = "invalid_dpop_proof"


def thumbprint(jwk_dict: Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint (base64url) from the key type's required members only.

    Extra members (MyInfo's client adds kid, use and alg) do not change it. ValueError for an
    unknown key type or a missing member.
    """
    members = THUMBPRINT_MEMBERS.get(str(jwk_dict.get("kty")))
    if members is None or not all(isinstance(jwk_dict.get(name), str) for name in members):
        raise ValueError("cannot compute a thumbprint for this JWK")
    return rfc7638_thumbprint({name: jwk_dict[name] for name in members})


def normalise_url(url: str) -> str:
    """scheme://host[:port]/path for comparing htu and aud (spec §7, RFC 9449 §4.3).

    Lower-cases scheme and host, drops a default port, userinfo, query and fragment; an empty path
    becomes "/". The path is compared as sent (no percent-decoding). ValueError for anything that
    is not an absolute http(s) URL.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in DEFAULT_PORTS or not host:
        raise ValueError("not an absolute http(s) URL")
    port = parts.port  # ValueError for a malformed port
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{parts.path or '/'}"


def usable_jti(value: Any) -> bool:
    """A jti the replay cache can key on: a string of 1 to MAX_JTI_LENGTH characters, without NUL
    (which PostgreSQL cannot store)."""
    return isinstance(value, str) and 0 < len(value) <= MAX_JTI_LENGTH and "\x00" not in value


def access_token_hash(access_token: str) -> str:
    """The `ath` value for an access token: base64url(SHA-256(ASCII token)), unpadded."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class CheckedProof:
    """A proof that passed every check but the replay check: its key's thumbprint, and the jti
    to record until `expires_at` (when the proof could no longer pass the iat window)."""

    jkt: str
    jti: str
    expires_at: dt.datetime


def check_dpop_proof(
    proof: str,
    *,
    htm: str,
    htu: str,
    now: dt.datetime,
    access_token: str | None = None,
    expected_jkt: str | None = None,
    max_age_s: int = 120,
    leeway_s: int = 5,
    algorithms: tuple[str, ...] = ("ES256",),
) -> CheckedProof:
    """Check one DPoP proof for a request (`htm` method, `htu` our canonical URL), all but its
    replay: the caller records the jti (verify_dpop_proof does so at once).

    With `access_token` the proof must carry the matching `ath`; with `expected_jkt` (the token's
    `cnf.jkt`) the proof key must be that key. `algorithms` are the ECDSA algorithms the profile
    accepts. Raises DPoPError.
    """
    claims, jkt = _verified_proof(proof, algorithms)
    iat = _check_claims(claims, htm=htm, htu=htu, now=now, max_age_s=max_age_s, leeway_s=leeway_s)
    if access_token is not None:
        ath = claims.get("ath")
        if not isinstance(ath, str) or not hmac.compare_digest(ath, access_token_hash(access_token)):
            raise DPoPError("DPoP proof ath does not match the access token")
    if expected_jkt is not None and not hmac.compare_digest(jkt, expected_jkt):
        raise DPoPError("DPoP proof key is not the key the access token is bound to")
    expires_at = dt.datetime.fromtimestamp(iat + max_age_s + leeway_s, dt.UTC)
    return CheckedProof(jkt, claims["jti"], expires_at)


def verify_dpop_proof(proof: str, *, replay: ReplayCache, **checks: Any) -> str:
    """check_dpop_proof, then record the jti in `replay` (namespace "dpop"); return the proof
    key's thumbprint. Raises DPoPError, also for a jti already used."""
    checked = check_dpop_proof(proof, **checks)
    if not replay.first_use(DPOP_NAMESPACE, checked.jti, checked.expires_at):
        raise DPoPError(REPLAYED)
    return checked.jkt


def _verified_proof(proof: str, algorithms: tuple[str, ...]) -> tuple[dict[str, Any], str]:
    """Claims and key thumbprint of a proof whose signature verifies with its own jwk."""
    if not isinstance(proof, str) or not proof or len(proof) > MAX_PROOF_LENGTH:
        raise DPoPError("DPoP proof is missing or too long")
    try:
        obj, claims = extract_jws(proof, algorithms=algorithms)
    except ValueError as exc:
        raise DPoPError(f"DPoP proof is not an {'/'.join(algorithms)} JWS: {exc}") from None
    header = obj.headers()
    if header.get("typ") != "dpop+jwt":
        raise DPoPError("DPoP proof typ must be dpop+jwt")
    jwk = header.get("jwk")
    try:
        # The proof key is only ever used for this signature: its use/alg members are noise.
        # The jwk must be on the curve its alg signs with (RFC 7518 §3.4).
        key, jkt = _proof_key(jwk, CURVE_OF[header["alg"]])
    except ValueError as exc:
        raise DPoPError(f"DPoP proof jwk is unusable: {exc}") from None
    if not verify_es(obj, key):
        raise DPoPError("DPoP proof signature is invalid")
    return claims, jkt


def _proof_key(jwk: Any, curve: str) -> tuple[ECKey, str]:
    """The public key of a proof's `jwk` on `curve` and its thumbprint. A client signs every
    proof with the same key, so the import (which checks the point is on the curve) and the
    thumbprint are kept for the last PROOF_KEY_CACHE keys seen; a jwk that fails any check is
    never cached. ValueError for an unusable jwk."""
    if (
        isinstance(jwk, Mapping)
        and "d" not in jwk
        and jwk.get("kty") == "EC"
        and jwk.get("crv") == curve
        and isinstance(x := jwk.get("x"), str)
        and isinstance(y := jwk.get("y"), str)
    ):
        return _imported_key(curve, x, y)
    key = import_public_ec(jwk, metadata=False, curves=(curve,))  # raises ValueError, saying why
    return key, thumbprint(key.dict_value)


@functools.lru_cache(maxsize=PROOF_KEY_CACHE)
def _imported_key(curve: str, x: str, y: str) -> tuple[ECKey, str]:
    key = import_public_ec({"kty": "EC", "crv": curve, "x": x, "y": y}, metadata=False, curves=(curve,))
    return key, thumbprint(key.dict_value)


def _check_claims(
    claims: dict[str, Any], *, htm: str, htu: str, now: dt.datetime, max_age_s: int, leeway_s: int
) -> float:
    """Validate jti, htm, htu, iat and exp; return iat (seconds since the epoch)."""
    jti = claims.get("jti")
    if not usable_jti(jti):
        raise DPoPError(f"DPoP proof jti must be a string of 1 to {MAX_JTI_LENGTH} characters, no NUL")
    if claims.get("htm") != htm:
        raise DPoPError("DPoP proof htm does not match the request method")
    if not _same_url(claims.get("htu"), htu):
        raise DPoPError("DPoP proof htu does not match the request URL")
    iat, exp, current = numeric_date(claims.get("iat")), numeric_date(claims.get("exp")), now.timestamp()
    if iat is None:
        raise DPoPError("DPoP proof iat is missing")
    if iat > current + leeway_s:
        raise DPoPError("DPoP proof iat is in the future")
    if iat < current - max_age_s - leeway_s:
        raise DPoPError("DPoP proof is too old")
    # exp is optional in RFC 9449; the MyInfo connector always sends iat + 120.
    if "exp" in claims and (exp is None or exp + leeway_s < current or exp > iat + max_age_s):
        raise DPoPError("DPoP proof exp is invalid, past, or beyond the allowed proof lifetime")
    return iat


def _same_url(claimed: Any, expected: str) -> bool:
    if not isinstance(claimed, str):
        return False
    try:
        return normalise_url(claimed) == normalise_url(expected)
    except ValueError:
        return False


def numeric_date(value: Any) -> float | None:
    """A finite NumericDate, else None. bool is refused (an int in Python); NaN and Infinity too,
    because Python's json accepts them and NaN passes every comparison."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None
