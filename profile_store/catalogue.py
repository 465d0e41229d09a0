"""The attribute catalogue: which person attributes exist, who owns them, their shape and sensitivity.

Loaded from `attributes.toml` (or a deployment's own file) and validated once at start-up, so a bad
edit stops the service before it serves anyone. `validate_item` checks an agency's data item against
its attribute's shape.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from core.errors import ConfigurationError

DEFAULT_PATH = Path(__file__).with_name("attributes.toml")
SHAPES = ("value", "coded", "composite", "history", "list")
SENSITIVITIES = ("low", "medium", "high")
CITIZEN = "citizen"
# Provenance keys of the person format; never part of a value.
META_KEYS = frozenset({"classification", "source", "lastupdated", "unavailable"})


@dataclass(frozen=True, slots=True)
class Agency:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    label: str
    agency: str
    shape: str
    sensitivity: str
    declarable: bool = False
    list_key: str | None = None

    @property
    def masked(self) -> bool:
        return self.sensitivity == "high"


class _AgencySchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(min=1, max=120))


class _AttributeSchema(Schema):
    class Meta:
        unknown = RAISE

    label = fields.String(required=True, validate=validate.Length(min=1, max=120))
    agency = fields.String(required=True)
    shape = fields.String(required=True, validate=validate.OneOf(SHAPES))
    sensitivity = fields.String(required=True, validate=validate.OneOf(SENSITIVITIES))
    declarable = fields.Boolean(load_default=False)
    list_key = fields.String(load_default=None)

    @validates_schema
    def _list_key_for_history(self, data: dict, **_: Any) -> None:
        if (data["shape"] == "history") != (data["list_key"] is not None):
            raise ValidationError("list_key is required for shape 'history' and only for it", "list_key")


class Catalogue:
    """An immutable, validated catalogue. Iteration order is the file's order."""

    def __init__(self, agencies: dict[str, Agency], attributes: dict[str, Attribute]) -> None:
        self.agencies = agencies
        self.attributes = attributes

    def __contains__(self, name: str) -> bool:
        return name in self.attributes

    def __getitem__(self, name: str) -> Attribute:
        return self.attributes[name]

    def names(self) -> list[str]:
        return list(self.attributes)

    def owned_by(self, agency: str) -> list[Attribute]:
        return [a for a in self.attributes.values() if a.agency == agency]

    def source_agencies(self) -> list[str]:
        """Agencies that hold records (everything but the citizen themself)."""
        return [code for code in self.agencies if code != CITIZEN]


def load_catalogue(path: Path | str = DEFAULT_PATH) -> Catalogue:
    """Read and validate a catalogue file; raises ConfigurationError naming every problem."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"attribute catalogue {path} unreadable: {exc}") from exc
    problems: dict[str, Any] = {}
    agencies: dict[str, Agency] = {}
    for code, body in (raw.get("agencies") or {}).items():
        try:
            agencies[code] = Agency(code=code, **_AgencySchema().load(body))
        except ValidationError as exc:
            problems[f"agencies.{code}"] = exc.messages
    attributes: dict[str, Attribute] = {}
    for name, body in (raw.get("attributes") or {}).items():
        try:
            loaded = _AttributeSchema().load(body)
        except ValidationError as exc:
            problems[f"attributes.{name}"] = exc.messages
            continue
        if loaded["agency"] not in agencies:
            problems[f"attributes.{name}"] = {"agency": [f"unknown agency {loaded['agency']!r}"]}
            continue
        attributes[name] = Attribute(name=name, **loaded)
    unknown_sections = set(raw) - {"agencies", "attributes"}
    if unknown_sections:
        problems["(top level)"] = [f"unknown sections: {sorted(unknown_sections)}"]
    if not attributes:
        problems["attributes"] = ["no attributes defined"]
    if problems:
        raise ConfigurationError(f"attribute catalogue {path} is invalid: {problems}")
    return Catalogue(agencies, attributes)


@cache
def default_catalogue() -> Catalogue:
    return load_catalogue(DEFAULT_PATH)


def validate_item(attribute: Attribute, item: Any) -> list[str]:
    """Reasons why `item` is not a well-formed value of `attribute` (empty when it is).

    Accepts the person format with or without provenance keys; an item marked unavailable may
    carry nothing else.
    """
    if attribute.shape == "list":
        if not isinstance(item, list):
            return [f"expected a list, got {type(item).__name__}"]
        errors = []
        for index, element in enumerate(item):
            if not isinstance(element, dict) or not _payload(element):
                errors.append(f"element {index}: expected a non-empty object")
        return errors
    if not isinstance(item, dict):
        return [f"expected an object, got {type(item).__name__}"]
    if not _valid_stamp(item.get("lastupdated", "")):
        return ["'lastupdated' must be a YYYY-MM-DD date or empty"]
    if item.get("unavailable") is True:
        extra = set(item) - META_KEYS
        return [f"unavailable item carries values: {sorted(extra)}"] if extra else []
    payload = _payload(item)
    match attribute.shape:
        case "value":
            if set(payload) != {"value"}:
                return [f"expected exactly 'value', got {sorted(payload)}"]
            if not isinstance(payload["value"], str | int | float | bool):
                return ["'value' must be a string, number or boolean"]
        case "coded":
            if set(payload) != {"code", "desc"}:
                return [f"expected 'code' and 'desc', got {sorted(payload)}"]
            if not all(isinstance(payload[k], str) for k in ("code", "desc")):
                return ["'code' and 'desc' must be strings"]
        case "composite":
            if not payload:
                return ["expected at least one sub-field"]
            bad = [k for k, v in payload.items() if not isinstance(v, dict | list) and k != "type"]
            if bad:
                return [f"sub-fields must be objects: {sorted(bad)}"]
        case "history":
            entries = payload.get(attribute.list_key)
            if set(payload) != {attribute.list_key} or not isinstance(entries, list):
                return [f"expected exactly a list named {attribute.list_key!r}"]
            if not all(isinstance(e, dict) for e in entries):
                return [f"every entry of {attribute.list_key!r} must be an object"]
    return []


def _valid_stamp(value: Any) -> bool:
    if value == "":
        return True
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return len(value) == 10


def _payload(item: dict) -> dict:
    return {k: v for k, v in item.items() if k not in META_KEYS}
