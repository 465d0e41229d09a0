"""Writing profile values: an agency's record, an agency failure, a citizen's declaration.

Every change keeps the superseded value in `field_versions`. Nothing here commits: the caller owns
the transaction, so a failure part-way leaves nothing half-written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.crypto.field_cipher import FieldCipher
from core.errors import ValidationFailed

from .catalogue import CITIZEN, META_KEYS, Catalogue, validate_item
from .models import (
    CITIZEN_PROVIDED,
    GOVERNMENT_VERIFIED,
    NOT_APPLICABLE,
    AgencySync,
    Citizen,
    Declaration,
    FieldVersion,
    ProfileField,
)
from .vault import Vault, field_aad

AGENCY, DECLARED = "agency", "citizen"


@dataclass
class ApplyResult:
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)


def check_agency_items(catalogue: Catalogue, agency: str, items: dict[str, Any]) -> dict[str, list[str]]:
    """Problems with an agency payload, by attribute: unknown names, foreign attributes, bad shapes."""
    problems: dict[str, list[str]] = {}
    for name, item in items.items():
        if name not in catalogue:
            problems[name] = ["unknown attribute"]
        elif catalogue[name].agency != agency:
            problems[name] = [f"attribute belongs to {catalogue[name].agency}, not {agency}"]
        elif reasons := validate_item(catalogue[name], item):
            problems[name] = reasons
    return problems


def apply_agency_record(
    session: Session,
    *,
    vault: Vault,
    catalogue: Catalogue,
    citizen: Citizen,
    agency: str,
    items: dict[str, Any] | None,
    now: dt.datetime,
    flush: bool = True,
) -> ApplyResult:
    """Store what one agency said about one citizen. `items=None` means the agency holds no record:
    all its attributes become unavailable. Attributes the agency owns but did not send become
    unavailable too. Raises ValidationFailed (nothing written) if any item is malformed.
    `flush=False` leaves the flush to a caller that stores many records at once."""
    items = items or {}
    if problems := check_agency_items(catalogue, agency, items):
        raise ValidationFailed(f"{agency} sent attributes that do not fit the catalogue", problems)
    cipher = vault.cipher_for(citizen)
    current = {
        f.attribute: f
        for f in session.scalars(
            select(ProfileField).where(ProfileField.citizen_id == citizen.id, ProfileField.agency == agency)
        )
    }
    result = ApplyResult()
    for attribute in catalogue.owned_by(agency):
        item = items.get(attribute.name)
        incoming = Incoming.from_item(item, attribute.shape, now)
        existing = current.get(attribute.name)
        if existing is None:
            existing = ProfileField(citizen_id=citizen.id, attribute=attribute.name, agency=agency, version=0)
            session.add(existing)
        elif same_value(existing, incoming, cipher):
            existing.lastupdated = incoming.lastupdated or existing.lastupdated
            existing.fetched_at = now
            result.unchanged.append(attribute.name)
            continue
        else:
            _archive(session, existing, AGENCY, now)
        existing.version += 1
        existing.source = incoming.source
        existing.unavailable = incoming.unavailable
        existing.lastupdated = incoming.lastupdated
        existing.fetched_at = now
        existing.ciphertext = (
            None
            if incoming.unavailable
            else cipher.encrypt_json(
                incoming.value, field_aad(citizen.id, attribute.name, AGENCY, existing.version)
            )
        )
        (result.unavailable if incoming.unavailable else result.changed).append(attribute.name)
    _mark_sync(session, citizen.id, agency, now, error=None)
    citizen.refreshed_at = now
    if flush:
        session.flush()
    return result


def record_agency_failure(
    session: Session, *, citizen_id: str, agency: str, reason: str, now: dt.datetime, flush: bool = True
) -> None:
    """Note a failed fetch. Stored values keep their last good value and original lastupdated."""
    _mark_sync(session, citizen_id, agency, now, error=reason[:200])
    if flush:
        session.flush()


def declare(
    session: Session,
    *,
    vault: Vault,
    catalogue: Catalogue,
    citizen: Citizen,
    attribute: str,
    value: Any,
    now: dt.datetime,
) -> Declaration:
    """Record a fact the citizen states (source "2"). Only declarable attributes; the value must fit
    the attribute's shape. Never touches the agency-held value."""
    if attribute not in catalogue or not catalogue[attribute].declarable:
        raise ValidationFailed("this attribute cannot be declared", {"attribute": ["not declarable"]})
    spec = catalogue[attribute]
    if reasons := validate_item(spec, value):
        raise ValidationFailed("declared value does not fit the attribute", {attribute: reasons})
    if isinstance(value, dict) and value.get("unavailable"):
        raise ValidationFailed("a declaration needs a value", {attribute: ["empty declaration"]})
    cipher = vault.cipher_for(citizen)
    payload = _strip_meta(value, spec.shape)
    existing = session.get(Declaration, (citizen.id, attribute))
    if existing is None:
        existing = Declaration(citizen_id=citizen.id, attribute=attribute, version=0, ciphertext=b"")
        session.add(existing)
    else:
        archive_declaration(session, existing, now)
    existing.version += 1
    existing.declared_at = now
    existing.ciphertext = cipher.encrypt_json(
        payload, field_aad(citizen.id, attribute, DECLARED, existing.version)
    )
    session.flush()
    return existing


