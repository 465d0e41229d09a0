"""Reading a citizen's earlier values: what `field_versions` kept each time an agency's value or a
declaration was replaced (profile_store/fields.py, batch_writer.py), decrypted for the citizen.

Each superseded value is stored once, under the citizen's data key with the same associated data
it had while current (citizen, attribute, origin, version), so a row moved to another citizen or
attribute fails to decrypt.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Citizen, FieldVersion
from .vault import Vault, field_aad


@dataclass(frozen=True, slots=True)
class EarlierValue:
    """One value an attribute had before: its payload (the person format without provenance keys;
    None when the agency held nothing), where it came from, and when it stopped being current."""

    attribute: str
    origin: str  # fields.AGENCY or fields.DECLARED
    agency: str
    source: str
    value: Any
    unavailable: bool
    lastupdated: dt.date | None
    recorded_at: dt.datetime  # when it was last fetched (or declared) while current
    superseded_at: dt.datetime  # when a new value replaced it


def earlier_values(
    session: Session,
    *,
    vault: Vault,
    citizen: Citizen,
    attributes: Iterable[str] | None = None,
    per_attribute: int = 10,
) -> dict[str, list[EarlierValue]]:
    """The citizen's superseded values by attribute, newest first, at most `per_attribute` each
    (attributes never changed are absent). Raises CryptoError if a ciphertext fails authentication.
    Reads only, in the caller's transaction."""
    query = select(FieldVersion).where(FieldVersion.citizen_id == citizen.id)
    if attributes is not None:
        query = query.where(FieldVersion.attribute.in_(list(attributes)))
    query = query.order_by(FieldVersion.attribute, FieldVersion.superseded_at.desc(), FieldVersion.id.desc())
    kept: dict[str, list[FieldVersion]] = {}
    for row in session.scalars(query):
        rows = kept.setdefault(row.attribute, [])
        if len(rows) < per_attribute:
            rows.append(row)
    cipher = vault.cipher_for(citizen)
    sealed = [
        (row.ciphertext, field_aad(citizen.id, row.attribute, row.origin, row.version))
        for rows in kept.values()
        for row in rows
        if row.ciphertext is not None
    ]
    values = iter(cipher.decrypt_json_many(sealed))
    return {
        attribute: [
            EarlierValue(
                attribute=row.attribute,
                origin=row.origin,
                agency=row.agency,
                source=row.source,
                value=None if row.ciphertext is None else next(values),
                unavailable=row.unavailable or row.ciphertext is None,
                lastupdated=row.lastupdated,
                recorded_at=row.recorded_at,
                superseded_at=row.superseded_at,
            )
            for row in rows
        ]
        for attribute, rows in kept.items()
    }
