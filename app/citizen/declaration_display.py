"""Declarations as people see them: each in words (as the profile shows a field), and the
citizen's profile with every declaration in its "Declared by you" group, including those of an
attribute an agency also holds. The agency's value stays where it is, first; a declaration never
replaces or hides it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from profile_store.assembly import FieldView
from profile_store.catalogue import CITIZEN, Catalogue
from profile_store.declarations import Declared
from profile_store.models import CITIZEN_PROVIDED

from ..profile_display import SOURCES, AgencyGroup, ProfilePage, ShownField, Summary, show_field

DECLARED_BY_YOU = "Declared by you"


def declared_view(
    catalogue: Catalogue, attribute: str, value: Any, declared_at: dt.datetime | None
) -> FieldView:
    spec = catalogue[attribute]
    stamp = declared_at.date() if declared_at else None
    return FieldView(spec, value, CITIZEN, CITIZEN_PROVIDED, stamp, declared_at, False, True)


def shown_declarations(
    catalogue: Catalogue, mine: Mapping[str, Declared], *, now: dt.datetime
) -> dict[str, ShownField]:
    """The citizen's declarations in words, in full (they are the citizen's own)."""
    return {
        name: show_field(view, now=now, masked=False)
        for name, view in declared_views(catalogue, mine).items()
    }


def declared_views(catalogue: Catalogue, mine: Mapping[str, Declared]) -> dict[str, FieldView]:
    """The declarations as profile fields (source "2"), those of attributes still in the catalogue."""
    return {
        name: declared_view(catalogue, name, d.value, d.declared_at)
        for name, d in mine.items()
        if name in catalogue
    }


def with_all_declarations(
    page: ProfilePage,
    top: Summary,
    fields: Mapping[str, FieldView],
    declared: Mapping[str, FieldView],
    *,
    now: dt.datetime,
) -> tuple[ProfilePage, Summary]:
    """The profile page with the declarations an agency value kept out of `fields` added to the
    "Declared by you" group (agencies come first in the catalogue's order, so the verified value
    is shown first), and the summary counting every declaration."""
    extra = [
        show_field(view, now=now, masked=False)
        for name, view in declared.items()
        if name in fields and not fields[name].declared
    ]
    groups = [dataclasses.replace(g, fields=[_yours(f) for f in g.fields]) for g in page.groups]
    if extra:
        mine = next((g for g in groups if g.code == CITIZEN), None)
        if mine is None:
            groups.append(AgencyGroup(CITIZEN, CITIZEN, []))
            mine = groups[-1]
        groups[groups.index(mine)] = dataclasses.replace(mine, fields=[*mine.fields, *map(_yours, extra)])
    return dataclasses.replace(page, groups=groups), dataclasses.replace(top, declared=len(declared))


def _yours(shown: ShownField) -> ShownField:
    """On the citizen's own page a declaration is theirs: "Declared by you"."""
    if shown.source != str(SOURCES[CITIZEN_PROVIDED]):
        return shown
    return dataclasses.replace(shown, source=DECLARED_BY_YOU)
