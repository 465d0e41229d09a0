"""Request schemas for the auditor console (auditors sign in as staff: app/staff/schemas.py): the
search form (POST, may hold a national id), and the search and export queries (GET, never a
national id: the citizen appears as the keyed digest `citizen_ref`). Unknown fields are rejected;
empty fields count as not given."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from audit.log import KINDS
from core.uinfin import is_valid_uinfin

from ..operator.schemas import FormSchema

# A national id anywhere in a free-text filter would end up in a URL and in the audit log.
LOOKS_LIKE_NATIONAL_ID = re.compile(r"[STFGM][0-9]{7}[A-Z]", re.IGNORECASE)
FORMATS = ("jsonl", "csv")
MAX_REPORT_DAYS = 366
FILTER_NAMES = (
    "citizen_ref", "app_id", "attribute", "purpose", "outcome", "kind", "actor", "since", "until",
)  # fmt: skip


def _text(pattern: str, max_length: int, message: str) -> fields.String:
    def no_national_id(value: str) -> None:
        if LOOKS_LIKE_NATIONAL_ID.search(value):
            raise ValidationError("Do not enter an NRIC or FIN here: use the NRIC or FIN field")

    return fields.String(
        validate=[
            validate.Length(max=max_length, error=f"Enter at most {max_length} characters"),
            validate.Regexp(pattern, error=message),
            no_national_id,
        ]
    )


def _date(label: str, wire_name: str) -> fields.Date:
    return fields.Date(
        format="%Y-%m-%d",
        data_key=wire_name,
        error_messages={"invalid": f"{label} must be a real date, like 2026-11-23"},
    )


class FilterFields(Schema):
    """The filters every search and export takes; `from`/`to` are whole days in the display time
    zone, both inclusive."""

    class Meta:
        unknown = RAISE

    app_id = _text(r"^[A-Za-z0-9._:-]+$", 100, "App id can only hold letters, digits and . _ : -")
    attribute = _text(r"^[a-z0-9_]+$", 64, "Attribute can only hold lower-case letters, digits and _")
    purpose = _text(
        r"^[A-Za-z0-9 ._:/-]+$", 100, "Purpose can only hold letters, digits, spaces and . _ : / -"
    )
    outcome = _text(r"^[a-z0-9_]+$", 32, "Outcome can only hold lower-case letters, digits and _")
    kind = fields.String(validate=validate.OneOf(sorted(KINDS), error="Choose an event kind from the list"))
    actor = fields.String(
        validate=validate.Regexp(
            r"^(citizen|app|(staff|auditor):[0-9a-f-]{36})$", error="Choose who acted from the list"
        )
    )
    # `from` and `to` on the wire; `from` is a Python keyword, hence since/until here.
    since = _date("The start date", "from")
    until = _date("The end date", "to")

    @pre_load
    def _drop_empty(self, data: Any, **_: Any) -> dict[str, Any]:
        stripped = {key: value.strip() if isinstance(value, str) else value for key, value in data.items()}
        return {key: value for key, value in stripped.items() if value != ""}

    @validates_schema
    def _window(self, data: dict[str, Any], **_: Any) -> None:
        if "since" in data and "until" in data and data["until"] < data["since"]:
            raise ValidationError("The end date must be the same as or after the start date", "to")


def _citizen_ref() -> fields.String:
    return fields.String(validate=validate.Regexp(r"^[0-9a-f]{64}$", error="Not a citizen reference"))


class SearchQuery(FilterFields):
    citizen_ref = _citizen_ref()
    cursor = fields.String(validate=validate.Length(max=200, error="Not a page of these results"))


class ExportQuery(FilterFields):
    citizen_ref = _citizen_ref()
    format = fields.String(
        required=True,
        validate=validate.OneOf(FORMATS, error="Choose jsonl or csv"),
        error_messages={"required": "Choose jsonl or csv"},
    )


def _national_id(value: str) -> None:
    if not is_valid_uinfin(value):
        raise ValidationError("Enter a valid NRIC or FIN, like S1234567D")


class SearchForm(FormSchema, FilterFields):
    """The search form: a national id (turned into `citizen_ref` by the view) or the `citizen_ref`
    of the search being refined, plus the filters."""

    uinfin = fields.String(validate=_national_id)
    citizen_ref = _citizen_ref()

    @pre_load
    def _upper_case_id(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if isinstance(data.get("uinfin"), str):
            data = {**data, "uinfin": data["uinfin"].upper()}
        return data


def filter_args(data: dict[str, Any]) -> dict[str, str]:
    """The filters of a loaded query or form as URL parameters (wire names, ISO dates)."""
    return {key: str(value) for key, value in SearchQuery(only=FILTER_NAMES).dump(data).items()}


class ReportQuery(Schema):
    """A report's period (whole days in the display time zone, both inclusive) and its format."""

    class Meta:
        unknown = RAISE

    since = _date("The start date", "from")
    until = _date("The end date", "to")
    format = fields.String(validate=validate.OneOf(("csv",), error="Only csv can be downloaded"))

    @pre_load
    def _drop_empty(self, data: Any, **_: Any) -> dict[str, Any]:
        return {key: value.strip() for key, value in data.items() if isinstance(value, str) and value.strip()}

    @validates_schema
    def _window(self, data: dict[str, Any], **_: Any) -> None:
        if "since" in data and "until" in data:
            if data["until"] < data["since"]:
                raise ValidationError("The end date must be the same as or after the start date", "to")
            if (data["until"] - data["since"]).days > MAX_REPORT_DAYS:
                raise ValidationError(f"A report covers at most {MAX_REPORT_DAYS} days", "to")
