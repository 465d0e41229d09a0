"""Client JWKS (RFC 7517): the agency app's public keys, inline or fetched from its `jwks_uri`.

MyInfo v4 clients publish one ES256 signing key (verifies their client_assertion) and one or more
ECDH-ES+A256KW encryption keys (we encrypt person data to them), all EC P-256 (spec §1, §6).
Myinfo v5 (FAPI 2.0) clients may also use P-384 and P-521: ES384/ES512 signing keys and
ECDH-ES+A128KW/A192KW/A256KW encryption keys (v5 spec §12.2). Each caller says which algorithms
it accepts, so v4 still sees only its P-256 keys. Keys of any other type are ignored. Fetched
documents are cached for a TTL (`CLIENT_JWKS_TTL_S`, an hour as the v5 spec says: client key
rotation is planned around it); an unknown kid may force a refetch, at most once per
`min_refresh_interval_s`, so a flood of bogus kids cannot turn us into a load generator against
the client's server.

Also home to the ECDSA JWS helpers shared by dpop.py, client_auth.py and access_tokens.py: they
belong with the only key type we accept.
"""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from core.errors import DomainError

from . import fast_jose

MAX_KEYS = 64
MAX_BYTES = 64 * 1024
FETCH_TIMEOUT_S = 3.0
DEFAULT_TTL_S = 3600.0  # v5 spec §10: the client JWKS cache at the AS
MIN_REFRESH_INTERVAL_S = 10.0
EC_MEMBERS = ("kty", "crv", "x", "y")
# Each ECDSA algorithm signs with exactly one curve (RFC 7518 §3.4).
CURVE_OF = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
ES_ALGORITHMS = tuple(CURVE_OF)
# JWE key management for EC keys, weakest first: the order ranks a client's encryption keys.
ECDH_ALGORITHMS = ("ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW")
DEFAULT_ECDH = "ECDH-ES+A256KW"  # an enc key without alg (v5 spec §12.2)
_CURVE_RANK = {curve: rank for rank, curve in enumerate(CURVE_OF.values())}
_REGISTRIES = {alg: jws.JWSRegistry(algorithms=[alg], strict_check_header=False) for alg in ES_ALGORITHMS}
_ALL_ES = jws.JWSRegistry(algorithms=list(ES_ALGORITHMS), strict_check_header=False)


class JwksError(DomainError):
    """The client's JWKS is unusable: unreachable, malformed, or lacking the key we need."""

    code = "invalid_client"
    error = "invalid_client"


def import_public_p256(jwk: Any, *, metadata: bool = True) -> ECKey:
    """A public EC P-256 key from a JWK dict: kty/crv/x/y, plus kid/use/alg when `metadata`.

    Raises ValueError for a private key (has "d"), another key type or curve, or a point that is
    not on the curve.
    """
    return import_public_ec(jwk, metadata=metadata, curves=("P-256",))


def import_public_ec(jwk: Any, *, metadata: bool = True, curves: tuple[str, ...] = ("P-256",)) -> ECKey:
    """A public EC key on one of `curves` from a JWK dict: kty/crv/x/y, plus kid/use/alg when
    `metadata`. ValueError for a private key (has "d"), another key type or curve, or a point
    that is not on the curve."""
    if not isinstance(jwk, Mapping):
        raise ValueError("a JWK must be a JSON object")
    if "d" in jwk:
        raise ValueError("the JWK holds a private key")
    if jwk.get("kty") != "EC" or jwk.get("crv") not in curves:
        raise ValueError(f"the JWK is not an EC {'/'.join(curves)} key")
    if not (isinstance(jwk.get("x"), str) and isinstance(jwk.get("y"), str)):
        raise ValueError("the JWK has no x/y coordinates")
    names = ("kid", "use", "alg") if metadata else ()
    extras = {name: jwk[name] for name in names if isinstance(jwk.get(name), str)}
    try:
        return ECKey.import_key({name: jwk[name] for name in EC_MEMBERS}, parameters=extras or None)
    except (JoseError, ValueError, TypeError) as exc:
        raise ValueError(f"the JWK is not a valid EC {jwk['crv']} public key") from exc


def extract_es256(value: Any) -> tuple[jws.CompactSignature, dict[str, Any]]:
    """`extract_jws` for ES256 only (MyInfo v4 and our own tokens)."""
    return extract_jws(value, algorithms=("ES256",))


