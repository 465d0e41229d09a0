"""Activation letters and the citizen's own activation: national id + activation code, a
password of their choosing, an authenticator confirmed with one code, ten recovery codes.

Signing up is the citizen's choice: an agency or operator issues a letter (`issue_letter`), never
a password. The code is short, so each letter takes at most MAX_WRONG wrong codes before it is
locked (the web layer also limits attempts per national id and per address). What the citizen has
done between the pages is kept server-side in `enrolments_in_progress`, named by a random token
the browser holds; the account exists only once the authenticator is confirmed.

Every function runs inside the caller's transaction: it flushes and never commits.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.crypto.keyring import MasterKeyring
from core.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from profile_store.citizens import find_citizen_by_uinfin
from profile_store.vault import Vault

from . import accounts, enrolment
from .activation_models import ActivationLetter, EnrolmentInProgress
from .codes import code_digest, new_code
from .models import CitizenAccount
from .passwords import password_problem
from .recovery import replace_recovery_codes
from .web_sessions import revoke_all_for

LETTER_VALID_FOR = dt.timedelta(days=30)
MAX_WRONG = 5
PURPOSE = "activate"
ACTIVATION_FAILED = "The NRIC or FIN or activation code is not correct"
LETTER_EXPIRED = "This activation code has expired. Ask the agency that sent it for a new letter"
LETTER_LOCKED = "This activation code was entered wrongly too many times. Ask for a new letter"
LETTER_USED = "This activation code has already been used. Sign in, or ask for a new letter"


@dataclass(frozen=True)
class IssuedLetter:
    """What goes into the envelope: print or export `code` once, never store or log it."""

    letter_id: str
    citizen_id: str
    code: str
    expires_at: dt.datetime


def issue_letter(
    session: Session,
    *,
    vault: Vault,
    key: bytes,
    uinfin: str,
    now: dt.datetime,
    valid_for: dt.timedelta = LETTER_VALID_FOR,
) -> IssuedLetter:
    """Issue a new activation letter for the citizen with this national id, revoking every
    earlier letter of theirs not yet used (one letter at a time). Raises NotFound when no citizen
    has this national id, ValidationFailed for a validity that is not positive. Flushes."""
    if valid_for <= dt.timedelta(0):
        raise ValidationFailed("letter not valid", {"valid_for": ["a positive duration"]})
    citizen = find_citizen_by_uinfin(session, vault=vault, uinfin=uinfin)
    if citizen is None:
        raise NotFound("no citizen with this national id")
    revoke_letters(session, citizen_id=citizen.id, now=now)
    code = new_code(12, group=4)
    letter = ActivationLetter(
        id=str(uuid.uuid4()),
        citizen_id=citizen.id,
        code_hash=code_digest(key, PURPOSE, code),
        issued_at=now,
        expires_at=now + valid_for,
        failed_attempts=0,
    )
    session.add(letter)
    session.flush()
    return IssuedLetter(letter.id, citizen.id, code, letter.expires_at)


def revoke_letters(session: Session, *, citizen_id: str, now: dt.datetime) -> None:
    """Revoke the citizen's letters not yet used (in the caller's transaction): a new letter
    replaces them, and a closed account has none."""
    session.execute(
        update(ActivationLetter)
        .where(
            ActivationLetter.citizen_id == citizen_id,
            ActivationLetter.used_at.is_(None),
            ActivationLetter.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


class ActivationRefused(Unauthorized):
    """A wrong, expired, locked or used code. `citizen_id` is set when the national id was known
    (for the audit entry); `locked` when this attempt locked the letter. The caller commits, so
    the wrong try stays counted."""

    def __init__(self, message: str, *, citizen_id: str | None = None, locked: bool = False) -> None:
        super().__init__(message)
        self.citizen_id, self.locked = citizen_id, locked


def start_activation(
    session: Session, *, vault: Vault, key: bytes, uinfin: str, code: str, now: dt.datetime
) -> tuple[str, str]:
    """Check a national id and activation code against the citizen's current letter; returns a
    token naming the activation now in progress and the citizen's id.

    Raises ActivationRefused: the one message ACTIVATION_FAILED for an unknown id, no letter or a
    wrong code (counted: the MAX_WRONG-th wrong code locks the letter); with the right code, says
    whether the letter expired, was locked or was used. Flushes."""
    citizen = find_citizen_by_uinfin(session, vault=vault, uinfin=uinfin)
    letter = None
    if citizen is not None:
        query = (
            select(ActivationLetter)
            .where(ActivationLetter.citizen_id == citizen.id, ActivationLetter.revoked_at.is_(None))
            .order_by(ActivationLetter.issued_at.desc())
            .limit(1)
            .with_for_update()
        )
        letter = session.scalar(query.execution_options(populate_existing=True))
    if letter is None:
        raise ActivationRefused(ACTIVATION_FAILED, citizen_id=citizen.id if citizen else None)
    if not enrolment.same_digest(letter.code_hash, code_digest(key, PURPOSE, code)):
        locked = False
        if letter.live_at(now):
            letter.failed_attempts += 1
            if letter.failed_attempts >= MAX_WRONG:
                letter.locked_at, locked = now, True
            session.flush()
        raise ActivationRefused(ACTIVATION_FAILED, citizen_id=letter.citizen_id, locked=locked)
    problem = (LETTER_USED if letter.used_at else LETTER_LOCKED if letter.locked_at else None) or (
        LETTER_EXPIRED if now >= letter.expires_at else None
    )
    if problem:
        raise ActivationRefused(problem, citizen_id=letter.citizen_id)
    token = enrolment.start(
        session, purpose=PURPOSE, citizen_id=letter.citizen_id, letter_id=letter.id, now=now
    )
    return token, letter.citizen_id


def choose_password(
    session: Session, *, progress: EnrolmentInProgress, uinfin: str, password: str, confirm: str
) -> None:
    """Keep the citizen's chosen password (hashed) with the activation in progress. Raises
    ValidationFailed (fields `password`, `confirm`) for a weak password or a mismatch. Flushes."""
    problem = password_problem(password, uinfin=uinfin)
    if problem:
        raise ValidationFailed("password not accepted", {"password": [problem]})
    if password != confirm:
        raise ValidationFailed("passwords differ", {"confirm": ["The passwords do not match"]})
    progress.password_hash = accounts._hasher.hash(password)
    session.flush()


def finish_activation(
    session: Session,
    *,
    progress: EnrolmentInProgress,
    keyring: MasterKeyring,
    key: bytes,
    totp_code: str,
    now: dt.datetime,
) -> list[str]:
    """Confirm the authenticator with one code and open the account: the password and secret
    from the activation in progress become the citizen's credentials, the letter is used, every
    other session of theirs ends, and ten new recovery codes replace any earlier ones. Returns
    the recovery codes, to show once.

    Raises ValidationFailed (field `code`) for a wrong code; Conflict when the letter was used,
    revoked or locked meanwhile (a double submit, a newer letter). Flushes."""
    if progress.purpose != PURPOSE or progress.password_hash is None or progress.finished_at is not None:
        raise Conflict("This activation has already finished")
    secret = enrolment.pending_secret(progress, keyring)
    step = enrolment.matching_step(secret, totp_code, now)
    if step is None:
        raise ValidationFailed("code not accepted", {"code": [enrolment.WRONG_CODE]})
    claimed = session.execute(
        update(ActivationLetter)
        .where(
            ActivationLetter.id == progress.letter_id,
            ActivationLetter.used_at.is_(None),
            ActivationLetter.revoked_at.is_(None),
            ActivationLetter.locked_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(LETTER_USED)
    account = session.get(CitizenAccount, progress.citizen_id) or CitizenAccount(
        citizen_id=progress.citizen_id, created_at=now
    )
    account.password_hash = progress.password_hash
    account.totp_kid, account.totp_secret_wrapped = progress.totp_kid, progress.totp_secret_wrapped
    account.last_totp_step, account.updated_at = step, now
    session.add(account)
    revoke_all_for(
        session, role="citizen", subject=progress.citizen_id, now=now, reason="credentials_changed"
    )
    progress.finished_at = now
    codes = replace_recovery_codes(session, citizen_id=progress.citizen_id, key=key, now=now)
    session.flush()
    return codes
