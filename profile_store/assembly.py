"""Reading a profile: decrypt and assemble it in the person format of the MyInfo spec (section 8),
and a provenance view for people (operator page, later the portal)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .catalogue import CITIZEN, Attribute, Catalogue
from .fields import AGENCY, DECLARED
from .models import CITIZEN_PROVIDED, GOVERNMENT_VERIFIED, AgencySync, Citizen, Declaration, ProfileField
from .vault import Vault, field_aad


@dataclass(frozen=True)
class FieldView:
    """One attribute as a person should see it: value and where it came from."""

    attribute: Attribute
    item: Any  # person-format item (dict, or list for list-shaped attributes)
    agency: str
    source: str
    lastupdated: dt.date | None
    fetched_at: dt.datetime | None
    unavailable: bool
    declared: bool


def load_fields(
    session: Session,
    *,
    vault: Vault,
    catalogue: Catalogue,
    citizen: Citizen,
    attributes: Iterable[str] | None = None,
) -> dict[str, FieldView]:
    """Decrypt the citizen's values. A government-verified value wins; a declaration fills in only
    where no agency value is available; anything else is reported unavailable. Raises CryptoError
    if any ciphertext fails authentication."""
    wanted = [a for a in (attributes if attributes is not None else catalogue.names()) if a in catalogue]
    # Plain rows, not ORM objects: a profile read is on every disclosure's hot path.
    field_query = select(ProfileField.__table__).where(ProfileField.citizen_id == citizen.id)
    declaration_query = select(Declaration.__table__).where(Declaration.citizen_id == citizen.id)
    if attributes is not None:
        field_query = field_query.where(ProfileField.attribute.in_(wanted))
        declaration_query = declaration_query.where(Declaration.attribute.in_(wanted))
    fields = {f.attribute: f for f in session.execute(field_query)}
    declarations = {d.attribute: d for d in session.execute(declaration_query)}
    cipher = vault.cipher_for(citizen)
    views: dict[str, FieldView] = {}
    for name in wanted:
        spec = catalogue[name]
        stored, declared = fields.get(name), declarations.get(name)
        if stored is not None and not stored.unavailable:
            value = cipher.decrypt_json(
                stored.ciphertext, field_aad(citizen.id, name, AGENCY, stored.version)
            )
            views[name] = FieldView(
                spec,
                _item(spec, value, stored.source, stored.lastupdated),
                stored.agency,
                stored.source,
                stored.lastupdated,
                stored.fetched_at,
                False,
                False,
            )
        elif declared is not None:
            value = cipher.decrypt_json(
                declared.ciphertext, field_aad(citizen.id, name, DECLARED, declared.version)
            )
            stamp = declared.declared_at.date()
            views[name] = FieldView(
                spec,
                _item(spec, value, CITIZEN_PROVIDED, stamp),
                CITIZEN,
                CITIZEN_PROVIDED,
                stamp,
                declared.declared_at,
                False,
                True,
            )
        else:
            source = CITIZEN_PROVIDED if spec.agency == CITIZEN else GOVERNMENT_VERIFIED
            stamp = stored.lastupdated if stored is not None else None
            views[name] = FieldView(
                spec,
                _unavailable(spec, source, stamp),
                spec.agency,
                source,
                stamp,
                stored.fetched_at if stored is not None else None,
                True,
                False,
            )
    return views


def assemble_person(
    session: Session,
    *,
    vault: Vault,
    catalogue: Catalogue,
    citizen: Citizen,
    attributes: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The person JSON: exactly the requested attributes, each with its provenance properties."""
    views = load_fields(session, vault=vault, catalogue=catalogue, citizen=citizen, attributes=attributes)
    return {name: view.item for name, view in views.items()}


def agency_status(session: Session, citizen_id: str) -> dict[str, AgencySync]:
    return {
        s.agency: s for s in session.scalars(select(AgencySync).where(AgencySync.citizen_id == citizen_id))
    }


def _props(source: str, lastupdated: dt.date | None) -> dict[str, Any]:
    return {
        "lastupdated": lastupdated.isoformat() if lastupdated else "",
        "source": source,
        "classification": "C",
    }


def _item(spec: Attribute, value: Any, source: str, lastupdated: dt.date | None) -> Any:
    props = _props(source, lastupdated)
    if spec.shape == "list":
        return [{**element, **props} for element in value]
    return {**value, **props}


def _unavailable(spec: Attribute, source: str, lastupdated: dt.date | None) -> Any:
    if spec.shape == "list":
        return []
    return {**_props(source, lastupdated), "unavailable": True}