def extract_jws(
    value: Any, *, algorithms: tuple[str, ...] = ("ES256",)
) -> tuple[jws.CompactSignature, dict[str, Any]]:
    """Split a compact JWS whose header names one of `algorithms` (ECDSA only) and whose payload
    is a JSON object.

    Does NOT check the signature (see `verify_es`). Raises ValueError for anything else,
    including alg none/HS*/RS*, detached or unencoded (RFC 7797) payloads and `crit` extensions.
    """
    if not isinstance(value, str) or value.count(".") != 2:
        raise ValueError("not a compact JWS")
    try:
        obj = jws.extract_compact(value.encode("ascii"), registry=_ALL_ES)
    except (JoseError, ValueError, UnicodeError, RecursionError) as exc:  # deeply nested JSON too
        raise ValueError("not a compact JWS") from exc
    header = obj.headers()
    if header.get("alg") not in algorithms or header.get("alg") not in CURVE_OF:
        given = json.dumps(header.get("alg"), default=str)[:40]
        raise ValueError(f"alg {given} is not allowed, only {' or '.join(algorithms)}")
    # We implement no JWS extensions, so anything marked critical must be refused (RFC 7515 §4.1.11).
    if "crit" in header or "b64" in header or not obj.segments["payload"]:
        raise ValueError("JWS extensions and detached payloads are not accepted")
    try:
        claims = json.loads(obj.payload)
    except (ValueError, RecursionError) as exc:
        raise ValueError("the JWS payload is not JSON") from exc
    if not isinstance(claims, dict):
        raise ValueError("the JWS payload is not a JSON object")
    return obj, claims


def verify_es256(obj: jws.CompactSignature, key: ECKey) -> bool:
    """True when `obj` carries a valid ES256 signature by `key`; never raises for bad input."""
    return obj.headers().get("alg") == "ES256" and verify_es(obj, key)


def verify_es(obj: jws.CompactSignature, key: ECKey) -> bool:
    """True when `obj` (from `extract_jws`) carries a valid signature by `key` under its header's
    ECDSA alg (whose curve must be the key's); never raises for bad input. joserfc's header and
    key checks, then the signature straight on `cryptography` (app.oauth.fast_jose: joserfc's
    validate_compact cost more than the ECDSA verify it wraps, twice per person call)."""
    header = obj.headers()
    alg = header.get("alg")
    if alg not in _REGISTRIES or key.curve_name != CURVE_OF[alg]:
        return False
    try:
        _REGISTRIES[alg].check_header(header)
    except JoseError:
        return False
    segments = obj.segments
    return fast_jose.verify_es(
        segments["header"] + b"." + segments["payload"], segments["signature"], alg, key
    )


def check_jwks_uri(uri: str) -> None:
    """Refuse a jwks_uri that is not https (plain http only on loopback, for tests and demos)."""
    parts = urlsplit(uri)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return
    raise JwksError("jwks_uri must use https")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_jwks(document: Any) -> list[ECKey]:
    """The usable (public EC P-256, P-384, P-521) keys of a JWKS document; other key types are
    skipped. Which of them a profile may use is for `signing_keys` and `encryption_key` to say.

    Raises JwksError when the document is not an object with a "keys" list of at most MAX_KEYS.
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise JwksError("the client JWKS must be a JSON object with a 'keys' list")
    if len(document["keys"]) > MAX_KEYS:
        raise JwksError(f"the client JWKS has more than {MAX_KEYS} keys")
    keys = []
    for item in document["keys"]:
        try:
            keys.append(import_public_ec(item, curves=tuple(CURVE_OF.values())))
        except ValueError:
            continue  # RSA keys, other curves or a mistakenly published private key: not ours to use
    return keys


class JwksResolver:
    """The keys of one client, from an inline JWKS or a cached fetch of its jwks_uri.

    Thread-safe: one lock per client, held across a fetch so concurrent requests wait for the
    same fetch instead of each starting their own. `monotonic` is injectable for tests.
    """

    def __init__(
        self,
        *,
        jwks: Mapping[str, Any] | None = None,
        jwks_uri: str | None = None,
        http: httpx.Client | None = None,
        ttl_s: float = DEFAULT_TTL_S,
        min_refresh_interval_s: float = MIN_REFRESH_INTERVAL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if (jwks is None) == (jwks_uri is None):
            raise JwksError("a client needs exactly one of jwks or jwks_uri")
        if jwks_uri is not None:
            check_jwks_uri(jwks_uri)
        self._uri = jwks_uri
        self._http = http
        self._ttl_s = ttl_s
        self._min_refresh_s = min_refresh_interval_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._keys: list[ECKey] | None = parse_jwks(jwks) if jwks is not None else None
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")

    def signing_keys(self, algorithms: tuple[str, ...] = ("ES256",)) -> list[ECKey]:
        """Keys that may verify signatures under one of `algorithms`: use "sig" or no use, on
        that algorithm's curve, alg equal to it or absent."""
        return [
            k
            for k in self._current()
            if k.get("use") in (None, "sig")
            and any(k.curve_name == CURVE_OF[alg] and k.alg in (None, alg) for alg in algorithms)
        ]

    def encryption_key(
        self, algorithms: tuple[str, ...] = ("ECDH-ES+A256KW",), curves: tuple[str, ...] = ("P-256",)
    ) -> ECKey:
        """The key to encrypt to: use "enc", on one of `curves`, alg one of `algorithms` (no alg
        counts as ECDH-ES+A256KW). Of several, the stronger curve, then the stronger key wrap,
        then the first listed (v5 spec §12.2). JwksError if none."""
        candidates = [
            (_CURVE_RANK[k.curve_name], ECDH_ALGORITHMS.index(alg), -i, k)
            for i, k in enumerate(self._current())
            if k.get("use") == "enc"
            and k.curve_name in curves
            and (alg := k.alg or DEFAULT_ECDH) in algorithms
            and alg in ECDH_ALGORITHMS
        ]
        if not candidates:
            raise JwksError(f"the client JWKS has no {'/'.join(algorithms)} encryption key")
        return max(candidates, key=lambda c: c[:3])[3]

    def refresh(self) -> bool:
        """Refetch now, unless a fetch was attempted in the last `min_refresh_interval_s`.

        Returns True when the keys were refetched (False for an inline JWKS or when throttled).
        Raises JwksError when the fetch fails.
        """
        if self._uri is None:
            return False
        with self._lock:
            if self._monotonic() - self._attempted_at < self._min_refresh_s:
                return False
            self._load(self._uri)
            return True

    def _current(self) -> list[ECKey]:
        if self._uri is None:
            return self._keys or []
        with self._lock:
            now = self._monotonic()
            if self._keys is not None and now - self._fetched_at < self._ttl_s:
                return self._keys
            # After a failed fetch, fail fast until a retry is due: a client server that is down
            # must not cost every request a fetch timeout.
            if self._attempted_at > self._fetched_at and now - self._attempted_at < self._min_refresh_s:
                raise JwksError(
                    f"the client jwks_uri failed less than {self._min_refresh_s:g} s ago; not retrying yet"
                )
            return self._load(self._uri)

    def _load(self, uri: str) -> list[ECKey]:
        # Caller holds the lock. Stale keys are replaced only by a successful fetch.
        self._attempted_at = self._monotonic()
        self._keys = parse_jwks(fetch_json(self._http, uri))
        self._fetched_at = self._monotonic()
        return self._keys


