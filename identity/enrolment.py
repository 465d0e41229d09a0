"""An enrolment in progress: what a citizen has done so far between the activation pages, or
between a recovery sign-in and their new authenticator. The browser holds a random token; the row
(`enrolments_in_progress`) is found by its SHA-256, so the browser never says who the citizen is.
It lasts PROGRESS_LIFETIME; the authenticator secret it holds is wrapped as the account's is.

Every function runs inside the caller's transaction: it flushes and never commits.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets

import pyotp
from sqlalchemy import delete
from sqlalchemy.orm import Session

from core.credentials import matching_step as totp_step
from core.crypto.keyring import MasterKeyring, WrappedKey
from core.errors import ValidationFailed
from core.uinfin import partial_uinfin

from .accounts import ISSUER, _secret_context
from .activation_models import PURPOSES, EnrolmentInProgress
from .web_sessions import MAX_TOKEN, token_digest

PROGRESS_LIFETIME = dt.timedelta(minutes=30)
WRONG_CODE = "The code is not correct. Enter the 6-digit code your authenticator app shows now"


def same_digest(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def start(
    session: Session, *, purpose: str, citizen_id: str, now: dt.datetime, letter_id: str | None = None
) -> str:
    """Start an enrolment for `citizen_id`, replacing any other of theirs; returns its token
    (fresh random bytes, never stored)."""
    if purpose not in PURPOSES:
        raise ValidationFailed("unknown enrolment", {"purpose": [purpose]})
    session.execute(
        delete(EnrolmentInProgress)
        .where(EnrolmentInProgress.citizen_id == citizen_id)
        .execution_options(synchronize_session=False)
    )
    token = secrets.token_urlsafe(32)
    session.add(
        EnrolmentInProgress(
            id=token_digest(token),
            purpose=purpose,
            citizen_id=citizen_id,
            letter_id=letter_id,
            created_at=now,
            expires_at=now + PROGRESS_LIFETIME,
        )
    )
    session.flush()
    return token


def find(session: Session, *, token: object, purpose: str, now: dt.datetime) -> EnrolmentInProgress | None:
    """The live enrolment this token names for `purpose`, or None (unknown, malformed, expired)."""
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN or not token.isascii():
        return None
    row = session.get(EnrolmentInProgress, token_digest(token), populate_existing=True)
    if row is None or row.purpose != purpose or now >= row.expires_at:
        return None
    return row


def discard(session: Session, progress: EnrolmentInProgress) -> None:
    session.delete(progress)
    session.flush()


def pending_secret(progress: EnrolmentInProgress, keyring: MasterKeyring) -> str:
    """The authenticator secret being enrolled, made (and kept, wrapped) on first call."""
    context = _secret_context(progress.citizen_id)
    if progress.totp_secret_wrapped is None or progress.totp_kid is None:
        secret = pyotp.random_base32()
        wrapped = keyring.wrap(secret.encode("ascii"), context)
        progress.totp_kid, progress.totp_secret_wrapped = wrapped.kid, wrapped.blob
        return secret
    wrapped = WrappedKey(progress.totp_kid, bytes(progress.totp_secret_wrapped))
    return keyring.unwrap(wrapped, context).decode("ascii")


def provisioning_uri(secret: str, uinfin: str) -> str:
    """The otpauth:// URI for the QR code, labelled with the masked national id."""
    return pyotp.TOTP(secret).provisioning_uri(
        name=partial_uinfin(uinfin.strip().upper()), issuer_name=ISSUER
    )


def matching_step(secret: str, code: str, now: dt.datetime) -> int | None:
    """The time step whose code equals `code` (one step of drift either side), or None."""
    return totp_step(pyotp.TOTP(secret), code, now)


def purge_ended(session: Session, *, now: dt.datetime, keep: dt.timedelta = dt.timedelta(days=1)) -> int:
    """Delete enrolments (activations, re-enrolments) that ended more than `keep` ago, finished or
    abandoned; returns how many. Flushes, never commits."""
    result = session.execute(
        delete(EnrolmentInProgress)
        .where(EnrolmentInProgress.expires_at < now - keep)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount  # type: ignore[attr-defined]
