"""Builders for MyInfo person-format items, as the simulated agencies send them.

Top-level items carry `lastupdated` (and `source: "3"` where the attribute does not apply to the
person) but never `classification`; elements of list attributes carry no meta keys at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from typing import Any

from core.uinfin import check_letter

from .tables import REFERENCE_DATE, STAMP_START

NOT_APPLICABLE = "3"
# Every possible lastupdated stamp, formatted once: items are stamped on every request.
_STAMPS = tuple(
    (STAMP_START + dt.timedelta(days=d)).isoformat() for d in range((REFERENCE_DATE - STAMP_START).days + 1)
)


def seeded_rng(*parts: str) -> random.Random:
    """A generator that depends only on `parts`: sha256, never hash(), so every machine agrees."""
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


def iso(day: dt.date | None) -> str:
    return day.isoformat() if day else ""


def add_years(day: dt.date, years: int) -> dt.date:
    """`day` moved by whole years; 29 February lands on 28 February in common years."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def random_day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    """A day in [start, end]; `start` itself when the range is empty."""
    span = (end - start).days
    return start + dt.timedelta(days=rng.randint(0, span)) if span > 0 else start


def stamp(rng: random.Random) -> str:
    """A lastupdated date between STAMP_START and REFERENCE_DATE."""
    return _STAMPS[int(rng.random() * len(_STAMPS))]


def val(value: Any) -> dict[str, Any]:
    return {"value": value}


def code(code_: str, desc: str) -> dict[str, str]:
    return {"code": code_, "desc": desc}


def top(rng: random.Random, payload: dict[str, Any], *, applicable: bool = True) -> dict[str, Any]:
    """A top-level item: `payload` plus its lastupdated stamp (and source "3" when not applicable)."""
    item = dict(payload)
    item["lastupdated"] = stamp(rng)
    if not applicable:
        item["source"] = NOT_APPLICABLE
    return item


def value_item(rng: random.Random, value: Any, *, applicable: bool = True) -> dict[str, Any]:
    return top(rng, {"value": value}, applicable=applicable)


def coded_item(rng: random.Random, code_: str, desc: str, *, applicable: bool = True) -> dict[str, Any]:
    return top(rng, {"code": code_, "desc": desc}, applicable=applicable)


def unavailable(rng: random.Random) -> dict[str, Any]:
    """The agency knows the person but holds nothing for this attribute."""
    return {"lastupdated": stamp(rng), "unavailable": True}


def sg_address(block: str, building: str, floor: str, unit: str, street: str, postal: str) -> dict[str, Any]:
    """A Singapore-format address object (the body of regadd, or of an hdbownership address)."""
    return {
        "type": "SG",
        "block": val(block),
        "building": val(building),
        "floor": val(floor),
        "unit": val(unit),
        "street": val(street),
        "postal": val(postal),
        "country": code("SG", "SINGAPORE"),
    }


def random_nric(rng: random.Random, born: dt.date) -> str:
    """A valid NRIC for someone born on `born` (S before 2000, T after, year in the first digits).
    Not drawn from the demo sequence, so it may collide with a demo id: it names a relative only."""
    prefix = "S" if born.year < 2000 else "T"
    digits = f"{born.year % 100:02d}{rng.randint(0, 99_999):05d}"
    return prefix + digits + check_letter(prefix, digits)


def money(amount: float) -> float | int:
    """Whole dollars stay ints (as in MyInfo samples); anything else keeps two decimals."""
    rounded = round(amount, 2)
    return int(rounded) if rounded == int(rounded) else rounded
