"""Server-side records of signed-in browser sessions: start one at sign-in, find it on each
request, keep it alive while it is used, end it at sign-out or when the principal's rights change.

The browser holds only an opaque token (256 random bits); the table holds its SHA-256, so a copy
of the database yields no usable cookie, and a copied cookie stops working the moment its row is
revoked. A session ends at the first of:

- revocation (`revoke`, `revoke_all_for`), kept with a reason;
- its idle expiry: `idle_timeout_s` after it was last seen. `last_seen_at` is written at most
  every TOUCH_EVERY (not once per request), so the idle timeout may end a session up to that much
  early, never late;
- its absolute expiry, fixed at sign-in.

Knows nothing of HTTP. Every function runs inside the caller's transaction: it flushes and never
commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core.errors import ValidationFailed

from .models import ROLES, WebSession

TOUCH_EVERY = dt.timedelta(seconds=60)
PURGE_AFTER = dt.timedelta(days=1)
MAX_TOKEN = 200
MAX_SUBJECT = 100

# Reasons a session was revoked, as stored in `revoked_reason`.
SIGNED_OUT = "signed_out"
REPLACED = "replaced"  # a new sign-in in the same browser (fixation, a change of principal)
REAUTHENTICATED = "reauthenticated"  # rotated at a step-up: the session goes on under a new token


def token_digest(token: str) -> str:
    """The row id for a cookie's token: SHA-256, hex. The token is 256 random bits, so a plain
    hash suffices (no salt or stretching needed against guessing)."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def start_session(
    session: Session,
    *,
    role: str,
    subject: str,
    now: dt.datetime,
    idle: dt.timedelta,
    lifetime: dt.timedelta,
    replacing: str | None = None,
) -> str:
    """Start a session for `subject` signed in as `role`, and return its token: fresh random
    bytes every time, so a sign-in never continues a session someone else started (fixation).
    The token is returned once and never stored; only its digest is. The session ends `idle`
    after it was last seen or `lifetime` after `now`, whichever comes first.

    `replacing`, the token the browser held before (if any), is revoked as REPLACED whatever its
    role: signing in as someone else in the same browser ends the earlier principal's session.

    Raises ValidationFailed for an unknown role, an empty or over-long subject, or a duration
    that is not positive. Flushes, never commits.
    """
    _check(role=role, subject=subject, idle=idle, lifetime=lifetime)
    if replacing:
        revoke(session, token=replacing, now=now, reason=REPLACED)
    return _new_token(
        session, role=role, subject=subject, started=now, expires_at=now + lifetime, idle=idle, now=now
    )


def _new_token(
    session: Session,
    *,
    role: str,
    subject: str,
    started: dt.datetime,
    expires_at: dt.datetime,
    idle: dt.timedelta,
    now: dt.datetime,
) -> str:
    """A session row under a fresh token, authenticated and last seen at `now`; the token."""
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            id=token_digest(token),
            role=role,
            subject=subject,
            created_at=started,
            last_seen_at=now,
            idle_timeout_s=int(idle.total_seconds()),
            idle_expires_at=min(now + idle, expires_at),
            expires_at=expires_at,
            authenticated_at=now,
        )
    )
    session.flush()
    return token


def resolve(session: Session, *, token: object, now: dt.datetime) -> WebSession | None:
    """The live session this token names, or None when it is unknown, malformed, revoked, idle
    past its timeout or past its absolute expiry. One primary-key read; writes nothing (see
    `touch`). The caller checks the role."""
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN or not token.isascii():
        return None
    # populate_existing: an UPDATE earlier in this transaction (revoke) must not be hidden by the
    # identity map's copy of the row.
    query = select(WebSession).where(WebSession.id == token_digest(token))
    row = session.scalar(query.execution_options(populate_existing=True))
    if row is None or row.revoked_at is not None:
        return None
    return row if now < row.idle_expires_at and now < row.expires_at else None


def due_for_touch(row: WebSession, *, now: dt.datetime) -> bool:
    """Whether `touch` would write: the session was last seen TOUCH_EVERY or more ago."""
    return now - row.last_seen_at >= TOUCH_EVERY


