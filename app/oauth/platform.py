"""The platform's JOSE keys as one process sees them: the active signing key, the published
public keys by kid, and the JWKS document, each cached for a few seconds.

Every token and person call signs or verifies; unwrapping a key from the database each time would
cost a query and an AES-GCM unwrap per call. The cache is short (CACHE_TTL_S), so a rotation
reaches every process within seconds, and a key withdrawn at once (a compromise, overlap 0) stops
verifying in at most that time. The first process to find no key creates them (harmless if two
race: both keys are published and the newer one signs).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

from joserfc.jwk import ECKey, OKPKey
from sqlalchemy.orm import Session, sessionmaker

from core.clock import utcnow
from core.crypto import platform_keys
from core.crypto.keyring import MasterKeyring
from core.errors import NotFound

CACHE_TTL_S = 5.0


class PlatformKeys:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        keyring: MasterKeyring,
        *,
        writer_sessions: sessionmaker[Session] | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        ttl_s: float = CACHE_TTL_S,
    ) -> None:
        self.sessions = sessions
        self.writer_sessions = writer_sessions or sessions
        self._keyring = keyring
        self._clock = clock
        self._monotonic = monotonic
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._cache: dict[Any, tuple[float, Any]] = {}

    def signing_key(self) -> ECKey:
        """Our active ES256 private key (kid set)."""
        return self._cached(("active", "sig"), lambda s, now: self._active(s, "sig", now))

    def public_key(self, kid: str) -> ECKey | None:
        """The published public key with `kid`, or None (unknown or retired)."""
        return self._cached(("public", kid), lambda s, now: _public_or_none(s, kid, now))

    def jwks(self) -> dict[str, list[dict]]:
        """The public JWKS document (every key not yet retired)."""
        self.signing_key()  # a fresh deployment publishes its first keys on the first request
        return self._cached(("jwks",), lambda s, now: platform_keys.published_jwks(s, now=now))

    def receipt_key(self) -> OKPKey:
        """Our active Ed25519 receipt-signing key (kid set, `receipt-` prefixed)."""
        return self._cached(("active", "receipt"), lambda s, now: self._active(s, "receipt", now))

    def receipt_jwks(self) -> dict[str, list[dict]]:
        """The receipt keys' JWKS: the active one and every earlier one not withdrawn."""
        self.receipt_key()
        return self._cached(("receipt_jwks",), lambda s, now: platform_keys.receipt_jwks(s, now=now))

    def forget(self) -> None:
        """Drop the cache (after a rotation in this process, and in tests)."""
        with self._lock:
            self._cache.clear()

    def _cached(self, key: Any, load: Callable[[Session, dt.datetime], Any]) -> Any:
        moment = self._monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and moment - hit[0] < self._ttl_s:
                return hit[1]
        session = self.sessions()
        try:
            value = load(session, self._clock())
            session.commit()
        finally:
            session.close()
        if value is not None:  # unknown kids are not cached: a flood of them must not grow memory
            with self._lock:
                self._cache[key] = (moment, value)
        return value

    def _active(self, session: Session, use: platform_keys.Use, now: dt.datetime) -> ECKey | OKPKey:
        try:
            return platform_keys.active_key(session, keyring=self._keyring, use=use, now=now)
        except NotFound:
            # Created in a writer transaction of its own: on SQLite a read transaction cannot
            # safely turn into a write while another request writes.
            session.rollback()  # end this read first, so the next one sees the new keys
            with self.writer_sessions() as writer:
                platform_keys.ensure_keys(writer, keyring=self._keyring, now=now)
                writer.commit()
            return platform_keys.active_key(session, keyring=self._keyring, use=use, now=now)


def _public_or_none(session: Session, kid: str, now: dt.datetime) -> ECKey | None:
    try:
        return platform_keys.key_by_kid(session, kid=kid, now=now)
    except NotFound:
        return None
