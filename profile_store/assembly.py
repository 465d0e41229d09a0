"""Reading a profile: decrypt and assemble it in the person format of the MyInfo spec (section 8),
and a provenance view for people (operator page, later the portal).

A profile read is on every disclosure's hot path, so it reads plain Core rows (no ORM objects, no
identity map), agency values and declarations in one query, unwraps the citizen's data key once,
and decrypts and parses every value in one pass (`FieldCipher.decrypt_json_many`). Each value is
still AES-256-GCM under the citizen's data key with the citizen, attribute, origin and version as
associated data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CompoundSelect, bindparam, literal_column, null, select, type_coerce, union_all
from sqlalchemy.orm import Session

from core.db import UTCDateTime
from core.driver_sql import DriverStatement

from .catalogue import CITIZEN, Attribute, Catalogue
from .fields import AGENCY, DECLARED
from .models import CITIZEN_PROVIDED, GOVERNMENT_VERIFIED, AgencySync, Declaration, ProfileField
from .vault import KeyedCitizen, Vault, field_aad


@dataclass(frozen=True, slots=True)
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


_F, _D = ProfileField.__table__.c, Declaration.__table__.c
# One row layout for agency values and declarations, read in one UNION ALL (one round trip, not
# two): a declaration has no source, dates or agency of its own, an agency value no declared_at.
(_ORIGIN, _ATTRIBUTE, _SOURCE, _LASTUPDATED, _UNAVAILABLE, _CIPHERTEXT, _VERSION, _AGENCY, _FETCHED_AT,
 _DECLARED_AT) = range(10)  # fmt: skip


_SYNCS = AgencySync.__table__.c
_SYNC = "sync"  # the origin of a row that is an agency's last success for the citizen, not a value


def _statement(*, provenance: bool, subset: bool, syncs: bool = False) -> CompoundSelect:
    """Built once: a statement object reused with bound parameters skips SQL construction. Without
    `provenance` (the person format) the agency and fetch time are left out: parsing a timestamp
    per value was a fifth of an assembly on SQLite. With `syncs`, each agency's last success
    rides along (origin `_SYNC`, the agency as attribute, the time as declared_at): a release
    learns what is stale in the same round trip as the values."""
    fields = select(
        literal_column(f"'{AGENCY}'").label("origin"),
        *(_F.attribute, _F.source, _F.lastupdated, _F.unavailable, _F.ciphertext, _F.version),
        *((_F.agency, _F.fetched_at) if provenance else (null(), null())),
        # Typed here: a UNION's rows are read with its first SELECT's column types.
        type_coerce(null(), UTCDateTime()).label("declared_at"),
    ).where(_F.citizen_id == bindparam("citizen_id"))
    declarations = select(
        literal_column(f"'{DECLARED}'"),
        *(_D.attribute, null(), null(), null(), _D.ciphertext, _D.version, null(), null(), _D.declared_at),
    ).where(_D.citizen_id == bindparam("citizen_id"))
    if subset:
        fields = fields.where(_F.attribute.in_(bindparam("names", expanding=True)))
        declarations = declarations.where(_D.attribute.in_(bindparam("names", expanding=True)))
    if not syncs:
        return union_all(fields, declarations)
    last = select(
        literal_column(f"'{_SYNC}'"),
        *(_SYNCS.agency, null(), null(), null(), null(), null(), null(), null(), _SYNCS.succeeded_at),
    ).where(_SYNCS.citizen_id == bindparam("citizen_id"))
    return union_all(fields, declarations, last)


_QUERIES = {
    (provenance, subset, syncs): DriverStatement(
        _statement(provenance=provenance, subset=subset, syncs=syncs), expanding=("names",) if subset else ()
    )
    for provenance in (False, True)
    for subset in (False, True)
    for syncs in (False, True)
}


@dataclass(frozen=True, slots=True)
class PersonRead:
    """A citizen's stored values for a release, not yet decrypted, and when each agency ever
    tried last answered successfully (None: never), read in one round trip (`read_person`)."""

    citizen_id: str
    attributes: list[str] | None
    rows: list[Any]
    last_successes: dict[str, dt.datetime | None]


def read_person(session: Session, *, citizen_id: str, attributes: Iterable[str] | None = None) -> PersonRead:
    """One query for `assemble_read` and for the freshness check (what `last_successes` says).
    Reads only, in the caller's transaction."""
    wanted = None if attributes is None else list(attributes)
    rows, synced = [], {}
    for row in _execute(session, citizen_id=citizen_id, attributes=wanted, provenance=False, syncs=True):
        if row[_ORIGIN] == _SYNC:
            synced[row[_ATTRIBUTE]] = row[_DECLARED_AT]
        else:
            rows.append(row)
    return PersonRead(citizen_id, wanted, rows, synced)


