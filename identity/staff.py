"""Staff accounts: add, authenticate (argon2id password plus a single-use TOTP code), change roles,
disable, list.

TOTP secrets (RFC 6238, 30-second steps, 6 digits) are encrypted with AES-256-GCM under a key
derived by HKDF-SHA256 from SECRET_KEY, the username as associated data: the same key and
associated data as the legacy auditor accounts (audit/auditors.py), so an `auditors` row can move
into this table as it is, its secret still decryptable. Rotating SECRET_KEY means re-enrolling
staff, as it does for auditors.

Disabling an account or taking a role away revokes every session of the account in the same
transaction (identity.web_sessions, role "staff", subject the account id).

Every function runs inside the caller's transaction: it flushes and never commits.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

import pyotp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from core.credentials import dummy_hash as _dummy_hash
from core.credentials import hasher as _hasher
from core.credentials import matching_step as _matching_step
from core.credentials import password_matches as _password_matches
from core.crypto.field_cipher import FieldCipher, associated_data
from core.errors import Conflict, NotFound, Unauthorized, ValidationFailed

from . import web_sessions
from .staff_models import STAFF_ROLES, StaffMember

ISSUER = "Consentry"
SESSION_ROLE = "staff"
SIGN_IN_FAILED = "The username, password or code is not correct"
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
MIN_PASSWORD, MAX_PASSWORD = 12, 200
USERNAME_RULE = "3 to 64 of a-z 0-9 . _ -, starting with a letter or digit"


class StaffSignInFailed(Unauthorized):
    """A refused sign-in. `staff_id` names the account tried, when the username is one (for the
    audit log, never for the person signing in: the message is always SIGN_IN_FAILED)."""

    def __init__(self, staff_id: str | None) -> None:
        super().__init__(SIGN_IN_FAILED)
        self.staff_id = staff_id


@dataclass(frozen=True)
class Enrolment:
    member: StaffMember
    totp_secret: str  # base32: show once, never store or log
    provisioning_uri: str


def staff_totp_key(secret_key: str) -> bytes:
    """The AES-256 key that encrypts staff TOTP secrets (the auditors' derivation, see above)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"auditor-totp").derive(
        secret_key.encode()
    )


def add_staff(
    session: Session,
    *,
    username: str,
    password: str,
    roles: Iterable[str],
    now: dt.datetime,
    totp_key: bytes,
    totp_secret: str | None = None,
) -> Enrolment:
    """Add a member of staff with `roles` and a fresh TOTP secret (or `totp_secret`, for the demo's
    published accounts). Returns the member, the secret and its otpauth:// URI: show them once.
    Raises ValidationFailed naming every bad field at once (username, password, roles), Conflict
    for a username already taken."""
    wanted = _checked(username=username, password=password, roles=roles)
    if find_staff(session, username=username) is not None:
        raise Conflict("a member of staff with that username already exists")
    secret = totp_secret or pyotp.random_base32()
    member = StaffMember(
        username=username,
        roles=",".join(wanted),
        password_hash=_hasher.hash(password),
        totp_secret=FieldCipher(totp_key).encrypt(secret.encode(), _totp_aad(username)),
        created_at=now,
        disabled=False,
    )
    session.add(member)
    session.flush()
    uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)
    return Enrolment(member, secret, uri)


def authenticate(
    session: Session, *, username: str, password: str, code: str, now: dt.datetime, totp_key: bytes
) -> StaffMember:
    """The member named `username`, if the password and the TOTP code for `now` are right, the code
    is newer than the last one accepted and the account is not disabled; records the code's step
    (one conditional UPDATE, so of two sign-ins racing with one code exactly one wins) and the
    sign-in time. Raises StaffSignInFailed with one message whatever went wrong, and always runs
    an argon2 verification, so neither the message nor the timing tells an unknown username apart."""
    member = find_staff(session, username=username)
    password_ok = _password_matches(member.password_hash if member else _dummy_hash(), password)
    if member is None or not password_ok or member.disabled:
        raise StaffSignInFailed(member.id if member else None)
    secret = FieldCipher(totp_key).decrypt(member.totp_secret, _totp_aad(member.username)).decode()
    step = _matching_step(pyotp.TOTP(secret), code, now)
    if step is None or not _claim_step(session, member, step):
        raise StaffSignInFailed(member.id)
    member.last_totp_step = step
    member.last_login_at = now
    if _hasher.check_needs_rehash(member.password_hash):
        member.password_hash = _hasher.hash(password)
    session.flush()
    return member


