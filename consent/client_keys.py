"""What an agency app's inline JWKS must hold for each wire profile it registers for, checked at
registration so that an app that cannot work is refused then, not at its first token request.

The needs mirror what the Flask layer asks of a client JWKS at run time (app/oauth/jwks.py,
app/oauth/release.py, app/fapi/profile.py; tests/consent/test_client_keys.py holds them equal):

- myinfo-v4: an ES256 signing key on P-256 (verifies the client assertion) and an
  ECDH-ES+A256KW encryption key on P-256 (person data is encrypted to it);
- myinfo-v5: an ES256/ES384/ES512 signing key on that algorithm's curve, and an encryption key
  on P-256, P-384 or P-521 for ECDH-ES+A128KW/A192KW/A256KW (ID token and userinfo).

A signing key has `use` "sig" or none and `alg` its curve's algorithm or none; an encryption key
has `use` "enc" and an ECDH-ES key wrap `alg`, or none (counted as ECDH-ES+A256KW). Keys of other
types are ignored, as at run time; a published private part is refused. A `jwks_uri` is fetched
only at run time, so its keys are not checked here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey

MAX_KEYS = 64
CURVE_OF = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
ECDH_ALGORITHMS = ("ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW")
DEFAULT_ECDH = "ECDH-ES+A256KW"
# Members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


@dataclass(frozen=True)
class KeyNeeds:
    """The keys one profile needs: signing algorithms, and encryption curves and key wraps."""

    signing_algorithms: tuple[str, ...]
    encryption_curves: tuple[str, ...]
    encryption_algorithms: tuple[str, ...]


PROFILE_KEYS = {
    "myinfo-v4": KeyNeeds(("ES256",), ("P-256",), ("ECDH-ES+A256KW",)),
    "myinfo-v5": KeyNeeds(tuple(CURVE_OF), tuple(CURVE_OF.values()), ECDH_ALGORITHMS),
}


@dataclass(frozen=True)
class PublicKey:
    curve: str
    use: str | None
    alg: str | None


def jwks_problems(jwks: Any, profiles: list[str]) -> list[str]:
    """Every reason the inline `jwks` cannot serve `profiles` (an empty list when it can)."""
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        return ['must be a JSON object with a "keys" list']
    if len(jwks["keys"]) > MAX_KEYS:
        return [f"holds more than {MAX_KEYS} keys"]
    problems: list[str] = []
    keys: list[PublicKey] = []
    for n, jwk in enumerate(jwks["keys"]):
        key, problem = _public_key(jwk)
        if problem:
            kid = jwk.get("kid") if isinstance(jwk, Mapping) else None
            problems.append(f"keys[{n}]{f' ({kid})' if isinstance(kid, str) else ''}: {problem}")
        elif key is not None:
            keys.append(key)
    for profile in profiles:
        needs = PROFILE_KEYS.get(profile)
        if needs is None:
            continue
        if not any(_signs(key, needs) for key in keys):
            algs = " or ".join(f"{alg} ({CURVE_OF[alg]})" for alg in needs.signing_algorithms)
            problems.append(f'{profile} needs a signing key for client assertions: EC, use "sig", alg {algs}')
        if not any(_encrypts(key, needs) for key in keys):
            problems.append(
                f"{profile} needs an encryption key: EC {'/'.join(needs.encryption_curves)}, "
                f'use "enc", alg {"/".join(needs.encryption_algorithms)}'
            )
    return problems


def _public_key(jwk: Any) -> tuple[PublicKey | None, str | None]:
    """(the key, None) for a public EC key on a supported curve; (None, None) for a key of
    another type (ignored, as at run time); (None, why) for a key that must not be registered."""
    if not isinstance(jwk, Mapping):
        return None, "not a JSON object"
    if PRIVATE_MEMBERS & set(jwk):
        return None, "holds private key material: register the public key only"
    if jwk.get("kty") != "EC" or jwk.get("crv") not in CURVE_OF.values():
        return None, None
    use, alg = jwk.get("use"), jwk.get("alg")
    if not (isinstance(use, str | None) and isinstance(alg, str | None)):
        return None, '"use" and "alg" must be strings'
    try:
        ECKey.import_key({name: jwk.get(name) for name in ("kty", "crv", "x", "y")})
    except (JoseError, ValueError, TypeError):
        return None, f"not a valid EC {jwk['crv']} public key (x and y must be a point on the curve)"
    return PublicKey(jwk["crv"], use, alg), None


def _signs(key: PublicKey, needs: KeyNeeds) -> bool:
    return key.use in (None, "sig") and any(
        key.curve == CURVE_OF[alg] and key.alg in (None, alg) for alg in needs.signing_algorithms
    )


def _encrypts(key: PublicKey, needs: KeyNeeds) -> bool:
    return (
        key.use == "enc"
        and key.curve in needs.encryption_curves
        and (key.alg or DEFAULT_ECDH) in needs.encryption_algorithms
    )