def touch(session: Session, *, row: WebSession, now: dt.datetime) -> bool:
    """Record that the live session `row` (from `resolve`) was used at `now`, pushing its idle
    expiry to `now + idle_timeout_s` (never past its absolute expiry). Writes only when the
    session was last seen TOUCH_EVERY or more ago, and never revives a revoked session (the
    UPDATE is conditional, so a sign-out racing with a request stays signed out). Returns whether
    it wrote. Flushes, never commits."""
    if not due_for_touch(row, now=now):
        return False
    idle_expires_at = min(now + dt.timedelta(seconds=row.idle_timeout_s), row.expires_at)
    result = session.execute(
        update(WebSession)
        .where(WebSession.id == row.id, WebSession.revoked_at.is_(None), WebSession.last_seen_at < now)
        .values(last_seen_at=now, idle_expires_at=idle_expires_at)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def last_authenticated(row: WebSession) -> dt.datetime:
    """When the session's principal last proved who they are: at sign-in, or a step-up since.
    Sessions started before the column existed count from their start."""
    return row.authenticated_at or row.created_at


def needs_step_up(row: WebSession, *, now: dt.datetime, max_age: dt.timedelta) -> bool:
    """Whether the last authentication is older than `max_age` (a sensitive action asks again)."""
    return now - last_authenticated(row) > max_age


def reauthenticated(session: Session, *, session_id: str, now: dt.datetime) -> str | None:
    """Record a fresh proof of identity (a step-up code) on the live session `session_id` (the
    row's id, not the token) by rotating it: a new token whose session carries on (same role,
    subject, start and absolute expiry) authenticated at `now`, and the old row revoked as
    REAUTHENTICATED, so a token seen before the step-up never carries its new rights. Returns the
    new token, or None when the session had already ended (never revives one). Flushes, never
    commits."""
    result = session.execute(
        update(WebSession)
        .where(WebSession.id == session_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=REAUTHENTICATED)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    old = session.get(WebSession, session_id, populate_existing=True)
    idle = dt.timedelta(seconds=old.idle_timeout_s)
    return _new_token(
        session, role=old.role, subject=old.subject, started=old.created_at,
        expires_at=old.expires_at, idle=idle, now=now,
    )  # fmt: skip


def revoke(session: Session, *, token: object, now: dt.datetime, reason: str = SIGNED_OUT) -> bool:
    """End the session this token names, keeping why. Returns whether a live-or-expired, not yet
    revoked session was found; an unknown or malformed token is not an error (a sign-out twice is
    harmless). Flushes, never commits."""
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN or not token.isascii():
        return False
    result = session.execute(
        update(WebSession)
        .where(WebSession.id == token_digest(token), WebSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason[:40])
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def revoke_all_for(session: Session, *, role: str, subject: str, now: dt.datetime, reason: str) -> int:
    """End every session of `subject` signed in as `role` (a disabled auditor, a citizen whose
    credentials changed or whose account closed), in every browser. Returns how many were still
    unrevoked. Flushes, never commits."""
    result = session.execute(
        update(WebSession)
        .where(WebSession.role == role, WebSession.subject == subject, WebSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason[:40])
        .execution_options(synchronize_session=False)
    )
    return result.rowcount  # type: ignore[attr-defined]


def purge_ended(session: Session, *, now: dt.datetime, keep: dt.timedelta = PURGE_AFTER) -> int:
    """Delete sessions whose absolute expiry passed more than `keep` ago; returns how many. Every
    session has ended by its absolute expiry, so this removes every ended session (revoked or
    idle ones a little later than `keep` after they ended) with one indexed range delete.
    Flushes, never commits."""
    result = session.execute(
        delete(WebSession)
        .where(WebSession.expires_at < now - keep)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount  # type: ignore[attr-defined]


def _check(*, role: str, subject: str, idle: dt.timedelta, lifetime: dt.timedelta) -> None:
    errors: dict[str, list[str]] = {}
    if role not in ROLES:
        errors["role"] = [f"one of {', '.join(ROLES)}"]
    if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT:
        errors["subject"] = [f"between 1 and {MAX_SUBJECT} characters"]
    for name, value in (("idle", idle), ("lifetime", lifetime)):
        if value <= dt.timedelta(0):
            errors[name] = ["a positive duration"]
    if errors:
        raise ValidationFailed("session not valid", errors)