def current_code(member: StaffMember, *, totp_key: bytes, now: dt.datetime) -> str:
    """The member's TOTP code for `now` (the demo prints it, like the demo citizens' codes)."""
    secret = FieldCipher(totp_key).decrypt(member.totp_secret, _totp_aad(member.username)).decode()
    return pyotp.TOTP(secret).at(now)


def find_staff(session: Session, *, username: str) -> StaffMember | None:
    if not isinstance(username, str) or not USERNAME.fullmatch(username):
        return None
    return session.scalar(select(StaffMember).where(StaffMember.username == username))


def get_staff(session: Session, *, username: str) -> StaffMember:
    """The member named `username`; raises NotFound."""
    member = find_staff(session, username=username)
    if member is None:
        raise NotFound("no member of staff with that username")
    return member


def find_active_staff(session: Session, staff_id: str) -> StaffMember | None:
    """The member with this id unless disabled (a signed-in session of a disabled member ends)."""
    member = session.get(StaffMember, staff_id, populate_existing=True)
    return member if member is not None and not member.disabled else None


def list_staff(session: Session) -> list[StaffMember]:
    return list(session.scalars(select(StaffMember).order_by(StaffMember.username)))


def any_staff(session: Session) -> bool:
    """Whether any staff account exists (none: the sign-in page says how to add the first admin)."""
    return bool(session.scalar(select(func.count()).select_from(StaffMember)))


def disable_staff(session: Session, *, username: str, now: dt.datetime) -> StaffMember:
    """Disable a member: their sign-ins fail and every session of theirs is revoked. Disabling a
    disabled member changes nothing. Raises NotFound for an unknown username."""
    member = get_staff(session, username=username)
    if not member.disabled:
        member.disabled, member.disabled_at = True, now
        web_sessions.revoke_all_for(
            session, role=SESSION_ROLE, subject=member.id, now=now, reason="staff_disabled"
        )
    session.flush()
    return member


def set_roles(session: Session, *, username: str, roles: Iterable[str], now: dt.datetime) -> StaffMember:
    """Replace a member's roles. Any change revokes every session of theirs: taking a role away
    must take effect at once, and a role added is new power that a token issued before it (one
    that may have been seen or planted) must not carry, so they sign in again for a new one.
    Raises NotFound, or ValidationFailed for no role or an unknown one."""
    wanted = _checked_roles(roles, {})
    member = get_staff(session, username=username)
    if member.role_set != set(wanted):
        web_sessions.revoke_all_for(
            session, role=SESSION_ROLE, subject=member.id, now=now, reason="roles_changed"
        )
    member.roles = ",".join(wanted)
    session.flush()
    return member


def _checked(*, username: str, password: str, roles: Iterable[str]) -> list[str]:
    errors: dict[str, list[str]] = {}
    if not isinstance(username, str) or not USERNAME.fullmatch(username):
        errors["username"] = [USERNAME_RULE]
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        errors["password"] = [f"between {MIN_PASSWORD} and {MAX_PASSWORD} characters"]
    return _checked_roles(roles, errors)


def _checked_roles(roles: Iterable[str], errors: dict[str, list[str]]) -> list[str]:
    wanted = sorted(set(roles))
    if not wanted:
        errors["roles"] = [f"at least one of {', '.join(STAFF_ROLES)}"]
    elif unknown := [role for role in wanted if role not in STAFF_ROLES]:
        errors["roles"] = [f"unknown role {', '.join(unknown)}: one of {', '.join(STAFF_ROLES)}"]
    if errors:
        raise ValidationFailed("staff details not valid", errors)
    return wanted


def _totp_aad(username: str) -> bytes:
    return associated_data("auditor-totp", username)


def _claim_step(session: Session, member: StaffMember, step: int) -> bool:
    result = session.execute(
        update(StaffMember)
        .where(
            StaffMember.id == member.id,
            or_(StaffMember.last_totp_step.is_(None), StaffMember.last_totp_step < step),
        )
        .values(last_totp_step=step)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]
