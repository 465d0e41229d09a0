"""The citizen's whole record for "Download my data": one function per section, each yielding
plain rows (dicts with the section's columns), and two writers streaming them, as one JSON document
or as a zip of one CSV per section.

Sections: profile (every item with its provenance), history (earlier values), declarations,
consents, disclosures (every audit entry about the citizen: releases, consent decisions, staff
looks), corrections (their 'This is wrong' requests and the agencies' answers). Values are
decrypted for the owner: only the signed-in
citizen's own rows are ever read. Reads only, in the session given (the caller's own, closed when
the stream ends).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from profile_store.assembly import load_fields
from profile_store.catalogue import CITIZEN, META_KEYS, Catalogue
from profile_store.corrections import corrections_of
from profile_store.fields import DECLARED
from profile_store.history import earlier_values
from profile_store.models import CITIZEN_PROVIDED, GOVERNMENT_VERIFIED, Citizen, Declaration
from profile_store.vault import Vault, field_aad

from .portal import consent_records, history

FORMAT = "consentry-record/1"
PAGE = 100
NOT_INCLUDED: dict[str, str] = {}  # a section the record leaves out, and why (none now)
SOURCES = {
    GOVERNMENT_VERIFIED: "government-verified",
    CITIZEN_PROVIDED: "declared by you",
    "3": "not applicable",
}


@dataclass(frozen=True)
class Record:
    """Whose record, and what reads it."""

    session: Session
    vault: Vault
    catalogue: Catalogue
    citizen: Citizen


@dataclass(frozen=True)
class Section:
    name: str
    columns: tuple[str, ...]
    rows: Callable[[Record], Iterator[dict[str, Any]]]


def _label(record: Record, name: str) -> str:
    return record.catalogue[name].label if name in record.catalogue else name


def _agency_name(record: Record, code: str) -> str:
    if code == CITIZEN:
        return "Declared by you"
    agency = record.catalogue.agencies.get(code)
    return agency.name if agency else code


def _payload(item: Any) -> Any:
    """A person-format item without its provenance keys (they have columns of their own)."""
    if isinstance(item, list):
        return [{k: v for k, v in element.items() if k not in META_KEYS} for element in item]
    if isinstance(item, dict):
        return {k: v for k, v in item.items() if k not in META_KEYS}
    return item


def profile_rows(record: Record) -> Iterator[dict[str, Any]]:
    fields = load_fields(
        record.session, vault=record.vault, catalogue=record.catalogue, citizen=record.citizen
    )
    for name, view in fields.items():
        yield {
            "attribute": name,
            "label": view.attribute.label,
            "agency": view.agency,
            "agency_name": _agency_name(record, view.agency),
            "source": SOURCES.get(view.source, view.source),
            "classification": "C",
            "lastupdated": view.lastupdated,
            "fetched_at": view.fetched_at,
            "unavailable": view.unavailable,
            "value": None if view.unavailable else _payload(view.item),
        }


def history_rows(record: Record) -> Iterator[dict[str, Any]]:
    earlier = earlier_values(record.session, vault=record.vault, citizen=record.citizen, per_attribute=10**9)
    for name in sorted(earlier):
        for value in earlier[name]:
            yield {
                "attribute": name,
                "label": _label(record, name),
                "origin": "declared" if value.origin == DECLARED else "agency",
                "agency": value.agency,
                "source": SOURCES.get(value.source, value.source),
                "lastupdated": value.lastupdated,
                "recorded_at": value.recorded_at,
                "superseded_at": value.superseded_at,
                "unavailable": value.unavailable,
                "value": value.value,
            }


def declaration_rows(record: Record) -> Iterator[dict[str, Any]]:
    citizen = record.citizen
    rows = list(
        record.session.scalars(
            select(Declaration).where(Declaration.citizen_id == citizen.id).order_by(Declaration.attribute)
        )
    )
    sealed = [(row.ciphertext, field_aad(citizen.id, row.attribute, DECLARED, row.version)) for row in rows]
    values = record.vault.cipher_for(citizen).decrypt_json_many(sealed)
    for row, value in zip(rows, values, strict=True):
        yield {
            "attribute": row.attribute,
            "label": _label(record, row.attribute),
            "declared_at": row.declared_at,
            "version": row.version,
            "value": value,
        }


def consent_rows(record: Record) -> Iterator[dict[str, Any]]:
    cursor, now = None, dt.datetime.now(dt.UTC)
    while True:
        page = consent_records(
            record.session, record.catalogue, citizen_id=record.citizen.id, cursor=cursor, limit=PAGE, now=now
        )
        for c in page.consents:
            yield {
                "id": c.id,
                "status": c.status,
                "app_id": c.app.id,
                "app_name": c.app.name,
                "agency": c.app.agency,
                "purpose_id": c.purpose.id,
                "purpose": c.purpose.text,
                "approved": [a.name for a in c.approved],
                "declined": [a.name for a in c.declined],
                "remembered": c.remembered,
                "granted_at": c.granted_at,
                "expires_at": c.expires_at,
                "revoked_at": c.revoked_at,
            }
        if not (cursor := page.next_cursor):
            return


def disclosure_rows(record: Record) -> Iterator[dict[str, Any]]:
    """Every audit entry about the citizen, newest first: what left (attribute names), to which
    app, when, and the entry's number in the audit log; consent decisions and staff looks too."""
    cursor = None
    while True:
        page = history(record.session, record.catalogue, citizen=record.citizen, cursor=cursor, limit=PAGE)
        for item in page.items:
            yield {
                "audit_seq": item.seq,
                "time": item.time,
                "kind": item.kind,
                "outcome": item.outcome,
                "app_id": item.app.id if item.app else None,
                "app_name": item.app.name if item.app else None,
                "agency": item.app.agency if item.app else None,
                "purpose_id": item.purpose.id,
                "purpose": item.purpose.text,
                "attributes": [a.name for a in item.attributes],
                "consent_id": item.consent_id,
                "staff": item.staff,
                "reason": item.reason,
            }
        if not (cursor := page.next_cursor):
            return


