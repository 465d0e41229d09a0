"""Writing agency answers for many citizens at once: what `apply_agency_record` and
`record_agency_failure` do for one citizen, staged in memory and written with a few Core
statements per batch (bulk refresh).

Same rules and rows as the one-citizen path in `fields.py`: a new value is inserted at version 1,
an unchanged one only gets its `fetched_at` (and a newer `lastupdated`), a changed one is archived
to `field_versions` before it is replaced, and every answer or failure marks `agency_syncs`. Each
value is AES-256-GCM under the citizen's data key with the same associated data. No ORM objects
and no identity map: memory per batch is the batch's rows, and nothing outlives `flush()`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from core.crypto.field_cipher import FieldCipher
from core.errors import ValidationFailed

from .catalogue import Catalogue
from .fields import AGENCY, ApplyResult, Incoming, archived_values, check_agency_items, same_value
from .models import AgencySync, Citizen, FieldVersion, ProfileField
from .vault import Vault, field_aad

_F, _S, _C, _V = ProfileField.__table__, AgencySync.__table__, Citizen.__table__, FieldVersion.__table__
# Columns of the current values the decisions need (one SELECT per batch).
_CURRENT = tuple(
    _F.c[name]
    for name in (
        "citizen_id", "attribute", "agency", "source", "lastupdated", "unavailable", "ciphertext", "version",
        "fetched_at",
    )
)  # fmt: skip


def _param(column, name: str):
    """An executemany parameter typed as its column (so UTC datetimes go through UTCDateTime)."""
    return bindparam(name, type_=column.type)


_TOUCH = (
    update(_F)
    .where(_F.c.citizen_id == bindparam("b_citizen_id"), _F.c.attribute == bindparam("b_attribute"))
    .values(
        lastupdated=_param(_F.c.lastupdated, "b_lastupdated"), fetched_at=_param(_F.c.fetched_at, "b_now")
    )
)
_REPLACE = (
    update(_F)
    .where(_F.c.citizen_id == bindparam("b_citizen_id"), _F.c.attribute == bindparam("b_attribute"))
    .values(
        {
            name: _param(_F.c[name], f"b_{name}")
            for name in ("version", "source", "unavailable", "lastupdated", "fetched_at", "ciphertext")
        }
    )
)
_SYNC_OK = (
    update(_S)
    .where(_S.c.citizen_id == bindparam("b_citizen_id"), _S.c.agency == bindparam("b_agency"))
    .values(
        attempted_at=_param(_S.c.attempted_at, "b_now"),
        succeeded_at=_param(_S.c.succeeded_at, "b_now"),
        last_error=None,
    )
)
_SYNC_FAILED = (
    update(_S)
    .where(_S.c.citizen_id == bindparam("b_citizen_id"), _S.c.agency == bindparam("b_agency"))
    .values(attempted_at=_param(_S.c.attempted_at, "b_now"), last_error=_param(_S.c.last_error, "b_error"))
)


@dataclass
class _Staged:
    inserts: list[dict[str, Any]] = field(default_factory=list)
    touches: list[dict[str, Any]] = field(default_factory=list)
    replaces: list[dict[str, Any]] = field(default_factory=list)
    archived: list[dict[str, Any]] = field(default_factory=list)
    new_syncs: list[dict[str, Any]] = field(default_factory=list)
    syncs_ok: list[dict[str, Any]] = field(default_factory=list)
    syncs_failed: list[dict[str, Any]] = field(default_factory=list)
    refreshed: set[str] = field(default_factory=set)


class BatchWriter:
    """Stages agency answers for the citizens named at construction (at most one answer per
    citizen and agency: the current values are read once, at construction), then `flush()` writes
    them in the caller's transaction (never commits). Reads the batch's keys, current values and
    sync rows with three SELECTs."""

    def __init__(
        self,
        session: Session,
        *,
        vault: Vault,
        catalogue: Catalogue,
        citizen_ids: Iterable[str],
        now: dt.datetime,
    ) -> None:
        ids = list(citizen_ids)
        self._session, self._vault, self._catalogue, self._now = session, vault, catalogue, now
        execute = session.execute
        keys = select(_C.c.id, _C.c.dek_kid, _C.c.dek_wrapped).where(_C.c.id.in_(ids))
        self._citizens = {row.id: row for row in execute(keys).all()}
        current = select(*_CURRENT).where(_F.c.citizen_id.in_(ids))
        self._current = {(row.citizen_id, row.attribute): row for row in execute(current).all()}
        syncs = select(_S.c.citizen_id, _S.c.agency).where(_S.c.citizen_id.in_(ids))
        self._syncs: set[tuple[str, str]] = {(row[0], row[1]) for row in execute(syncs).all()}
        self._ciphers: dict[str, FieldCipher] = {}
        self._staged = _Staged()

    def _cipher(self, citizen_id: str) -> FieldCipher:
        cipher = self._ciphers.get(citizen_id)
        if cipher is None:
            cipher = self._ciphers[citizen_id] = self._vault.cipher_for(self._citizens[citizen_id])
        return cipher

    def apply(self, citizen_id: str, agency: str, items: dict[str, Any] | None) -> ApplyResult:
        """As `apply_agency_record`: `items=None` means the agency holds no record; attributes it
        owns and did not send become unavailable. Raises ValidationFailed (nothing staged) if any
        item is malformed, CryptoError if the citizen's key or a stored value fails."""
        items = items or {}
        if problems := check_agency_items(self._catalogue, agency, items):
            raise ValidationFailed(f"{agency} sent attributes that do not fit the catalogue", problems)
        cipher, now, staged, result = self._cipher(citizen_id), self._now, self._staged, ApplyResult()
        for attribute in self._catalogue.owned_by(agency):
            name = attribute.name
            incoming = Incoming.from_item(items.get(name), attribute.shape, now)
            existing = self._current.get((citizen_id, name))
            if existing is not None and existing.agency != agency:
                existing = None  # another agency's row: the insert fails as the one-citizen path does
            if existing is not None and same_value(existing, incoming, cipher):
                lastupdated = incoming.lastupdated or existing.lastupdated
                staged.touches.append({**_key(citizen_id, name), "b_lastupdated": lastupdated, "b_now": now})
                result.unchanged.append(name)
                continue
            version = 1 if existing is None else existing.version + 1
            ciphertext = (
                None
                if incoming.unavailable
                else cipher.encrypt_json(incoming.value, field_aad(citizen_id, name, AGENCY, version))
            )
            values = {
                "version": version,
                "source": incoming.source,
                "unavailable": incoming.unavailable,
                "lastupdated": incoming.lastupdated,
                "fetched_at": now,
                "ciphertext": ciphertext,
            }
            if existing is None:
                staged.inserts.append(
                    {"citizen_id": citizen_id, "attribute": name, "agency": agency, **values}
                )
            else:
                staged.archived.append(archived_values(existing, AGENCY, now))
                staged.replaces.append({**_key(citizen_id, name), **{f"b_{k}": v for k, v in values.items()}})
            (result.unavailable if incoming.unavailable else result.changed).append(name)
        self._mark_sync(citizen_id, agency, error=None)
        staged.refreshed.add(citizen_id)
        return result

    def fail(self, citizen_id: str, agency: str, reason: str) -> None:
        """As `record_agency_failure`: stored values keep their last good value and lastupdated."""
        self._mark_sync(citizen_id, agency, error=reason[:200])

    def _mark_sync(self, citizen_id: str, agency: str, *, error: str | None) -> None:
        staged, now = self._staged, self._now
        if (citizen_id, agency) not in self._syncs:
            self._syncs.add((citizen_id, agency))
            staged.new_syncs.append(
                {
                    "citizen_id": citizen_id,
                    "agency": agency,
                    "attempted_at": now,
                    "succeeded_at": now if error is None else None,
                    "last_error": error,
                }
            )
        elif error is None:
            staged.syncs_ok.append({"b_citizen_id": citizen_id, "b_agency": agency, "b_now": now})
        else:
            staged.syncs_failed.append(
                {"b_citizen_id": citizen_id, "b_agency": agency, "b_now": now, "b_error": error}
            )

    def flush(self) -> None:
        """Write everything staged (executemany per statement) and start afresh."""
        staged, self._staged = self._staged, _Staged()
        execute = self._session.execute
        for statement, rows in (
            (insert(_V), staged.archived),
            (insert(_F), staged.inserts),
            (_REPLACE, staged.replaces),
            (_TOUCH, staged.touches),
            (insert(_S), staged.new_syncs),
            (_SYNC_OK, staged.syncs_ok),
            (_SYNC_FAILED, staged.syncs_failed),
        ):
            if rows:
                execute(statement, rows)
        if staged.refreshed:
            execute(update(_C).where(_C.c.id.in_(sorted(staged.refreshed))).values(refreshed_at=self._now))


def _key(citizen_id: str, attribute: str) -> dict[str, str]:
    return {"b_citizen_id": citizen_id, "b_attribute": attribute}