def fetch_json(http: httpx.Client | None, uri: str) -> Any:
    """GET `uri` and parse at most MAX_BYTES of JSON; JwksError on any failure."""
    client = http or httpx.Client(timeout=FETCH_TIMEOUT_S, follow_redirects=False)
    try:
        with client.stream("GET", uri, headers={"Accept": "application/json"}) as response:
            if response.status_code != 200:
                raise JwksError(
                    f"the client jwks_uri answered HTTP {response.status_code}, not 200",
                    status=response.status_code,
                )
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise JwksError(f"the client JWKS is larger than {MAX_BYTES} bytes")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        # The exception's class (ConnectError, ConnectTimeout, ReadTimeout...) tells the app's
        # operators what to look at; its text may carry addresses, so it stays in our logs only.
        raise JwksError(f"the client jwks_uri could not be fetched ({type(exc).__name__})") from exc
    finally:
        if http is None:
            client.close()
    try:
        return json.loads(bytes(body))
    except (ValueError, RecursionError) as exc:  # nesting deeper than the parser's stack, too
        raise JwksError("the client JWKS is not JSON") from exc


class JwksCache:
    """One JwksResolver per client id, shared across threads; rebuilt when the client's
    registered jwks or jwks_uri changes. Owns one pooled HTTP client (close it on shutdown)."""

    def __init__(
        self,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        min_refresh_interval_s: float = MIN_REFRESH_INTERVAL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = httpx.Client(timeout=FETCH_TIMEOUT_S, follow_redirects=False)
        self._options = {"ttl_s": ttl_s, "min_refresh_interval_s": min_refresh_interval_s}
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._resolvers: dict[str, tuple[tuple[str | None, str | None], JwksResolver]] = {}

    def resolver(
        self, client_id: str, *, jwks: Mapping[str, Any] | None = None, jwks_uri: str | None = None
    ) -> JwksResolver:
        """The resolver for `client_id` as registered now; JwksError for a bad registration."""
        source = (jwks_uri, json.dumps(jwks, sort_keys=True) if jwks is not None else None)
        with self._lock:
            cached = self._resolvers.get(client_id)
            if cached is not None and cached[0] == source:
                return cached[1]
            resolver = JwksResolver(
                jwks=jwks, jwks_uri=jwks_uri, http=self._http, monotonic=self._monotonic, **self._options
            )
            self._resolvers[client_id] = (source, resolver)
            return resolver

    def forget(self, client_id: str) -> None:
        with self._lock:
            self._resolvers.pop(client_id, None)

    def close(self) -> None:
        self._http.close()
