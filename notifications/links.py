"""One-tap "withdraw this consent" links: a signed, expiring, single-use token.

The token is `base64url(payload) "." base64url(HMAC-SHA256(key, payload))`, the payload compact
JSON `{"c": consent_id, "n": nonce, "e": expiry (Unix seconds)}`. The key is derived from
SECRET_KEY with HKDF-SHA256 under its own `info`, so it signs nothing else and nothing else signs
with it. It is single-use through `notification_used_links` (the nonce is its primary key).

The token is the authority for one act only, withdrawing the consent it names: no sign-in, since
the citizen reads their mail on a phone where they are seldom signed in. It can never grant, show
profile values or do anything else; the confirmation page shows what the notice itself showed.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import DomainError

from .models import UsedLink

LINK_TTL = dt.timedelta(days=7)
FORGED, EXPIRED, USED = "forged", "expired", "used"


class LinkRefused(DomainError):
    """A link that may not be used: `reason` is FORGED, EXPIRED or USED."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"withdraw link {reason}")
        self.reason = reason


@dataclass(frozen=True)
class LinkClaim:
    consent_id: str
    nonce: str
    expires_at: dt.datetime


def link_key(secret_key: str) -> bytes:
    """The links' HMAC key, derived from SECRET_KEY (HKDF-SHA256, its own info)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"consentry withdraw-link v1")
    return hkdf.derive(secret_key.encode("utf-8"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_link_token(key: bytes, *, consent_id: str, now: dt.datetime, ttl: dt.timedelta = LINK_TTL) -> str:
    """A fresh token for withdrawing `consent_id`, valid for `ttl` from `now`."""
    payload = {"c": consent_id, "n": secrets.token_urlsafe(16), "e": int((now + ttl).timestamp())}
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return f"{_b64(body)}.{_b64(hmac.new(key, body, hashlib.sha256).digest())}"


def read_link_token(key: bytes, token: str, *, now: dt.datetime) -> LinkClaim:
    """The claim `token` carries; LinkRefused(FORGED) for a bad signature or shape, (EXPIRED)
    past its expiry. Does not check use: see `spend_link` and `link_used`."""
    try:
        body_text, mac_text = token.split(".")
        body, mac = _unb64(body_text), _unb64(mac_text)
    except ValueError as exc:
        raise LinkRefused(FORGED) from exc
    if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()):
        raise LinkRefused(FORGED)
    try:
        payload = json.loads(body)
        claim = LinkClaim(
            str(payload["c"]), str(payload["n"]), dt.datetime.fromtimestamp(int(payload["e"]), dt.UTC)
        )
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        raise LinkRefused(FORGED) from exc
    if now >= claim.expires_at:
        raise LinkRefused(EXPIRED)
    return claim


def link_used(session: Session, claim: LinkClaim) -> bool:
    return session.get(UsedLink, claim.nonce) is not None


def spend_link(session: Session, claim: LinkClaim, *, now: dt.datetime) -> None:
    """Mark the link used, in the caller's transaction (flushed in a savepoint). Raises
    LinkRefused(USED) when it was used already, also by a concurrent request that committed
    first; a race both sides lose at commit is the caller's IntegrityError."""
    if link_used(session, claim):
        raise LinkRefused(USED)
    try:
        with session.begin_nested():
            session.add(UsedLink(nonce=claim.nonce, consent_id=claim.consent_id, used_at=now))
    except IntegrityError as exc:
        raise LinkRefused(USED) from exc
