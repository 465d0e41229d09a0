"""Fault injection: the ways a simulated agency can misbehave, and how answers get corrupted.

Faults are set per agency at run time (over HTTP or in-process) so tests and benchmarks can exercise
the connectors' timeouts, retries, circuit breakers and payload checks against a real server.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from profile_store.catalogue import default_catalogue

FAULTS = (
    "truncated_json",
    "wrong_types",
    "unknown_attribute",
    "hang",
    "garbage_bytes",
    "html_page",
    "json_array",
    "deep_json",
)
"""The malformed-answer faults, each a 200: half a JSON body; items of the wrong shape; an attribute
the catalogue does not know; no answer for HANG_SECONDS; the JSON body with bytes that are not
UTF-8 in it; an HTML maintenance page (text/html), as a proxy in front of a sick agency sends; a
JSON array where the object belongs; JSON nested deeper than any parser's recursion limit."""
HANG_SECONDS = 30.0
MAX_LATENCY_MS = 60_000
UNKNOWN_ATTRIBUTE = "favouritehawkerdish"
"""The attribute name the "unknown_attribute" fault adds; never in the catalogue."""


@dataclass(frozen=True, slots=True)
class Faults:
    """One agency's current misbehaviour. Immutable: an update swaps the whole object, so a request
    handler reads one consistent snapshot without taking a lock."""

    latency_ms: int = 0
    error_rate: float = 0.0
    outage: bool = False
    fault: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def updated(current: Faults, changes: Mapping[str, Any]) -> Faults:
    """`current` with `changes` (any subset of the Faults fields) applied. Raises ValueError, with a
    message safe to return to the caller, on an unknown field or a bad value."""
    if not isinstance(changes, Mapping):
        raise ValueError("expected a JSON object")
    unknown = [k for k in changes if k not in Faults.__dataclass_fields__]
    if unknown:
        raise ValueError(f"unknown fields: {sorted(unknown)}")
    if "latency_ms" in changes:
        latency = changes["latency_ms"]
        if type(latency) is not int or not 0 <= latency <= MAX_LATENCY_MS:
            raise ValueError(f"latency_ms must be an integer in [0, {MAX_LATENCY_MS}]")
    if "error_rate" in changes:
        rate = changes["error_rate"]
        if type(rate) not in (int, float) or not 0.0 <= rate <= 1.0:
            raise ValueError("error_rate must be a number in [0, 1]")
    if "outage" in changes and type(changes["outage"]) is not bool:
        raise ValueError("outage must be a boolean")
    if "fault" in changes and changes["fault"] is not None and changes["fault"] not in FAULTS:
        raise ValueError(f"fault must be null or one of {list(FAULTS)}")
    clean = dict(changes)
    if "error_rate" in clean:
        clean["error_rate"] = float(clean["error_rate"])
    return dataclasses.replace(current, **clean)


@cache
def _shapes() -> dict[str, str]:
    return {a.name: a.shape for a in default_catalogue().attributes.values()}


def wrong_types(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """The same attribute names with items of the wrong shape: an array where an object belongs, a
    bare number where a coded value belongs, an object where an array belongs. Every item fails
    `validate_item`."""
    shapes = _shapes()
    broken: dict[str, Any] = {}
    for name, item in attributes.items():
        shape = shapes.get(name, "value")
        if shape == "coded":
            broken[name] = 42
        elif shape == "list":
            broken[name] = {"value": len(item) if isinstance(item, list) else 0}
        else:
            broken[name] = [item]
    return broken


def with_unknown_attribute(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """`attributes` plus one well-formed item under a name the catalogue does not know."""
    return {**attributes, UNKNOWN_ATTRIBUTE: {"value": "CHICKEN RICE", "lastupdated": "2024-01-01"}}


def truncated(body: bytes) -> bytes:
    """The first half of a JSON body: never parses, whatever the body was."""
    return body[: len(body) // 2]


def garbage_bytes(body: bytes) -> bytes:
    """The body with bytes that are not UTF-8 (a lone continuation byte, an overlong sequence, a
    cut-off sequence, 0xFF) inside its first string: still JSON-shaped, never decodable."""
    at = body.find(b'"') + 1
    return body[:at] + b"\x80\xc0\xaf\xc3\x28\xff" + body[at:]


HTML_PAGE = b"<!doctype html><title>Service unavailable</title><h1>Down for maintenance</h1>"
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000
"""Deeper than Python's recursion limit: json.loads raises RecursionError, not ValueError."""


def as_array(body: bytes) -> bytes:
    """The JSON answer wrapped in an array: valid JSON, the wrong shape."""
    return b"[" + body + b"]"
