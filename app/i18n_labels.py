"""The attribute catalogue's words (attribute labels, agency names) in the citizen's language.

The catalogue (profile_store/attributes.toml) is domain data and knows nothing of Flask, so its
labels are English there. Here each Attribute and Agency is swapped for a subclass whose `label` /
`name` is looked up in the request's catalogue of translations each time it is read: every page,
macro and `map(attribute='label')` gets the citizen's language without knowing it. Outside a
request (CLI, background work, domain code) they read as English, exactly as before.

`extract_catalogue` is a Babel extractor (babel.cfg) so `pybabel extract` puts the catalogue's
words in messages.pot, and the completeness test checks each has a Chinese translation."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from typing import IO, Any

from flask_babel import gettext

from profile_store.catalogue import Agency, Attribute, Catalogue

_RAW_LABEL = Attribute.label  # the slot descriptors of the frozen, slotted dataclasses
_RAW_NAME = Agency.name


class LocalisedAttribute(Attribute):
    """An Attribute whose `label` reads in the request's language."""

    @property  # type: ignore[override]
    def label(self) -> str:
        return gettext(_RAW_LABEL.__get__(self))  # type: ignore[attr-defined]

    @label.setter
    def label(self, value: str) -> None:  # the dataclass's __init__ stores the English label
        _RAW_LABEL.__set__(self, value)  # type: ignore[attr-defined]


class LocalisedAgency(Agency):
    """An Agency whose `name` reads in the request's language."""

    @property  # type: ignore[override]
    def name(self) -> str:
        return gettext(_RAW_NAME.__get__(self))  # type: ignore[attr-defined]

    @name.setter
    def name(self, value: str) -> None:
        _RAW_NAME.__set__(self, value)  # type: ignore[attr-defined]


def localise(catalogue: Catalogue) -> None:
    """Swap the catalogue's entries for localised ones, in place (idempotent: the default
    catalogue is shared by every app built in this process)."""
    catalogue.attributes = {
        key: a if isinstance(a, LocalisedAttribute) else LocalisedAttribute(**_fields(a))
        for key, a in catalogue.attributes.items()
    }
    catalogue.agencies = {
        key: a if isinstance(a, LocalisedAgency) else LocalisedAgency(code=a.code, name=_RAW_NAME.__get__(a))  # type: ignore[attr-defined]
        for key, a in catalogue.agencies.items()
    }


def _fields(attribute: Attribute) -> dict[str, Any]:
    names = ("name", "agency", "shape", "sensitivity", "declarable", "list_key")
    return {"label": _RAW_LABEL.__get__(attribute), **{n: getattr(attribute, n) for n in names}}  # type: ignore[attr-defined]


def extract_catalogue(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: dict[str, Any]
) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel extractor for attributes.toml: every agency name and attribute label."""
    text = fileobj.read().decode("utf-8")
    raw = tomllib.loads(text)
    lines = text.splitlines()

    def line_of(needle: str) -> int:
        return next((n for n, line in enumerate(lines, start=1) if needle in line), 0)

    for agency in raw.get("agencies", {}).values():
        yield line_of(f'"{agency["name"]}"'), "gettext", agency["name"], ["agency name"]
    for attribute in raw.get("attributes", {}).values():
        yield line_of(f'"{attribute["label"]}"'), "gettext", attribute["label"], ["attribute label"]