def assemble_read(
    read: PersonRead, *, vault: Vault, catalogue: Catalogue, citizen: KeyedCitizen
) -> dict[str, Any]:
    """`assemble_person` of what `read_person` read (`citizen` its citizen, for the data key)."""
    if citizen.id != read.citizen_id:
        raise ValueError("this read is another citizen's")
    plan, values = _plan(
        read.rows, vault=vault, catalogue=catalogue, citizen=citizen, attributes=read.attributes
    )
    return _person(plan, values, catalogue)


def _execute(
    session: Session, *, citizen_id: str, attributes: list[str] | None, provenance: bool, syncs: bool = False
) -> Iterable[Any]:
    params: dict[str, Any] = {"citizen_id": citizen_id}
    if attributes is not None:
        params["names"] = attributes
    session.flush()  # pending ORM changes first, as session.execute would
    return _QUERIES[provenance, attributes is not None, syncs].rows(session.connection(), params)


def _collect(
    session: Session,
    *,
    vault: Vault,
    catalogue: Catalogue,
    citizen: KeyedCitizen,
    attributes: Iterable[str] | None,
    provenance: bool,
) -> tuple[list[tuple[str, str | None, Any]], Iterator[Any]]:
    wanted = None if attributes is None else list(attributes)
    rows = _execute(session, citizen_id=citizen.id, attributes=wanted, provenance=provenance)
    return _plan(rows, vault=vault, catalogue=catalogue, citizen=citizen, attributes=wanted)


def _plan(
    rows: Iterable[Any],
    *,
    vault: Vault,
    catalogue: Catalogue,
    citizen: KeyedCitizen,
    attributes: list[str] | None,
) -> tuple[list[tuple[str, str | None, Any]], Iterator[Any]]:
    """The wanted attributes in order as (name, origin, row): origin AGENCY or DECLARED for a value
    to show, None for unavailable; and the decrypted values of the shown ones, in the same order."""
    specs = catalogue.attributes
    wanted = list(specs) if attributes is None else [a for a in attributes if a in specs]
    fields, declarations = {}, {}
    for row in rows:
        (fields if row[_ORIGIN] == AGENCY else declarations)[row[_ATTRIBUTE]] = row
    cipher = vault.cipher_for(citizen)
    plan: list[tuple[str, str | None, Any]] = []
    sealed: list[tuple[bytes, bytes]] = []
    for name in wanted:
        stored = fields.get(name)
        if stored is not None and not stored[_UNAVAILABLE]:
            plan.append((name, AGENCY, stored))
            sealed.append((stored[_CIPHERTEXT], field_aad(citizen.id, name, AGENCY, stored[_VERSION])))
        elif (declared := declarations.get(name)) is not None:
            plan.append((name, DECLARED, declared))
            sealed.append((declared[_CIPHERTEXT], field_aad(citizen.id, name, DECLARED, declared[_VERSION])))
        else:
            plan.append((name, None, stored))
    return plan, iter(cipher.decrypt_json_many(sealed))


