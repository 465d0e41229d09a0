"""The form of each declarable attribute and checking a citizen's answers to it.

Each form is described in `declarations.toml` beside the catalogue (its inputs, in order); the
attribute's shape in the catalogue decides how the answers are stored. `parse_answers` turns the
answers into a value of that shape or raises ValidationFailed with an error code per form field
("required", "out_of_range", ...), which the page turns into sentences. Pure: no database.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from core.errors import NotFound, ValidationFailed

from .catalogue import Attribute, Catalogue, validate_item

FORMS_PATH = Path(__file__).with_name("declarations.toml")
KINDS = ("text", "email", "number", "date", "code", "money")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True, slots=True)
class Input:
    """One question of a declaration form."""

    key: str
    label: str
    kind: str
    required: bool = True
    max_length: int = 100
    minimum: float | None = None
    maximum: float | None = None
    not_future: bool = False
    pattern: str | None = None
    options: tuple[tuple[str, str], ...] = ()

    def describe(self, code: str) -> str:
        return dict(self.options).get(code, "")


@dataclass(frozen=True, slots=True)
class DeclarationForm:
    """The form for one attribute: its inputs, repeated `entries` times for a list."""

    attribute: Attribute
    inputs: tuple[Input, ...]
    fixed: Mapping[str, Any]
    entries: int = 1

    @property
    def repeated(self) -> bool:
        return self.attribute.shape == "list"

    def names(self, entry: int | None = None) -> list[str]:
        """The form field names: the input keys, or `<entry>-<key>` for a list."""
        if not self.repeated:
            return [i.key for i in self.inputs]
        return [f"{entry}-{i.key}" for i in self.inputs]

    def all_names(self) -> list[str]:
        if not self.repeated:
            return self.names()
        return [name for n in range(self.entries) for name in self.names(n)]


@cache
def _raw_forms(path: Path = FORMS_PATH) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))["attributes"]


def declarable(catalogue: Catalogue) -> list[Attribute]:
    """The attributes a citizen may declare that have a form, in the catalogue's order."""
    forms = _raw_forms()
    return [a for a in catalogue.attributes.values() if a.declarable and a.name in forms]


def declaration_form(catalogue: Catalogue, attribute: str) -> DeclarationForm:
    """The form of a declarable attribute. Raises NotFound for any other name."""
    body = _raw_forms().get(attribute)
    if attribute not in catalogue or not catalogue[attribute].declarable or body is None:
        raise NotFound("There is no such detail to declare.")
    inputs = tuple(
        Input(**{**spec, "options": tuple(tuple(pair) for pair in spec.get("options", ()))})
        for spec in body["inputs"]
    )
    return DeclarationForm(catalogue[attribute], inputs, body.get("fixed", {}), body.get("entries", 1))


def parse_answers(form: DeclarationForm, answers: Mapping[str, str], *, now: dt.datetime) -> Any:
    """The value (person format, without provenance) the answers declare. Raises ValidationFailed
    with error codes by form field name when any answer is missing, too long, of the wrong kind or
    out of range; nothing is stored either way."""
    errors: dict[str, list[str]] = {}
    if not form.repeated:
        value = _one(form, form.inputs, form.names(), answers, errors, now)
    else:
        value = []
        for n in range(form.entries):
            names = form.names(n)
            if all(not (answers.get(name) or "").strip() for name in names):
                continue
            value.append(_one(form, form.inputs, names, answers, errors, now))
        if not value and not errors:
            errors[form.names(0)[0]] = ["required"]
    if errors:
        raise ValidationFailed("Check your answers.", errors)
    if reasons := validate_item(form.attribute, value):  # the form file and the catalogue disagree
        raise ValidationFailed("Check your answers.", {"attribute": reasons})
    return value


def _one(form, inputs, names, answers, errors, now) -> Any:
    parsed: dict[str, Any] = {}
    for spec, name in zip(inputs, names, strict=True):
        raw = (answers.get(name) or "").strip()
        if not raw:
            if spec.required:
                errors[name] = ["required"]
            continue
        result = _parse(spec, raw, now)
        if isinstance(result, _Error):
            errors[name] = [result.code]
        else:
            parsed[spec.key] = result
    if "low" in parsed and "high" in parsed and parsed["low"] > parsed["high"]:
        errors[names[[i.key for i in inputs].index("high")]] = ["below_low"]
    shape = form.attribute.shape
    if shape == "value":
        return {"value": parsed.get("value")}
    if shape == "coded":
        spec = inputs[0]
        if spec.kind == "code":
            code = parsed.get("code", "")
            return {"code": code, "desc": spec.describe(code)}
        return {"code": "", "desc": parsed.get("desc", "")}
    item = dict(form.fixed)
    for spec in inputs:
        if spec.key in parsed:
            item[spec.key] = _wrap(spec, parsed[spec.key])
    return item


@dataclass(frozen=True, slots=True)
class _Error:
    code: str


def _parse(spec: Input, raw: str, now: dt.datetime) -> Any:
    if spec.kind in ("text", "email"):
        if len(raw) > spec.max_length:
            return _Error("too_long")
        if spec.kind == "email" and not EMAIL.fullmatch(raw):
            return _Error("not_email")
        if spec.pattern and not re.fullmatch(spec.pattern, raw):
            return _Error("bad_pattern")
        return raw
    if spec.kind in ("number", "money"):
        try:
            number = Decimal(raw.replace(",", ""))
        except InvalidOperation:
            return _Error("not_a_number")
        if not number.is_finite() or (spec.kind == "number" and number != number.to_integral_value()):
            return _Error("not_a_number")
        if spec.kind == "money" and number.as_tuple().exponent < -2:  # type: ignore[operator]
            return _Error("not_a_number")
        if (spec.minimum is not None and number < Decimal(str(spec.minimum))) or (
            spec.maximum is not None and number > Decimal(str(spec.maximum))
        ):
            return _Error("out_of_range")
        return int(number) if number == number.to_integral_value() else float(number)
    if spec.kind == "date":
        try:
            day = dt.date.fromisoformat(raw)
        except ValueError:
            return _Error("not_a_date")
        if len(raw) != 10 or day.year < 1900:
            return _Error("not_a_date")
        if spec.not_future and day > now.date():
            return _Error("in_future")
        return raw
    if raw not in dict(spec.options):
        return _Error("unknown_option")
    return raw


def _wrap(spec: Input, value: Any) -> Any:
    if spec.kind == "code":
        return {"code": value, "desc": spec.describe(value)}
    return {"value": value}


def answers_of(form: DeclarationForm, value: Any) -> dict[str, str]:
    """The form's answers for a stored value (to change it): the inverse of `parse_answers`."""
    if value is None:
        return {}
    if form.attribute.shape == "value":
        return {"value": _text(value.get("value"))}
    if form.attribute.shape == "coded":
        key = form.inputs[0].key
        return {key: _text(value.get(key))}
    if not form.repeated:
        return {i.key: _text(_unwrap(value.get(i.key))) for i in form.inputs}
    answers = {}
    for n, element in enumerate(value[: form.entries]):
        for spec, name in zip(form.inputs, form.names(n), strict=True):
            answers[name] = _text(_unwrap(element.get(spec.key)))
    return answers


def _unwrap(item: Any) -> Any:
    if isinstance(item, Mapping):
        return item.get("value", item.get("code"))
    return item


def _text(value: Any) -> str:
    return "" if value is None else str(value)
