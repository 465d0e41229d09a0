"""Recovery codes and the lost-authenticator path: ten single-use codes, shown once at
activation; password + one code opens an enrolment limited to choosing a new authenticator, and
confirming it with one code makes that the account's authenticator.

Every function runs inside the caller's transaction: it flushes and never commits.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core.crypto.keyring import MasterKeyring
from core.errors import Conflict, Unauthorized, ValidationFailed
from profile_store.vault import Vault

from . import enrolment
from .accounts import _dummy_hash, _find_account_by_uinfin, _password_matches
from .activation_models import RecoveryCode
from .codes import code_digest, new_code
from .models import CitizenAccount
from .web_sessions import revoke_all_for

COUNT = 10
PURPOSE = "recover"
RECOVERY_FAILED = "The NRIC or FIN, password or recovery code is not correct"
CODE_USED = "This recovery code has already been used. Enter one you have not used"


class RecoveryRefused(Unauthorized):
    """A failed recovery sign-in; `citizen_id` is set when the national id has an account (for the
    audit entry, never shown), `reused` when the password was right but the code used before."""

    def __init__(self, message: str, *, citizen_id: str | None = None, reused: bool = False) -> None:
        super().__init__(message)
        self.citizen_id, self.reused = citizen_id, reused


def replace_recovery_codes(session: Session, *, citizen_id: str, key: bytes, now: dt.datetime) -> list[str]:
    """Make COUNT new recovery codes for the citizen, replacing all earlier ones; returns them
    (to show once: only their digests are kept). Flushes."""
    session.execute(
        delete(RecoveryCode)
        .where(RecoveryCode.citizen_id == citizen_id)
        .execution_options(synchronize_session=False)
    )
    codes = [new_code(10, group=5) for _ in range(COUNT)]
    for code in codes:
        session.add(
            RecoveryCode(
                id=str(uuid.uuid4()),
                citizen_id=citizen_id,
                code_hash=code_digest(key, PURPOSE, code),
                created_at=now,
            )
        )
    session.flush()
    return codes


def unused_count(session: Session, citizen_id: str) -> int:
    return len(
        list(
            session.scalars(
                select(RecoveryCode.id).where(
                    RecoveryCode.citizen_id == citizen_id, RecoveryCode.used_at.is_(None)
                )
            )
        )
    )


def sign_in_with_recovery_code(
    session: Session,
    *,
    vault: Vault,
    key: bytes,
    uinfin: str,
    password: str,
    recovery_code: str,
    now: dt.datetime,
) -> tuple[str, str]:
    """Check national id, password and one unused recovery code; the code is used up (one
    conditional UPDATE: of two racing uses exactly one wins). Returns a token naming an enrolment
    limited to choosing a new authenticator, and the citizen's id.

    Raises RecoveryRefused (an Unauthorized): RECOVERY_FAILED whatever was wrong (one argon2
    verification always), or, once the password is right, CODE_USED for a code already used.
    Flushes."""
    account = _find_account_by_uinfin(session, vault=vault, uinfin=uinfin)
    password_ok = _password_matches(account.password_hash if account else _dummy_hash(), password)
    if account is None or not password_ok:
        raise RecoveryRefused(RECOVERY_FAILED, citizen_id=account.citizen_id if account else None)
    digest = code_digest(key, PURPOSE, recovery_code)
    row = session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.citizen_id == account.citizen_id, RecoveryCode.code_hash == digest
        )
    )
    if row is None:
        raise RecoveryRefused(RECOVERY_FAILED, citizen_id=account.citizen_id)
    claimed = session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.id == row.id, RecoveryCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise RecoveryRefused(CODE_USED, citizen_id=account.citizen_id, reused=True)
    token = enrolment.start(session, purpose=PURPOSE, citizen_id=account.citizen_id, now=now)
    return token, account.citizen_id


def finish_reenrolment(
    session: Session, *, progress, keyring: MasterKeyring, totp_code: str, now: dt.datetime
) -> str:
    """Make the authenticator of this recovery enrolment the account's, confirmed by one code;
    ends every session of the citizen and the enrolment. Returns the citizen's id. Raises
    ValidationFailed (field `code`) for a wrong code, Conflict when the account is gone."""
    account = session.get(CitizenAccount, progress.citizen_id)
    if progress.purpose != PURPOSE or account is None:
        raise Conflict("There is no account to re-enrol")
    secret = enrolment.pending_secret(progress, keyring)
    step = enrolment.matching_step(secret, totp_code, now)
    if step is None:
        raise ValidationFailed("code not accepted", {"code": [enrolment.WRONG_CODE]})
    account.totp_kid, account.totp_secret_wrapped = progress.totp_kid, progress.totp_secret_wrapped
    account.last_totp_step, account.updated_at = step, now
    revoke_all_for(session, role="citizen", subject=account.citizen_id, now=now, reason="credentials_changed")
    enrolment.discard(session, progress)
    return account.citizen_id