def load_fields(
    session: Session,
    *,
    vault: Vault,
    catalogue: Catalogue,
    citizen: KeyedCitizen,
    attributes: Iterable[str] | None = None,
) -> dict[str, FieldView]:
    """Decrypt the citizen's values. A government-verified value wins; a declaration fills in only
    where no agency value is available; anything else is reported unavailable. Raises CryptoError
    if any ciphertext fails authentication. Reads only, in the caller's transaction."""
    plan, values = _collect(
        session,
        vault=vault,
        catalogue=catalogue,
        citizen=citizen,
        attributes=attributes,
        provenance=True,
    )
    items = _Items()
    views: dict[str, FieldView] = {}
    for name, origin, row in plan:
        spec = catalogue.attributes[name]
        if origin == AGENCY:
            source, stamp = row[_SOURCE], row[_LASTUPDATED]
            item = items.value(spec, next(values), source, stamp)
            views[name] = FieldView(spec, item, row[_AGENCY], source, stamp, row[_FETCHED_AT], False, False)
        elif origin == DECLARED:
            declared_at = row[_DECLARED_AT]
            stamp = declared_at.date()
            item = items.value(spec, next(values), CITIZEN_PROVIDED, stamp)
            views[name] = FieldView(spec, item, CITIZEN, CITIZEN_PROVIDED, stamp, declared_at, False, True)
        else:
            source = CITIZEN_PROVIDED if spec.agency == CITIZEN else GOVERNMENT_VERIFIED
            stamp = row[_LASTUPDATED] if row is not None else None
            fetched_at = row[_FETCHED_AT] if row is not None else None
            item = items.unavailable(spec, source, stamp)
            views[name] = FieldView(spec, item, spec.agency, source, stamp, fetched_at, True, False)
    return views


def assemble_person(
    session: Session,
    *,
    vault: Vault,
    catalogue: Catalogue,
    citizen: KeyedCitizen,
    attributes: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The person JSON: exactly the requested attributes (unknown names left out), each with its
    provenance properties, chosen as `load_fields` chooses. Raises CryptoError if any ciphertext
    fails authentication. Reads only, in the caller's transaction."""
    plan, values = _collect(
        session,
        vault=vault,
        catalogue=catalogue,
        citizen=citizen,
        attributes=attributes,
        provenance=False,
    )
    return _person(plan, values, catalogue)


def _person(
    plan: list[tuple[str, str | None, Any]], values: Iterator[Any], catalogue: Catalogue
) -> dict[str, Any]:
    items = _Items()
    person: dict[str, Any] = {}
    for name, origin, row in plan:
        spec = catalogue.attributes[name]
        if origin == AGENCY:
            person[name] = items.value(spec, next(values), row[_SOURCE], row[_LASTUPDATED])
        elif origin == DECLARED:
            person[name] = items.value(spec, next(values), CITIZEN_PROVIDED, row[_DECLARED_AT].date())
        else:
            source = CITIZEN_PROVIDED if spec.agency == CITIZEN else GOVERNMENT_VERIFIED
            person[name] = items.unavailable(spec, source, row[_LASTUPDATED] if row is not None else None)
    return person


def agency_status(session: Session, citizen_id: str) -> dict[str, AgencySync]:
    return {
        s.agency: s for s in session.scalars(select(AgencySync).where(AgencySync.citizen_id == citizen_id))
    }


class _Items:
    """Builds person-format items for one profile. Most values of a profile share a handful of
    `lastupdated` dates, so each date is formatted once."""

    __slots__ = ("_stamps",)

    def __init__(self) -> None:
        self._stamps: dict[dt.date | None, str] = {None: ""}

    def _stamp(self, lastupdated: dt.date | None) -> str:
        text = self._stamps.get(lastupdated)
        if text is None:
            text = self._stamps[lastupdated] = lastupdated.isoformat()  # type: ignore[union-attr]
        return text

    def value(self, spec: Attribute, value: Any, source: str, lastupdated: dt.date | None) -> Any:
        stamp = self._stamp(lastupdated)
        if spec.shape == "list":
            return [
                {**element, "lastupdated": stamp, "source": source, "classification": "C"}
                for element in value
            ]
        return {**value, "lastupdated": stamp, "source": source, "classification": "C"}

    def unavailable(self, spec: Attribute, source: str, lastupdated: dt.date | None) -> Any:
        if spec.shape == "list":
            return []
        return {
            "lastupdated": self._stamp(lastupdated),
            "source": source,
            "classification": "C",
            "unavailable": True,
        }
