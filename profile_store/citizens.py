"""Creating and finding citizens. The national id is stored only as a keyed digest (lookup) and a
ciphertext under the citizen's own data key (to call agencies)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound, ValidationFailed
from core.uinfin import is_valid_uinfin

from .models import Citizen, new_citizen_id
from .vault import Vault, uinfin_aad


def create_citizen(session: Session, *, vault: Vault, uinfin: str, now: dt.datetime) -> Citizen:
    """Add a citizen (flushed, not committed). Raises ValidationFailed for a malformed national id
    and Conflict when the citizen exists."""
    uinfin = normalise_uinfin(uinfin)
    digest = vault.digest_uinfin(uinfin)
    if session.scalar(select(Citizen.id).where(Citizen.uinfin_digest == digest)) is not None:
        raise Conflict("a citizen with this national id already exists")
    citizen_id = new_citizen_id()
    cipher, wrapped = vault.new_data_key(citizen_id)
    citizen = Citizen(
        id=citizen_id,
        uinfin_digest=digest,
        uinfin_ciphertext=cipher.encrypt(uinfin.encode(), uinfin_aad(citizen_id)),
        dek_kid=wrapped.kid,
        dek_wrapped=wrapped.blob,
        created_at=now,
    )
    session.add(citizen)
    session.flush()
    return citizen


def ensure_citizen(session: Session, *, vault: Vault, uinfin: str, now: dt.datetime) -> Citizen:
    """The citizen with this national id, created if new (inside the caller's transaction)."""
    return find_citizen_by_uinfin(session, vault=vault, uinfin=uinfin) or create_citizen(
        session, vault=vault, uinfin=uinfin, now=now
    )


def find_citizen_by_uinfin(session: Session, *, vault: Vault, uinfin: str) -> Citizen | None:
    digest = vault.digest_uinfin(normalise_uinfin(uinfin))
    return session.scalar(select(Citizen).where(Citizen.uinfin_digest == digest))


def get_citizen(session: Session, citizen_id: str) -> Citizen:
    citizen = session.get(Citizen, citizen_id)
    if citizen is None:
        raise NotFound("no such citizen")
    return citizen


def count_citizens(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Citizen)) or 0


def reveal_uinfin(vault: Vault, citizen: Citizen) -> str:
    return vault.cipher_for(citizen).decrypt(citizen.uinfin_ciphertext, uinfin_aad(citizen.id)).decode()


def normalise_uinfin(uinfin: str) -> str:
    value = (uinfin or "").strip().upper()
    if not is_valid_uinfin(value):
        raise ValidationFailed("not a valid national id", {"uinfin": ["not a valid NRIC/FIN"]})
    return value