def correction_rows(record: Record) -> Iterator[dict[str, Any]]:
    """The citizen's correction requests, newest first, with what they wrote and the answer."""
    for item in corrections_of(record.session, vault=record.vault, citizen=record.citizen):
        yield {
            "id": item.id,
            "attribute": item.attribute,
            "label": _label(record, item.attribute),
            "agency": item.agency,
            "agency_name": _agency_name(record, item.agency),
            "status": item.status,
            "what": item.what,
            "correct_value": item.correct_value,
            "note": item.note,
            "reason": item.reason,
            "created_at": item.created_at,
            "updated_at": item.updated_at,
        }


SECTIONS = (
    Section("profile", ("attribute", "label", "agency", "agency_name", "source", "classification",
                        "lastupdated", "fetched_at", "unavailable", "value"), profile_rows),
    Section("history", ("attribute", "label", "origin", "agency", "source", "lastupdated", "recorded_at",
                        "superseded_at", "unavailable", "value"), history_rows),
    Section("declarations", ("attribute", "label", "declared_at", "version", "value"), declaration_rows),
    Section("consents", ("id", "status", "app_id", "app_name", "agency", "purpose_id", "purpose", "approved",
                         "declined", "remembered", "granted_at", "expires_at", "revoked_at"), consent_rows),
    Section("disclosures", ("audit_seq", "time", "kind", "outcome", "app_id", "app_name", "agency",
                            "purpose_id", "purpose", "attributes", "consent_id", "staff", "reason"),
            disclosure_rows),
    Section("corrections", ("id", "attribute", "label", "agency", "agency_name", "status", "what",
                            "correct_value", "note", "reason", "created_at", "updated_at"), correction_rows),
)  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def json_chunks(record: Record, *, generated_at: dt.datetime) -> Iterator[bytes]:
    """The record as one JSON object, a row at a time: {"format", "generated_at", "not_included",
    one array per section}."""
    head = {"format": FORMAT, "generated_at": generated_at.isoformat(), "not_included": NOT_INCLUDED}
    yield json.dumps(head, ensure_ascii=False)[:-1].encode()
    for section in SECTIONS:
        yield f', "{section.name}": ['.encode()
        for index, row in enumerate(section.rows(record)):
            text = json.dumps(row, default=_plain, ensure_ascii=False, sort_keys=False)
            yield (text if index == 0 else ", " + text).encode()
        yield b"]"
    yield b"}\n"


def _cell(value: Any) -> str:
    """A CSV cell: dates ISO 8601, lists and objects as JSON, and text a spreadsheet would run as
    a formula prefixed with an apostrophe (OWASP's CSV injection advice)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, default=_plain)
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class _Pipe:
    """Where the zip writes: bytes collected until the stream takes them. No tell() or seek(),
    so zipfile writes each member's sizes after its data (a data descriptor)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


README = """Your Consentry record, one CSV file per section (UTF-8, comma-separated, a header row):

profile.csv       every item of your profile, with its source agency, source and dates
history.csv       earlier values of items that changed, and when each was replaced
declarations.csv  what you declared yourself
consents.csv      the consents you gave, and their status
disclosures.csv   every time your details left Consentry (to which service, when), your consent
                  decisions and staff looks at your record, each with its audit log entry number
corrections.csv   the correction requests you sent agencies, and their answers

Lists and structured values are JSON inside their cell. Times are UTC (ISO 8601).
"""


def zip_chunks(record: Record, *, rows_per_chunk: int = 200) -> Iterator[bytes]:
    """The record as a zip of one CSV per section plus README.txt, streamed as it is written."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED) as archive:  # type: ignore[arg-type]
        for section in SECTIONS:
            with io.TextIOWrapper(
                archive.open(f"{section.name}.csv", "w"), encoding="utf-8", newline=""
            ) as text:
                writer = csv.writer(text)
                writer.writerow(section.columns)
                for index, row in enumerate(section.rows(record), 1):
                    writer.writerow([_cell(row.get(column)) for column in section.columns])
                    if index % rows_per_chunk == 0:
                        text.flush()
                        yield pipe.take()
            yield pipe.take()
        archive.writestr("README.txt", README)
    yield pipe.take()
