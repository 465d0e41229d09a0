"""The authorisation-code grant as records: pending requests (pushed ones too, RFC 9126),
single-use codes bound to PKCE, and the access tokens issued from them (RFC 6749 §4.1, RFC 7636).

Every function works in the caller's transaction and flushes. Redemption is one conditional
UPDATE, so of two concurrent redemptions of one code exactly one wins on both databases; a second
presentation revokes whatever the first was issued (RFC 6749 §4.1.2), and the caller must commit
that revocation even though it answers with an error.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from core.db import UTCDateTime
from core.driver_sql import DriverStatement
from core.errors import DomainError, NotFound

from .grant_models import AuthorizationCode, AuthorizationRequest, IssuedToken
from .models import AgencyApp, Consent, Purpose

REQUEST_TTL = dt.timedelta(minutes=10)
# Expired grant records are kept this long (for support questions about a failed sign-in), then purged.
PURGE_AFTER = dt.timedelta(days=1)
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # secrets.token_urlsafe; no NUL for PostgreSQL


class InvalidGrant(DomainError):
    """The code is unknown, expired, already used, or not bound to this client, redirect URI or
    PKCE verifier (RFC 6749 §5.2)."""

    code = "invalid_grant"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(SHA-256(ASCII verifier)), unpadded."""
    raw = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def open_request(
    session: Session,
    *,
    profile: str,
    app: AgencyApp,
    purpose: Purpose,
    redirect_uri: str,
    scope: Iterable[str],
    state: str | None,
    code_challenge: str,
    now: dt.datetime,
    subentity: str | None = None,
    nonce: str | None = None,
    dpop_jkt: str | None = None,
    wire_scope: Iterable[str] | None = None,
) -> AuthorizationRequest:
    """Record a request the wire layer has already validated; it waits for the citizen."""
    request = AuthorizationRequest(
        id=secrets.token_urlsafe(32),
        profile=profile,
        client_id=app.client_id,
        redirect_uri=redirect_uri,
        scope=list(scope),
        purpose_id=purpose.purpose_id,
        state=state,
        code_challenge=code_challenge,
        subentity=subentity,
        nonce=nonce,
        dpop_jkt=dpop_jkt,
        wire_scope=list(wire_scope) if wire_scope is not None else None,
        created_at=now,
        expires_at=now + REQUEST_TTL,
    )
    session.add(request)
    session.flush()
    return request


def push_request(
    session: Session, *, request_uri_ttl: dt.timedelta, now: dt.datetime, **request: Any
) -> tuple[AuthorizationRequest, str]:
    """Record a pushed authorisation request (RFC 9126 §2), validated by the wire layer, with the
    keyword arguments of `open_request`; return it and its `request_uri`, a fresh
    urn:ietf:params:oauth:request_uri: handle of 256 random bits, stored as a digest only. The
    client must send the browser to us with it within `request_uri_ttl`."""
    pushed = open_request(session, now=now, **request)
    handle = secrets.token_urlsafe(32)
    pushed.request_uri_hash = digest(handle)
    pushed.request_uri_expires_at = now + request_uri_ttl
    session.flush()
    return pushed, REQUEST_URI_PREFIX + handle


def find_pushed_request(session: Session, request_uri: str, *, client_id: str) -> AuthorizationRequest | None:
    """The request pushed as `request_uri` by `client_id`, or None: unknown, malformed, or pushed
    by another client (RFC 9126 §4). Whether it may still be used (`request_uri_expires_at`,
    `completed_at`) is the caller's to check against the clock."""
    if not isinstance(request_uri, str) or not request_uri.startswith(REQUEST_URI_PREFIX):
        return None
    handle = request_uri.removeprefix(REQUEST_URI_PREFIX)
    if not 0 < len(handle) <= 128:
        return None
    pushed = session.scalars(
        select(AuthorizationRequest).where(AuthorizationRequest.request_uri_hash == digest(handle))
    ).one_or_none()
    if pushed is None or not hmac.compare_digest(pushed.client_id.encode(), client_id.encode()):
        return None
    return pushed


def pending_request(session: Session, request_id: str, *, now: dt.datetime) -> AuthorizationRequest:
    """The request behind a consent page, while it is neither answered nor expired; NotFound else."""
    request = session.get(AuthorizationRequest, request_id) if REQUEST_ID.match(request_id) else None
    if request is None or request.completed_at is not None or request.expires_at <= now:
        raise NotFound("this sign-in request has expired or was already answered")
    return request


def close_request(session: Session, request: AuthorizationRequest, *, now: dt.datetime) -> None:
    """Mark the request answered (declined or approved): its consent page cannot be used again.
    A conditional update, so two tabs answering at once cannot both go on."""
    closed = session.execute(
        update(AuthorizationRequest)
        .where(AuthorizationRequest.id == request.id, AuthorizationRequest.completed_at.is_(None))
        .values(completed_at=now)
        .execution_options(synchronize_session=False)
    )
    if closed.rowcount != 1:
        raise NotFound("this sign-in request was already answered")
    request.completed_at = now


def issue_code(
    session: Session,
    *,
    request: AuthorizationRequest,
    citizen_id: str,
    consent: Consent,
    now: dt.datetime,
    ttl: dt.timedelta,
) -> str:
    """Close the request and return a fresh URL-safe code for the approved attributes."""
    close_request(session, request, now=now)
    code = secrets.token_urlsafe(32)
    session.add(
        AuthorizationCode(
            code_hash=digest(code),
            profile=request.profile,
            client_id=request.client_id,
            redirect_uri=request.redirect_uri,
            code_challenge=request.code_challenge,
            citizen_id=citizen_id,
            consent_id=consent.id,
            purpose_id=request.purpose_id,
            scope=[a for a in request.scope if a in set(consent.approved)],
            subentity=request.subentity,
            nonce=request.nonce,
            dpop_jkt=request.dpop_jkt,
            wire_scope=request.wire_scope if request.wire_scope is not None else list(request.scope),
            created_at=now,
            expires_at=now + ttl,
        )
    )
    session.flush()
    return code


