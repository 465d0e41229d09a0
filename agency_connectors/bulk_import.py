"""Bulk import of an agency's export file: CSV or JSON Lines, all or nothing.

JSON Lines: one object per line, `{"uinfin": "S1234567D", "attributes": {"<attr>": <item>, ...}}`.
CSV: header `uinfin,attribute,item`, one attribute per row, `item` being the JSON item; a citizen's
rows together make their record. Each line is checked (marshmallow for the row, the catalogue for
each item); any bad line stops the import before anything is written, and the error names the line.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates
from sqlalchemy.orm import Session

from core.errors import ValidationFailed
from core.uinfin import is_valid_uinfin
from profile_store.catalogue import Catalogue
from profile_store.citizens import create_citizen, find_citizen_by_uinfin
from profile_store.fields import apply_agency_record, check_agency_items
from profile_store.vault import Vault

MAX_REPORTED_ERRORS = 100


class _UinfinField:
    @validates("uinfin")
    def _valid_uinfin(self, value: str, **_: Any) -> None:
        if not is_valid_uinfin(value):
            raise ValidationError("not a valid NRIC/FIN")


class JsonlRowSchema(_UinfinField, Schema):
    class Meta:
        unknown = RAISE

    uinfin = fields.String(required=True)
    attributes = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True)


class CsvRowSchema(_UinfinField, Schema):
    class Meta:
        unknown = RAISE

    uinfin = fields.String(required=True)
    attribute = fields.String(required=True, validate=validate.Length(min=1, max=64))
    item = fields.String(required=True)


@dataclass
class ImportSummary:
    citizens: int
    created: int
    attributes: int


def read_records(
    stream: IO[str], fmt: str, *, catalogue: Catalogue, agency: str
) -> dict[str, dict[str, Any]]:
    """Parse and check the whole file; returns items by national id. Raises ValidationFailed whose
    errors are keyed "line N" when any line is bad."""
    if fmt not in ("csv", "jsonl"):
        raise ValidationFailed("unknown format", {"format": ["use csv or jsonl"]})
    if agency not in catalogue.source_agencies():
        raise ValidationFailed("unknown agency", {"agency": [f"not one of {catalogue.source_agencies()}"]})
    records: dict[str, dict[str, Any]] = {}
    first_line: dict[str, int] = {}
    errors: dict[str, list[str]] = {}
    rows = _jsonl_rows(stream) if fmt == "jsonl" else _csv_rows(stream)
    for line, uinfin, items, problems in rows:
        if not problems and fmt == "jsonl" and uinfin in records:
            problems = [f"citizen already given on line {first_line[uinfin]}"]
        if not problems:
            found = check_agency_items(catalogue, agency, items)
            problems = [f"{name}: {'; '.join(reasons)}" for name, reasons in sorted(found.items())]
        if not problems and fmt == "csv" and set(items) & set(records.get(uinfin, {})):
            problems = [f"attribute given twice for this citizen (first on line {first_line[uinfin]})"]
        if problems:
            if len(errors) < MAX_REPORTED_ERRORS:
                errors[f"line {line}"] = problems
            continue
        records.setdefault(uinfin, {}).update(items)
        first_line.setdefault(uinfin, line)
    if errors:
        raise ValidationFailed(f"{len(errors)} bad line(s); nothing was imported", errors)
    return records


def import_records(
    session: Session,
    *,
    vault: Vault,
    catalogue: Catalogue,
    agency: str,
    records: dict[str, dict[str, Any]],
    now: dt.datetime,
) -> ImportSummary:
    """Store checked records in the caller's transaction (the caller commits once, so a failure
    leaves nothing half-imported). Unknown citizens are created."""
    created = 0
    for uinfin, items in records.items():
        citizen = find_citizen_by_uinfin(session, vault=vault, uinfin=uinfin)
        if citizen is None:
            citizen = create_citizen(session, vault=vault, uinfin=uinfin, now=now)
            created += 1
        apply_agency_record(
            session, vault=vault, catalogue=catalogue, citizen=citizen, agency=agency, items=items, now=now
        )
    return ImportSummary(len(records), created, sum(len(i) for i in records.values()))


def _jsonl_rows(stream: IO[str]) -> Iterator[tuple[int, str, dict[str, Any], list[str]]]:
    for line_no, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            row = JsonlRowSchema().load(json.loads(line))
        except json.JSONDecodeError as exc:
            yield line_no, "", {}, [f"not valid JSON: {exc.msg} at column {exc.colno}"]
            continue
        except ValidationError as exc:
            yield line_no, "", {}, _flatten(exc.messages)
            continue
        yield line_no, row["uinfin"], row["attributes"], []


def _csv_rows(stream: IO[str]) -> Iterator[tuple[int, str, dict[str, Any], list[str]]]:
    reader = csv.DictReader(stream)
    if reader.fieldnames != ["uinfin", "attribute", "item"]:
        yield 1, "", {}, ["header must be exactly: uinfin,attribute,item"]
        return
    for record in reader:
        line_no = reader.line_num
        try:
            row = CsvRowSchema().load({k: v for k, v in record.items() if k is not None})
            if None in record:
                raise ValidationError("too many columns")
            item = json.loads(row["item"])
        except json.JSONDecodeError as exc:
            yield line_no, "", {}, [f"item is not valid JSON: {exc.msg}"]
            continue
        except ValidationError as exc:
            yield line_no, "", {}, _flatten(exc.messages)
            continue
        yield line_no, row["uinfin"], {row["attribute"]: item}, []


def _flatten(messages: Any, prefix: str = "") -> list[str]:
    if isinstance(messages, dict):
        return [m for key, value in messages.items() for m in _flatten(value, f"{prefix}{key}: ")]
    if isinstance(messages, list):
        return [m for value in messages for m in _flatten(value, prefix)]
    return [f"{prefix}{messages}"]


def open_text(data: bytes) -> IO[str]:
    """Decode an uploaded file strictly (a stray byte is an error, not a silent replacement)."""
    try:
        return io.StringIO(data.decode("utf-8-sig"), newline="")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            "file is not UTF-8", {"file": [f"invalid byte at offset {exc.start}"]}
        ) from None
