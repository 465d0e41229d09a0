"""The platform's own JOSE keys: ES256 signing keys and ECDH-ES+A256KW encryption keys for tokens
and person data, and Ed25519 receipt keys that sign consent receipts (consent/receipts.py).

Lifecycle: a key is created active; `rotate` creates a successor and gives the predecessor a
`retire_at` = now + overlap. Until then the old public key stays in the published JWKS, so tokens
it signed keep verifying; from then on it is gone. Clients that fetch our JWKS on every call (the
MyInfo connector does) see a new key at once, which is why a new key is active immediately.

Receipt keys are apart: published in a JWKS of their own (`receipt_jwks`), never among the token
keys (`published_jwks`, `key_by_kid`), so a receipt signature can never pass for a token's and an
app's JWKS does not grow with keys kept for years. A rotated receipt key stays published with no
end (`retire_at` unset): receipts are proof for years, and the old key must keep verifying them.

Private JWKs are stored wrapped by the master keyring (AES-GCM, the platform kid bound as
associated data) and unwrapped only in memory, on demand. Every function here runs inside the
caller's transaction: it adds and flushes, never commits.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Literal

from joserfc.jwk import ECKey, OKPKey
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.crypto.keyring import MasterKeyring, WrappedKey
from core.crypto.platform_key_model import PlatformKey
from core.errors import CryptoError, NotFound, ValidationFailed

Use = Literal["sig", "enc", "receipt"]
ALGORITHMS: dict[str, str] = {"sig": "ES256", "enc": "ECDH-ES+A256KW", "receipt": "Ed25519"}
TOKEN_USES = ("sig", "enc")  # the keys our OAuth JWKS publishes and token checks accept
RECEIPT = "receipt"
RECEIPT_KID_PREFIX = "receipt-"
# Access tokens live 30 minutes (MyInfo v4): an old signing key must outlive the last one it signed.
DEFAULT_OVERLAP = dt.timedelta(minutes=30)


def ensure_keys(session: Session, *, keyring: MasterKeyring, now: dt.datetime) -> dict[str, str]:
    """Make sure one active key exists per use; create what is missing.

    Returns {"sig": kid, "enc": kid, "receipt": kid}. Idempotent within one database; two
    processes racing on an empty table may each create a key, which is harmless (both are
    published, the newer is used).
    """
    _mark_retired(session, now=now)
    kids: dict[str, str] = {}
    for use in ALGORITHMS:
        current = _active_row(session, use=use, now=now)
        kids[use] = current.kid if current else _create(session, keyring=keyring, use=use, now=now).kid
    return kids


def rotate(
    session: Session,
    *,
    keyring: MasterKeyring,
    use: Use,
    now: dt.datetime,
    overlap: dt.timedelta | None = None,
) -> PlatformKey:
    """Create a new active key of `use`; the previous active key stays published until now + overlap.

    `overlap` must cover the longest lifetime of anything the old key signed (30 min for access
    tokens, the default for sig and enc). `overlap=timedelta(0)` withdraws the old key at once:
    for a compromised key. A receipt key's default is no end: the old key signs nothing more but
    stays published, so every receipt it signed keeps verifying. Raises ValidationFailed for an
    unknown use or a negative overlap.
    """
    _check_use(use)
    if overlap is not None and overlap < dt.timedelta(0):
        raise ValidationFailed("overlap must not be negative")
    if overlap is None and use != RECEIPT:
        overlap = DEFAULT_OVERLAP
    _mark_retired(session, now=now)
    previous = _active_row(session, use=use, now=now)
    if previous is not None and overlap is not None:
        previous.retire_at = now + overlap
    created = _create(session, keyring=keyring, use=use, now=now)
    session.flush()
    return created


def active_key(session: Session, *, keyring: MasterKeyring, use: Use, now: dt.datetime) -> ECKey | OKPKey:
    """The private key to sign (use "sig"), decrypt (use "enc") or sign receipts (use "receipt",
    an Ed25519 OKPKey) with; its `kid` is set.

    Raises NotFound when no key of that use is active (run `ensure_keys`), CryptoError when the
    stored key cannot be unwrapped (wrong or missing master key, tampered row).
    """
    _check_use(use)
    row = _active_row(session, use=use, now=now)
    if row is None:
        raise NotFound(f"no active platform {use} key")
    return _unwrap(row, keyring)


def published_jwks(session: Session, *, now: dt.datetime) -> dict[str, list[dict]]:
    """The public JWKS document of the token keys (sig, enc): every one not yet retired, newest
    first, with kid, use and alg."""
    query = _published(now).where(PlatformKey.use.in_(TOKEN_USES))
    rows = session.scalars(query.order_by(PlatformKey.activated_at.desc(), PlatformKey.kid))
    return {"keys": [dict(row.public_jwk) for row in rows]}


def receipt_jwks(session: Session, *, now: dt.datetime) -> dict[str, list[dict]]:
    """The public JWKS of the receipt keys: every one ever made and not withdrawn, newest first
    (the active one signs; older ones verify the receipts they signed)."""
    query = _published(now).where(PlatformKey.use == RECEIPT)
    rows = session.scalars(query.order_by(PlatformKey.activated_at.desc(), PlatformKey.kid))
    return {"keys": [dict(row.public_jwk) for row in rows]}


def find_active_kid(session: Session, *, use: Use, now: dt.datetime) -> str | None:
    """The kid of the active key of `use` (the one `active_key` returns), or None."""
    _check_use(use)
    row = _active_row(session, use=use, now=now)
    return row.kid if row else None


def list_keys(session: Session, *, now: dt.datetime) -> list[tuple[PlatformKey, bool]]:
    """Every platform key ever made, newest first, each with whether it is published at `now`."""
    published = set(session.scalars(_published(now).with_only_columns(PlatformKey.kid)))
    rows = session.scalars(select(PlatformKey).order_by(PlatformKey.activated_at.desc(), PlatformKey.kid))
    return [(row, row.kid in published) for row in rows]


def key_by_kid(session: Session, *, kid: str, now: dt.datetime) -> ECKey:
    """The public token key (sig or enc) with `kid` while it is published (to verify what we
    signed).

    Raises NotFound for an unknown or retired kid, or a receipt key: a token signed by a retired
    key is refused, and a receipt signature never stands for a token's.
    """
    return ECKey.import_key(_published_row(session, kid=kid, now=now).public_jwk)


def private_key_by_kid(session: Session, *, keyring: MasterKeyring, kid: str, now: dt.datetime) -> ECKey:
    """The private token key with `kid` while it is published (to decrypt what a client encrypted
    to it).

    Raises NotFound for an unknown or retired kid or a receipt key, CryptoError when it cannot be
    unwrapped.
    """
    return _unwrap(_published_row(session, kid=kid, now=now), keyring)


def _check_use(use: str) -> None:
    if use not in ALGORITHMS:
        raise ValidationFailed(f"key use must be one of {sorted(ALGORITHMS)}")


def _published(now: dt.datetime):
    return select(PlatformKey).where(
        PlatformKey.retired.is_(False),
        PlatformKey.activated_at <= now,
        or_(PlatformKey.retire_at.is_(None), PlatformKey.retire_at > now),
    )


def _published_row(session: Session, *, kid: str, now: dt.datetime) -> PlatformKey:
    query = _published(now).where(PlatformKey.kid == kid, PlatformKey.use.in_(TOKEN_USES))
    row = session.scalars(query).one_or_none()
    if row is None:
        raise NotFound("no published platform key with that kid", kid=kid)
    return row


def _active_row(session: Session, *, use: str, now: dt.datetime) -> PlatformKey | None:
    query = (
        _published(now)
        .where(PlatformKey.use == use, PlatformKey.retire_at.is_(None))
        .order_by(PlatformKey.activated_at.desc(), PlatformKey.kid.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def _mark_retired(session: Session, *, now: dt.datetime) -> None:
    # Housekeeping: the flag makes "gone for good" explicit for operators reading the table.
    expired = select(PlatformKey).where(PlatformKey.retired.is_(False), PlatformKey.retire_at <= now)
    for row in session.scalars(expired):
        row.retired = True


def _context(kid: str) -> bytes:
    return b"platform_key|" + kid.encode("ascii")


def _create(session: Session, *, keyring: MasterKeyring, use: str, now: dt.datetime) -> PlatformKey:
    # kid = RFC 7638 thumbprint: unique per key and recomputable by anyone holding the public key.
    key: ECKey | OKPKey
    if use == RECEIPT:
        # The JWK's own `use` is RFC 7517's "sig"; the kid's prefix says what it signs.
        made = OKPKey.generate_key("Ed25519", parameters={"use": "sig", "alg": ALGORITHMS[use]})
        kid = RECEIPT_KID_PREFIX + made.thumbprint()
        key = OKPKey.import_key({**made.as_dict(private=True), "kid": kid})
    else:
        key = ECKey.generate_key("P-256", parameters={"use": use, "alg": ALGORITHMS[use]}, auto_kid=True)
        kid = key.thumbprint()
    private = json.dumps(key.as_dict(private=True), sort_keys=True, separators=(",", ":"))
    wrapped = keyring.wrap(private.encode("utf-8"), _context(kid))
    row = PlatformKey(
        kid=kid,
        use=use,
        alg=ALGORITHMS[use],
        wrapping_kid=wrapped.kid,
        private_jwk_wrapped=wrapped.blob,
        public_jwk=key.as_dict(private=False),
        created_at=now,
        activated_at=now,
        retire_at=None,
        retired=False,
    )
    session.add(row)
    session.flush()
    return row


def _unwrap(row: PlatformKey, keyring: MasterKeyring) -> ECKey | OKPKey:
    raw = keyring.unwrap(WrappedKey(row.wrapping_kid, bytes(row.private_jwk_wrapped)), _context(row.kid))
    key = (OKPKey if row.use == RECEIPT else ECKey).import_key(json.loads(raw))
    if not key.is_private or key.kid != row.kid:
        raise CryptoError("stored platform key does not match its row", kid=row.kid)
    return key
