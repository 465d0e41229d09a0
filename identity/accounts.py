"""Citizen accounts: enrol a citizen with a password and a TOTP authenticator, and sign them in.

The design mirrors the auditors' (audit/auditors.py) with two differences. The TOTP secret is
wrapped by the master keyring rather than a key derived from SECRET_KEY, with the citizen id as
associated data, so the secret lives and rotates with the rest of the citizen's encrypted data.
And the "each code once" rule is claimed with one conditional UPDATE, so two sign-ins racing with
the same code cannot both win.

Passwords are hashed with argon2id (argon2-cffi's RFC 9106 defaults) and rehashed on the next
sign-in when those parameters change. TOTP is RFC 6238: 30-second steps, 6 digits, one step of
clock drift either side.

Every function runs inside the caller's transaction: it flushes and never commits.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pyotp
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from core.credentials import dummy_hash as _dummy_hash
from core.credentials import hasher as _hasher
from core.credentials import matching_step as _matching_step
from core.credentials import password_matches as _password_matches
from core.crypto.field_cipher import associated_data
from core.crypto.keyring import MasterKeyring, WrappedKey
from core.errors import NotFound, Unauthorized, ValidationFailed
from core.uinfin import is_valid_uinfin, partial_uinfin
from profile_store.citizens import find_citizen_by_uinfin
from profile_store.models import Citizen
from profile_store.vault import Vault

from .models import CitizenAccount
from .web_sessions import revoke_all_for

ISSUER = "Consentry"
SIGN_IN_FAILED = "The NRIC or FIN, password or code is not correct"
MIN_PASSWORD, MAX_PASSWORD = 12, 200
# Base32, at least 160 bits (RFC 4226 section 4 recommends 160).
TOTP_SECRET = re.compile(r"[A-Z2-7]{32,128}")


@dataclass(frozen=True)
class Enrolment:
    """What a citizen needs to sign in: show `totp_secret` / `provisioning_uri` once, never store
    or log them."""

    citizen_id: str
    totp_secret: str
    provisioning_uri: str


def enrol(
    session: Session,
    *,
    vault: Vault,
    uinfin: str,
    password: str,
    now: dt.datetime,
    totp_secret: str | None = None,
) -> Enrolment:
    """Give the citizen with this national id sign-in credentials: `password` and a TOTP secret
    (fresh, unless `totp_secret` is given, as the demo's published ones are). Replaces whatever
    credentials the citizen had and forgets their last used code.

    Raises ValidationFailed for a malformed national id, a password outside 12 to 200 characters
    or a malformed secret; NotFound when no citizen has this national id. Ends every signed-in
    session of the citizen (new credentials are a change of who may act as them). Flushes, never
    commits.
    """
    errors: dict[str, list[str]] = {}
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        errors["password"] = [f"between {MIN_PASSWORD} and {MAX_PASSWORD} characters"]
    if totp_secret is not None and not TOTP_SECRET.fullmatch(totp_secret):
        errors["totp_secret"] = ["base32 (A-Z, 2-7), at least 32 characters"]
    if errors:
        raise ValidationFailed("account details not valid", errors)
    citizen = find_citizen_by_uinfin(session, vault=vault, uinfin=uinfin)
    if citizen is None:
        raise NotFound("no citizen with this national id")
    secret = totp_secret or pyotp.random_base32()
    account = session.get(CitizenAccount, citizen.id) or CitizenAccount(citizen_id=citizen.id, created_at=now)
    account.password_hash = _hasher.hash(password)
    account.last_totp_step = None
    account.updated_at = now
    _store_secret(account, secret, vault.keyring)
    session.add(account)
    revoke_all_for(session, role="citizen", subject=citizen.id, now=now, reason="credentials_changed")
    session.flush()
    # The authenticator app shows the label: the masked id is enough to tell accounts apart.
    label = partial_uinfin(uinfin.strip().upper())
    uri = pyotp.TOTP(secret).provisioning_uri(name=label, issuer_name=ISSUER)
    return Enrolment(citizen.id, secret, uri)


def authenticate(
    session: Session, *, vault: Vault, uinfin: str, password: str, totp_code: str, now: dt.datetime
) -> str:
    """The id of the citizen with this national id, if they have an account, the password is
    right and `totp_code` is the code for `now` (one step either side) and newer than any code
    they used before. Records the code's step, so it never works again; rehashes the password
    and re-wraps the TOTP secret when the hashing parameters or the active master key changed.

    Raises Unauthorized with one message whatever was wrong, and always runs one argon2
    verification, so neither the message nor the timing tells an unknown national id from a
    wrong password. Raises CryptoError if the stored secret cannot be unwrapped. Flushes, never
    commits.
    """
    account = _find_account_by_uinfin(session, vault=vault, uinfin=uinfin)
    password_ok = _password_matches(account.password_hash if account else _dummy_hash(), password)
    if account is None or not password_ok:
        raise Unauthorized(SIGN_IN_FAILED)
    secret = _load_secret(account, vault.keyring)
    step = _matching_step(pyotp.TOTP(secret), totp_code, now)
    if step is None or not _claim_step(session, account, step, now):
        raise Unauthorized(SIGN_IN_FAILED)
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    if account.totp_kid != vault.keyring.active_kid:
        _store_secret(account, secret, vault.keyring)
    session.flush()
    return account.citizen_id


def rewrap_batch(session: Session, *, keyring: MasterKeyring, batch_size: int = 500) -> int:
    """Re-wrap up to `batch_size` TOTP secrets still wrapped by a non-active master key under the
    active one; returns how many (0 when none is left). Run it to the end before removing an old
    master key: a secret wrapped by a key no longer configured cannot be opened, and its citizen
    cannot sign in. On PostgreSQL rows are claimed with SKIP LOCKED so several workers can run.
    Raises CryptoError for a secret that does not open. Flushes, never commits."""
    query = (
        select(CitizenAccount)
        .where(CitizenAccount.totp_kid != keyring.active_kid)
        .order_by(CitizenAccount.citizen_id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )
    accounts = list(session.scalars(query))
    for account in accounts:
        _store_secret(account, _load_secret(account, keyring), keyring)
    session.flush()
    return len(accounts)


def find_account(session: Session, citizen_id: str) -> CitizenAccount | None:
    """The citizen's account, or None if they cannot sign in locally."""
    return session.get(CitizenAccount, citizen_id)


def _find_account_by_uinfin(session: Session, *, vault: Vault, uinfin: str) -> CitizenAccount | None:
    value = (uinfin or "").strip().upper()
    if not is_valid_uinfin(value):
        return None
    return session.scalar(
        select(CitizenAccount)
        .join(Citizen, Citizen.id == CitizenAccount.citizen_id)
        .where(Citizen.uinfin_digest == vault.digest_uinfin(value))
    )


def _secret_context(citizen_id: str) -> bytes:
    # Distinct from the citizen's data-key context (the bare id): neither blob opens as the other.
    return associated_data("citizen-totp", citizen_id)


def _store_secret(account: CitizenAccount, secret: str, keyring: MasterKeyring) -> None:
    wrapped = keyring.wrap(secret.encode("ascii"), _secret_context(account.citizen_id))
    account.totp_kid, account.totp_secret_wrapped = wrapped.kid, wrapped.blob


def _load_secret(account: CitizenAccount, keyring: MasterKeyring) -> str:
    wrapped = WrappedKey(account.totp_kid, bytes(account.totp_secret_wrapped))
    return keyring.unwrap(wrapped, _secret_context(account.citizen_id)).decode("ascii")


def _claim_step(session: Session, account: CitizenAccount, step: int, now: dt.datetime) -> bool:
    """Record `step` as the last used one unless it is not newer: one conditional UPDATE, so of
    two sign-ins racing with the same code exactly one claims it (the row lock on PostgreSQL, the
    database lock on SQLite)."""
    result = session.execute(
        update(CitizenAccount)
        .where(
            CitizenAccount.citizen_id == account.citizen_id,
            or_(CitizenAccount.last_totp_step.is_(None), CitizenAccount.last_totp_step < step),
        )
        .values(last_totp_step=step, updated_at=now)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]
