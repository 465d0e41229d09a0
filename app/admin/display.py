"""What the admin pages show: agency apps as rows and detail views, built from the domain's
objects and the attribute catalogue, and validation errors as readable lines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from consent.models import AgencyApp, Purpose
from profile_store.catalogue import Catalogue

NOT_GIVEN = "—"
SENSITIVITY = {"low": "Low", "medium": "Medium", "high": "High (masked)"}


@dataclass(frozen=True)
class AppRow:
    client_id: str
    name: str
    agency: str
    profiles: str
    disabled: bool
    purposes: int


@dataclass(frozen=True)
class AttributeLine:
    name: str
    label: str
    source: str
    sensitivity: str
    known: bool


@dataclass(frozen=True)
class PurposeView:
    id: str
    description: str
    required: list[AttributeLine]
    optional: list[AttributeLine]


@dataclass(frozen=True)
class KeyLine:
    kid: str
    use: str
    alg: str


@dataclass(frozen=True)
class AppDetail:
    app: AgencyApp
    attributes: list[AttributeLine]
    purposes: list[PurposeView]
    keys: list[KeyLine]


def app_rows(apps: Iterable[AgencyApp], counts: Mapping[str, int]) -> list[AppRow]:
    return [
        AppRow(a.client_id, a.name, a.agency, ", ".join(a.profiles), a.disabled, counts.get(a.client_id, 0))
        for a in apps
    ]


def app_detail(app: AgencyApp, purposes: Iterable[Purpose], catalogue: Catalogue) -> AppDetail:
    def lines(names: Iterable[str]) -> list[AttributeLine]:
        return [attribute_line(name, catalogue) for name in names]

    return AppDetail(
        app=app,
        attributes=lines(app.allowed_attributes),
        purposes=[
            PurposeView(
                p.purpose_id, p.description, lines(p.required_attributes), lines(p.optional_attributes)
            )
            for p in purposes
        ],
        keys=jwks_summary(app.jwks) if app.jwks is not None else [],
    )


def attribute_line(name: str, catalogue: Catalogue) -> AttributeLine:
    """An attribute with its catalogue description; one the catalogue dropped since is flagged."""
    if name not in catalogue:
        return AttributeLine(name, "Not in the attribute catalogue", NOT_GIVEN, NOT_GIVEN, known=False)
    attribute = catalogue[name]
    agency = catalogue.agencies.get(attribute.agency)
    return AttributeLine(
        name=name,
        label=attribute.label,
        source=agency.name if agency else attribute.agency,
        sensitivity=SENSITIVITY.get(attribute.sensitivity, attribute.sensitivity),
        known=True,
    )


def jwks_summary(jwks: Any) -> list[KeyLine]:
    """kid, use and alg of each key: never the key material. Tolerates odd documents (the schema
    checks only that `jwks` is an object)."""
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        return []
    return [
        KeyLine(*(str(key.get(name) or NOT_GIVEN) for name in ("kid", "use", "alg")))
        for key in keys
        if isinstance(key, Mapping)
    ]


def problems(errors: Any, path: str = "") -> list[str]:
    """marshmallow's nested error messages as lines like `purposes[0].description: ...`."""
    if isinstance(errors, Mapping):
        lines: list[str] = []
        for key, value in errors.items():
            if key == "_schema":
                where = path
            elif isinstance(key, int):
                where = f"{path}[{key}]"
            else:
                where = f"{path}.{key}" if path else str(key)
            lines += problems(value, where)
        return lines
    if isinstance(errors, list | tuple):
        return [line for item in errors for line in problems(item, path)]
    return [f"{path}: {errors}" if path else str(errors)]


@dataclass(frozen=True)
class ChoiceGroup:
    """The catalogue's attributes from one source, as the form offers them: (name, label)."""

    source: str
    items: list[tuple[str, str]]


def catalogue_choices(catalogue: Catalogue) -> list[ChoiceGroup]:
    """Every attribute an app may ask for, by label, grouped by the agency that holds it."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for name in catalogue.names():
        attribute = catalogue[name]
        agency = catalogue.agencies.get(attribute.agency)
        groups.setdefault(agency.name if agency else attribute.agency, []).append((name, attribute.label))
    return [
        ChoiceGroup(source, sorted(items, key=lambda item: item[1].lower()))
        for source, items in groups.items()
    ]


def percent(rate: float | None) -> str:
    """An error rate for people: "2.5%", or a dash when there were no requests."""
    return NOT_GIVEN if rate is None else f"{rate * 100:.1f}%".replace(".0%", "%")
