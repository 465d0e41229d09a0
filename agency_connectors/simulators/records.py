"""`record_for`: what one simulated agency holds about one person.

Deterministic: the record depends only on (seed, agency, uinfin), through sha256, so every run and
every machine serves the same data. Each agency answers with exactly the attributes the catalogue
assigns to it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import cache
from typing import Any

from core.uinfin import is_valid_uinfin
from profile_store.catalogue import default_catalogue

from .items import seeded_rng, unavailable
from .persona import Persona, persona_for
from .records_assets import housing_record, transport_record
from .records_people import education_record, family_record, identity_record
from .records_work import employment_record, pension_record, tax_record

Builder = Callable[[Persona, random.Random], dict[str, Any]]

# agency -> (holds a record of this person?, record builder)
_AGENCIES: dict[str, tuple[Callable[[Persona], bool], Builder]] = {
    "identity": (lambda p: True, identity_record),
    "tax": (lambda p: p.has_tax_record, tax_record),
    "pension": (lambda p: p.has_cpf, pension_record),
    "housing": (lambda p: p.dwelling != "private", housing_record),
    "transport": (lambda p: p.drives, transport_record),
    "employment": (lambda p: p.employed, employment_record),
    "education": (lambda p: p.has_edu_record, education_record),
    "family": (lambda p: True, family_record),
}
AGENCIES: tuple[str, ...] = tuple(_AGENCIES)
"""The simulated agencies, in catalogue order (the "citizen" pseudo-agency is not one of them)."""


def record_for(agency: str, uinfin: str, seed: str = "consentry") -> dict[str, Any] | None:
    """`agency`'s items for `uinfin`, keyed by attribute, or None when the agency holds no record of
    that person (always None for an invalid id). Raises ValueError for an unknown agency.

    The result is a fresh dict the caller may change."""
    if agency not in _AGENCIES:
        raise ValueError(f"unknown agency {agency!r}")
    if not is_valid_uinfin(uinfin):
        return None
    person = persona_for(uinfin, seed)
    holds, build = _AGENCIES[agency]
    if not holds(person):
        return None
    rng = seeded_rng(seed, agency, uinfin)
    return _fit(agency, build(person, rng), rng)


@cache
def _owned(agency: str) -> tuple[tuple[str, str], ...]:
    """(attribute, shape) of every attribute the catalogue gives `agency`, in catalogue order."""
    return tuple((a.name, a.shape) for a in default_catalogue().owned_by(agency))


def _fit(agency: str, items: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Exactly the catalogue's attributes: extras dropped, missing ones sent as unavailable (an empty
    array for list attributes, which have no item to carry the flag)."""
    fitted = {}
    for name, shape in _owned(agency):
        item = items.get(name)
        if item is None:
            item = [] if shape == "list" else unavailable(rng)
        fitted[name] = item
    return fitted