class RedeemedCode(NamedTuple):
    """A code as its redemption returned it (columns, not an ORM object), and whether its
    consent was still active when it was redeemed."""

    code_hash: str
    profile: str
    client_id: str
    redirect_uri: str
    code_challenge: str
    citizen_id: str
    consent_id: str
    purpose_id: str
    scope: list[str]
    subentity: str | None
    nonce: str | None
    dpop_jkt: str | None
    wire_scope: list[str] | None
    expires_at: dt.datetime
    consent_active: bool


_CODES, _CONSENTS = AuthorizationCode.__table__, Consent.__table__
_NOW = bindparam("now", type_=UTCDateTime())
# The token call's redemption in one statement: mark the code used and read it back, with
# whether its consent is still active (one round trip where three were: UPDATE, SELECT, SELECT).
_REDEEM = DriverStatement(
    update(_CODES)
    .where(_CODES.c.code_hash == bindparam("presented"), _CODES.c.redeemed_at.is_(None))
    .values(redeemed_at=_NOW)
    .returning(
        *(_CODES.c[name] for name in RedeemedCode._fields[:-1]),
        select(_CONSENTS.c.id)
        .where(
            _CONSENTS.c.id == _CODES.c.consent_id,
            _CONSENTS.c.revoked_at.is_(None),
            _CONSENTS.c.expires_at > _NOW,
        )
        .exists(),
    )
)


def redeem_code(
    session: Session,
    *,
    code: str,
    client_id: str,
    redirect_uri: str | None,
    code_verifier: str,
    now: dt.datetime,
) -> RedeemedCode:
    """Use a code once. It is marked used on its first presentation, whatever follows; a second
    presentation revokes the tokens issued from it. Raises InvalidGrant (commit anyway: the
    mark and the revocation must stick). Whether its consent is still active is the caller's to
    check (`consent_active`)."""
    if not isinstance(code, str) or not 0 < len(code) <= 256:
        raise InvalidGrant("code is missing or malformed")
    code_hash = digest(code)
    row = _REDEEM.first(session.connection(), {"presented": code_hash, "now": now})
    if row is None:
        known = select(_CODES.c.code_hash).where(_CODES.c.code_hash == code_hash)
        if session.connection().execute(known).first() is None:
            raise InvalidGrant("code is unknown")
        revoke_tokens_from(session, code_hash=code_hash, now=now)
        raise InvalidGrant("code was already used; tokens issued from it are revoked")
    grant = RedeemedCode._make(row)
    if not hmac.compare_digest(grant.client_id.encode(), client_id.encode()):
        raise InvalidGrant("code was issued to another client")
    if grant.expires_at <= now:
        raise InvalidGrant("code has expired")
    if redirect_uri is None or not hmac.compare_digest(grant.redirect_uri.encode(), redirect_uri.encode()):
        raise InvalidGrant("redirect_uri is not the one the code was issued for")
    if not isinstance(code_verifier, str) or not VERIFIER.match(code_verifier):
        raise InvalidGrant("code_verifier must be 43-128 unreserved characters (RFC 7636)")
    if not hmac.compare_digest(pkce_challenge(code_verifier), grant.code_challenge):
        raise InvalidGrant("code_verifier does not match the code_challenge")
    return grant


def revoke_tokens_from(session: Session, *, code_hash: str, now: dt.datetime) -> int:
    result = session.execute(
        update(IssuedToken)
        .where(IssuedToken.code_hash == code_hash, IssuedToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


_INSERT_TOKEN = DriverStatement(insert(IssuedToken.__table__))


def record_token(
    session: Session, *, grant: RedeemedCode, jti: str, jkt: str, now: dt.datetime, ttl: dt.timedelta
) -> None:
    """Record the access token issued for `grant`, in the caller's transaction (one INSERT at
    once on its connection, no object for the unit of work: every token call does this)."""
    row = {
        "jti": jti,
        "code_hash": grant.code_hash,
        "consent_id": grant.consent_id,
        "client_id": grant.client_id,
        "citizen_id": grant.citizen_id,
        "jkt": jkt,
        "scope": list(grant.scope),
        "requested_scope": list(grant.wire_scope) if grant.wire_scope is not None else None,
        "issued_at": now,
        "expires_at": now + ttl,
    }
    _INSERT_TOKEN.rows(session.connection(), row)


def purge_expired(session: Session, *, now: dt.datetime, keep: dt.timedelta = PURGE_AFTER) -> dict[str, int]:
    """Delete authorisation requests, codes and issued tokens that expired more than `keep` ago
    (flushed, caller commits). They prove nothing once expired: every release they allowed is in
    the audit log, which is never purged. Returns how many rows of each kind went."""
    cutoff = now - keep
    counts = {}
    for name, model in (
        ("issued_tokens", IssuedToken),
        ("authorization_codes", AuthorizationCode),
        ("authorization_requests", AuthorizationRequest),
    ):
        result = session.execute(
            delete(model).where(model.expires_at < cutoff).execution_options(synchronize_session=False)
        )
        counts[name] = result.rowcount
    return counts