@dataclass(frozen=True, slots=True)
class Incoming:
    """An agency's item as it will be stored: value without provenance keys, source, availability."""

    value: Any
    source: str
    unavailable: bool
    lastupdated: dt.date | None

    @classmethod
    def from_item(cls, item: Any, shape: str, now: dt.datetime) -> Incoming:
        if item is None or (isinstance(item, dict) and item.get("unavailable") is True):
            stamp = item.get("lastupdated") if isinstance(item, dict) else None
            return cls(None, GOVERNMENT_VERIFIED, True, _parse_date(stamp))
        stamp = item.get("lastupdated") if isinstance(item, dict) else None
        source = item.get("source") if isinstance(item, dict) else None
        return cls(
            _strip_meta(item, shape),
            NOT_APPLICABLE if source == NOT_APPLICABLE else GOVERNMENT_VERIFIED,
            False,
            _parse_date(stamp) or now.date(),
        )


def same_value(existing: Any, incoming: Incoming, cipher: FieldCipher) -> bool:
    """Whether a stored agency value (a ProfileField or a row with its columns) equals `incoming`."""
    if existing.unavailable or incoming.unavailable:
        return existing.unavailable == incoming.unavailable
    if existing.source != incoming.source or existing.ciphertext is None:
        return False
    aad = field_aad(existing.citizen_id, existing.attribute, AGENCY, existing.version)
    return cipher.decrypt_json(existing.ciphertext, aad) == incoming.value


def _archive(session: Session, existing: ProfileField, origin: str, now: dt.datetime) -> None:
    session.add(FieldVersion(**archived_values(existing, origin, now)))


def archive_declaration(session: Session, existing: Declaration, now: dt.datetime) -> None:
    """Keep a declaration being replaced or removed in `field_versions` (origin DECLARED)."""
    session.add(
        FieldVersion(
            citizen_id=existing.citizen_id,
            attribute=existing.attribute,
            origin=DECLARED,
            version=existing.version,
            agency=CITIZEN,
            source=CITIZEN_PROVIDED,
            lastupdated=existing.declared_at.date(),
            unavailable=False,
            ciphertext=existing.ciphertext,
            recorded_at=existing.declared_at,
            superseded_at=now,
        )
    )


def archived_values(existing: Any, origin: str, now: dt.datetime) -> dict[str, Any]:
    """The `field_versions` row keeping a superseded value (a ProfileField or a row with its columns)."""
    return {
        "citizen_id": existing.citizen_id,
        "attribute": existing.attribute,
        "origin": origin,
        "version": existing.version,
        "agency": existing.agency,
        "source": existing.source,
        "lastupdated": existing.lastupdated,
        "unavailable": existing.unavailable,
        "ciphertext": existing.ciphertext,
        "recorded_at": existing.fetched_at,
        "superseded_at": now,
    }


def _mark_sync(
    session: Session, citizen_id: str, agency: str, now: dt.datetime, *, error: str | None
) -> None:
    sync = session.get(AgencySync, (citizen_id, agency))
    if sync is None:
        sync = AgencySync(citizen_id=citizen_id, agency=agency, attempted_at=now)
        session.add(sync)
    sync.attempted_at = now
    sync.last_error = error
    if error is None:
        sync.succeeded_at = now


def _strip_meta(item: Any, shape: str) -> Any:
    if shape == "list":
        return [{k: v for k, v in element.items() if k not in META_KEYS} for element in item]
    return {k: v for k, v in item.items() if k not in META_KEYS}


def _parse_date(value: Any) -> dt.date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None
