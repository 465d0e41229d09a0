"""Auditors: accounts for the auditor console, sign-in with password and TOTP, and the record of
whole-log verification runs.

Passwords are hashed with argon2id (argon2-cffi's RFC 9106 defaults). TOTP secrets (RFC 6238,
30-second steps, 6 digits) are stored encrypted with AES-256-GCM (core.crypto.field_cipher) under
a key derived by HKDF-SHA256 from the application's SECRET_KEY with info "auditor-totp", the
username as associated data, so a secret copied to another auditor's row does not decrypt.
Rotating SECRET_KEY therefore means re-enrolling every auditor; a separate key (or the master
keyring) would avoid that, at the cost of one more secret to manage.

Every function runs inside the caller's transaction: it flushes and never commits.
"""

from __future__ import annotations

import datetime as dt
import re

import pyotp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.credentials import dummy_hash as _dummy_hash
from core.credentials import hasher as _hasher
from core.credentials import matching_step as _matching_step
from core.credentials import password_matches as _password_matches
from core.crypto.field_cipher import FieldCipher, associated_data
from core.errors import Conflict, NotFound, Unauthorized, ValidationFailed

from .auditor_models import Auditor, AuditVerification
from .verify import LogReport

ISSUER = "Consentry"
SIGN_IN_FAILED = "The username, password or code is not correct"
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
MIN_PASSWORD, MAX_PASSWORD = 12, 200
MAX_FINDING = 2000


def auditor_totp_key(secret_key: str) -> bytes:
    """The AES-256 key that encrypts TOTP secrets, derived from the app's SECRET_KEY."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"auditor-totp").derive(
        secret_key.encode()
    )


def _totp_aad(username: str) -> bytes:
    return associated_data("auditor-totp", username)


def create_auditor(
    session: Session, *, username: str, password: str, now: dt.datetime, totp_key: bytes
) -> tuple[Auditor, str]:
    """Add an auditor with a fresh TOTP secret; returns it and the otpauth:// provisioning URI
    (which holds the secret: show it once, never store or log it). Raises ValidationFailed for a
    malformed username or a short password, Conflict for a username already taken."""
    errors: dict[str, list[str]] = {}
    if not USERNAME.fullmatch(username):
        errors["username"] = ["3 to 64 of a-z 0-9 . _ -, starting with a letter or digit"]
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        errors["password"] = [f"between {MIN_PASSWORD} and {MAX_PASSWORD} characters"]
    if errors:
        raise ValidationFailed("auditor details not valid", errors)
    if find_auditor(session, username=username) is not None:
        raise Conflict("an auditor with that username already exists")
    secret = pyotp.random_base32()
    auditor = Auditor(
        username=username,
        password_hash=_hasher.hash(password),
        totp_secret=FieldCipher(totp_key).encrypt(secret.encode(), _totp_aad(username)),
        created_at=now,
        disabled=False,
    )
    session.add(auditor)
    session.flush()
    return auditor, pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def authenticate(
    session: Session, *, username: str, password: str, code: str, now: dt.datetime, totp_key: bytes
) -> Auditor:
    """The auditor named `username`, if the password and the TOTP code for `now` are right, the
    code has not been used before and the auditor is not disabled; records the code's step and the
    login time. Raises Unauthorized with one message whatever went wrong, and always runs an
    argon2 verification, so neither the message nor the timing tells an unknown username apart."""
    auditor = find_auditor(session, username=username)
    password_ok = _password_matches(auditor.password_hash if auditor else _dummy_hash(), password)
    if auditor is None or not password_ok or auditor.disabled:
        raise Unauthorized(SIGN_IN_FAILED)
    secret = FieldCipher(totp_key).decrypt(auditor.totp_secret, _totp_aad(auditor.username)).decode()
    step = _matching_step(pyotp.TOTP(secret), code, now)
    if step is None or (auditor.last_totp_step is not None and step <= auditor.last_totp_step):
        raise Unauthorized(SIGN_IN_FAILED)
    auditor.last_totp_step = step
    auditor.last_login_at = now
    if _hasher.check_needs_rehash(auditor.password_hash):
        auditor.password_hash = _hasher.hash(password)
    session.flush()
    return auditor


def find_auditor(session: Session, *, username: str) -> Auditor | None:
    return session.scalar(select(Auditor).where(Auditor.username == username))


def find_active_auditor(session: Session, auditor_id: str) -> Auditor | None:
    """The auditor with this id unless disabled (a signed-in session of a disabled auditor ends)."""
    auditor = session.get(Auditor, auditor_id)
    return auditor if auditor is not None and not auditor.disabled else None


def disable_auditor(session: Session, *, username: str) -> Auditor:
    """Disable an auditor: their sign-ins and open sessions stop working. Raises NotFound for an
    unknown username."""
    auditor = find_auditor(session, username=username)
    if auditor is None:
        raise NotFound("no auditor with that username")
    auditor.disabled = True
    session.flush()
    return auditor


def record_verification(session: Session, *, report: LogReport, now: dt.datetime) -> AuditVerification:
    """Store the outcome of a whole-log verification (audit.verify.verify_log)."""
    finding = str(report.first)[:MAX_FINDING] if report.first else None
    run = AuditVerification(
        ran_at=now,
        entries=report.entries,
        checkpoints=report.checkpoints,
        ok=report.ok,
        finding=finding,
        position=report.first.where[:64] if report.first else None,
        finished_at=now,
    )
    session.add(run)
    session.flush()
    return run


def last_verification(session: Session) -> AuditVerification | None:
    """The most recent finished verification run, or None if the log was never verified."""
    return session.scalar(
        select(AuditVerification)
        .where(AuditVerification.state == "done")
        .order_by(AuditVerification.ran_at.desc(), AuditVerification.id.desc())
        .limit(1)
    )
