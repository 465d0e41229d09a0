"""What the consent screen lists: one row per requested attribute, with what will be shared.

The consent is about attributes, but a Myinfo v5 scope may name only part of one
(`cpfbalances.oa`, v5 spec §8.3): the release then sends just that part. The citizen must see what
is asked, so such a row says which part in its label ("Pension account balances — Ordinary account
only") and previews only that part, narrowed exactly as the release will narrow it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from profile_store.assembly import FieldView
from profile_store.catalogue import Catalogue

from ..fapi.scopes import release_selection
from ..oauth.release import narrow
from ..profile_display import ShownField, show_field
from ..profile_labels import partial_label


@dataclass(frozen=True)
class Row:
    name: str  # the attribute: what the checkbox approves
    label: str
    field: ShownField
    agency: str
    required: bool
    declared: bool = False  # the citizen's own declaration (source "2"): "Declared by you"


def consent_rows(
    views: Mapping[str, FieldView],
    catalogue: Catalogue,
    *,
    scope: Sequence[str],
    wire_scope: Sequence[str] | None,
    required: Iterable[str],
    now: dt.datetime,
) -> list[Row]:
    """The rows for the attributes in `scope` the profile has, in request order. `wire_scope` is
    the scope as the app sent it (None for MyInfo v4, which names whole attributes only)."""
    _attributes, parts = release_selection(wire_scope or [], scope)
    required = set(required)
    rows = []
    for name in scope:
        view = views.get(name)
        if view is None:
            continue
        paths = parts.get(name)
        if paths:
            view = dataclasses.replace(view, item=narrow({name: view.item}, {name: paths})[name])
        shown = show_field(view, now=now)
        agency = catalogue.agencies[view.agency].name if view.agency in catalogue.agencies else view.agency
        label = partial_label(shown.label, paths) if paths else shown.label
        rows.append(
            Row(
                name=name,
                label=label,
                field=shown,
                agency=agency,
                required=name in required,
                declared=view.declared,
            )
        )
    return rows
