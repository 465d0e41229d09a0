"""Re-encrypting citizens under the active master key, in batches.

Each batch is one transaction: a crash loses at most the batch in flight, and a rerun picks up the
citizens whose data key is still wrapped by an old master key. A rotated citizen gets a brand-new
data key, and every ciphertext (national id, fields, declarations, history) is re-encrypted.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .fields import AGENCY, DECLARED
from .models import Citizen, Declaration, FieldVersion, ProfileField
from .vault import Vault, field_aad, uinfin_aad


def _old_kids(vault: Vault) -> list[str]:
    # IN (the keyring's other kids), not "!= active": an equality set can use the index on
    # dek_kid, an inequality scans every citizen. A kid missing from the keyring cannot be
    # unwrapped, so it could not be rotated anyway.
    return [kid for kid in vault.keyring.kids if kid != vault.keyring.active_kid]


def pending_rotation(session: Session, *, vault: Vault) -> int:
    """How many citizens still have a data key wrapped by a non-active master key."""
    query = select(func.count()).select_from(Citizen).where(Citizen.dek_kid.in_(_old_kids(vault)))
    return session.scalar(query) or 0


def rotate_batch(session: Session, *, vault: Vault, batch_size: int = 500) -> int:
    """Re-key up to `batch_size` citizens inside the caller's transaction; returns how many.
    On PostgreSQL rows are claimed with SKIP LOCKED so several workers can rotate at once."""
    query = (
        select(Citizen)
        .where(Citizen.dek_kid.in_(_old_kids(vault)))
        .order_by(Citizen.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )
    citizens = list(session.scalars(query))
    for citizen in citizens:
        _rekey(session, vault, citizen)
    session.flush()
    return len(citizens)


def _rekey(session: Session, vault: Vault, citizen: Citizen) -> None:
    old = vault.cipher_for(citizen)
    new, wrapped = vault.new_data_key(citizen.id)

    def move(blob: bytes | None, aad: bytes) -> bytes | None:
        return None if blob is None else new.encrypt(old.decrypt(blob, aad), aad)

    citizen.uinfin_ciphertext = move(citizen.uinfin_ciphertext, uinfin_aad(citizen.id))
    for row in session.scalars(select(ProfileField).where(ProfileField.citizen_id == citizen.id)):
        row.ciphertext = move(row.ciphertext, field_aad(citizen.id, row.attribute, AGENCY, row.version))
    for row in session.scalars(select(Declaration).where(Declaration.citizen_id == citizen.id)):
        row.ciphertext = move(row.ciphertext, field_aad(citizen.id, row.attribute, DECLARED, row.version))
    for row in session.scalars(select(FieldVersion).where(FieldVersion.citizen_id == citizen.id)):
        row.ciphertext = move(row.ciphertext, field_aad(citizen.id, row.attribute, row.origin, row.version))
    citizen.dek_kid, citizen.dek_wrapped = wrapped.kid, wrapped.blob
