"""Turning a citizen's profile (person-format items with provenance) into what people see: the
citizen's own profile page, the operator's page and the consent screen's previews. Values in words
(app/value_format.py), masking where a page masks, provenance in words, agency status, and the
summary at the top of the citizen's page.

Masking happens here, before any template sees a value, so a template cannot print one by mistake.
The consent screen and the operator page mask highly sensitive values (a preview someone else may
see; never a whole value: value_format.mask). The citizen's own profile shows every value in full
but the national id (`OWNER_MASKED`): masking guards against shoulder-surfing, not the owner.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from profile_store.assembly import FieldView
from profile_store.catalogue import META_KEYS, Catalogue
from profile_store.history import EarlierValue
from profile_store.models import CITIZEN_PROVIDED, GOVERNMENT_VERIFIED, NOT_APPLICABLE, AgencySync

from .profile_labels import part_label as part_label
from .profile_labels import partial_label as partial_label
from .profile_labels import sub_label
from .value_format import (
    NOTHING,
    coded,
    is_address,
    long_date,
    mask_scalar,
    phone,
    postal_lines,
    scalar,
)

SOURCES = {
    GOVERNMENT_VERIFIED: _l("Government-verified"),
    CITIZEN_PROVIDED: _l("Declared by citizen"),
    NOT_APPLICABLE: _l("Not applicable"),
}
TABLE_COLUMNS = 4  # lists with more sub-fields than this show each entry as its own list (phones)
OWNER_MASKED = frozenset({"uinfin"})  # hidden from the owner too until "Show" (app/citizen/stepup.py)
# Sub-fields in reading order (values are stored with their keys sorted): the year before the amount,
# a vehicle's number, make and model first.
SUB_ORDER = {
    key: n
    for n, key in enumerate(
        ("yearofassessment", "month", "date", "employer", "amount", "vehicleno", "make", "model", "type",
         "yearofmanufacture", "name", "birthcertno", "dob", "tob", "sex", "oa", "sa", "ma", "ra", "address",
         "block", "building", "floor", "unit", "street", "postal", "country")
    )
}  # fmt: skip
TITLE_KEYS = ("vehicleno", "name")  # what names one entry of a wide list ("1 of 2: SBA1234A")


@dataclass(frozen=True)
class ShownField:
    label: str
    text: str | None  # a single value (an address on one line; `lines` has it line by line)
    parts: list[tuple[str, str]]  # the sub-fields of a composite value
    columns: list[str]  # a short list or history as a table: its column headings...
    table: list[list[str]]  # ...and one row per entry
    rows: list[list[tuple[str, str]]]  # a wide list: each entry's non-empty sub-fields
    source: str
    lastupdated: str
    fetched: str
    unavailable: bool
    masked: bool
    name: str = ""
    lines: list[str] = field(default_factory=list)  # a postal address, line by line
    captions: list[str] = field(default_factory=list)  # one per entry of `rows`: "1 of 2: SBA1234A"
    earlier: list[Earlier] = field(default_factory=list)  # earlier values, newest first


@dataclass(frozen=True)
class Earlier:
    """A value the field had before, and when it was replaced."""

    field: ShownField
    until: dt.datetime


@dataclass(frozen=True)
class AgencyGroup:
    code: str
    name: str
    fields: list[ShownField] = field(default_factory=list)

    @property
    def held(self) -> int:
        return sum(not f.unavailable for f in self.fields)


@dataclass(frozen=True)
class AgencyState:
    name: str
    state: str  # "ok" | "failed" | "never"
    last_error: str
    code: str = ""
    # UTC; pages show them in the display zone (app/display_time.py), staff pages with its name.
    succeeded_at: dt.datetime | None = None
    attempted_at: dt.datetime | None = None


@dataclass(frozen=True)
class ProfilePage:
    groups: list[AgencyGroup]
    agencies: list[AgencyState]
    failing: list[str]


@dataclass(frozen=True)
class Summary:
    """The top of the citizen's profile: whose it is, how fresh, what to be wary of."""

    name: str | None
    refreshed_at: dt.datetime | None
    unavailable: list[str]  # agencies whose last fetch failed, or never fetched
    stale: list[str]  # agencies last fetched longer ago than the refresh age
    no_record: list[str]  # agencies that answered but hold nothing about the citizen
    declared: int  # items the citizen declared themself


def profile_page(
    catalogue: Catalogue,
    fields: Mapping[str, FieldView],
    status: Mapping[str, AgencySync],
    *,
    now: dt.datetime,
    owner: bool = False,
    earlier: Mapping[str, Sequence[EarlierValue]] | None = None,
    revealed: frozenset[str] | None = None,
) -> ProfilePage:
    """The fields grouped by agency in the catalogue's order. `owner`: the citizen's own page, where
    only `OWNER_MASKED` is masked (but the attributes in `revealed`, which the citizen asked to see
    in full); else highly sensitive values are. `revealed` (the staff page): every value masked but
    these attributes, which a member of staff asked to see in full.
    `earlier`: each attribute's earlier values (profile_store.history), shown with the field."""
    groups = {code: AgencyGroup(code, agency.name) for code, agency in catalogue.agencies.items()}
    for name, view in fields.items():
        masked = name in OWNER_MASKED if owner else None
        if revealed is not None:
            masked = (masked and name not in revealed) if owner else name not in revealed
        shown = show_field(view, now=now, masked=masked)
        if earlier and earlier.get(name):
            past = [
                Earlier(show_field(_as_view(view, old), now=now, masked=masked), old.superseded_at)
                for old in earlier[name]
            ]
            shown = dataclasses.replace(shown, earlier=past)
        groups.setdefault(view.agency, AgencyGroup(view.agency, view.agency)).fields.append(shown)
    agencies = [
        agency_state(catalogue.agencies[code].name, status.get(code), code=code)
        for code in catalogue.source_agencies()
    ]
    return ProfilePage(
        groups=[g for g in groups.values() if g.fields],
        agencies=agencies,
        failing=[a.name for a in agencies if a.state == "failed"],
    )


def summary(
    page: ProfilePage,
    fields: Mapping[str, FieldView],
    *,
    refreshed_at: dt.datetime | None,
    now: dt.datetime,
    stale_after: dt.timedelta,
) -> Summary:
    name = fields.get("name")
    name_text = _leaf(name.item, None, masked=False) if name and not name.unavailable else None
    by_code = {group.code: group for group in page.groups}
    return Summary(
        name=name_text if name_text not in (None, NOTHING) else None,
        refreshed_at=refreshed_at,
        unavailable=[a.name for a in page.agencies if a.state != "ok"],
        stale=[
            a.name
            for a in page.agencies
            if a.state == "ok" and a.succeeded_at and _utc(now) - _utc(a.succeeded_at) > stale_after
        ],
        no_record=[
            a.name
            for a in page.agencies
            if a.state == "ok" and a.code in by_code and by_code[a.code].held == 0
        ],
        declared=sum(1 for view in fields.values() if view.declared),
    )


def show_field(view: FieldView, *, now: dt.datetime, masked: bool | None = None) -> ShownField:
    """One field in words. `masked`: None masks it if the catalogue calls it highly sensitive."""
    masked = view.attribute.masked if masked is None else masked
    text, parts, lines, entries = None, [], [], []
    if not view.unavailable:
        shape, item = view.attribute.shape, view.item
        if shape in ("value", "coded"):
            text = _leaf(item, None, masked)
        elif shape == "composite" and is_address(item):
            lines = postal_lines(item, masked)
            text = ", ".join(lines) or NOTHING
        elif shape == "composite" and "nbr" in item:
            text = _masked_text(phone(item), masked)
        elif shape == "composite":
            parts = _parts(item, masked)
        elif shape == "history":
            entries = [_parts(element, masked) for element in item.get(view.attribute.list_key or "", [])]
        else:
            entries = [_parts(element, masked) for element in item]
    if parts and all(part == NOTHING for _, part in parts):
        text, parts = NOTHING, []  # a record with nothing in it reads better as one dash
    shown = bool(parts or entries) or text not in (None, NOTHING)
    columns = list(dict.fromkeys(label for entry in entries for label, _ in entry))
    as_table = bool(entries) and len(columns) <= TABLE_COLUMNS
    wide = [] if as_table else [[(k, v) for k, v in entry if v != NOTHING] for entry in entries]
    return ShownField(
        label=view.attribute.label,
        text=text,
        parts=parts,
        columns=columns if as_table else [],
        table=[[dict(entry).get(c, NOTHING) for c in columns] for entry in entries] if as_table else [],
        rows=wide,
        source=str(SOURCES.get(view.source, _l("Unknown"))),
        lastupdated=long_date(view.lastupdated) if view.lastupdated else "",
        fetched=_fetched(view.fetched_at, now),
        unavailable=view.unavailable,
        masked=masked and shown,
        name=view.attribute.name,
        lines=lines,
        captions=_captions(view, wide, titled=not masked),
    )


def _fetched(moment: dt.datetime | None, now: dt.datetime) -> str:
    return _("Fetched %(ago)s", ago=ago(moment, now)) if moment else _("Never fetched")


def _captions(view: FieldView, wide: list[list[tuple[str, str]]], *, titled: bool) -> list[str]:
    """ "1 of 2: SBA1234A" per entry of a wide list; without the title where values are masked."""
    if not wide:
        return []
    raw = view.item.get(view.attribute.list_key or "", []) if isinstance(view.item, Mapping) else view.item
    captions = []
    for n, element in enumerate(raw, start=1):
        title = next((_plain_title(element.get(key)) for key in TITLE_KEYS if element.get(key)), "")
        title = title if titled else ""
        place = _("%(n)s of %(total)s", n=n, total=len(raw))
        captions.append(place + (f": {title}" if title else ""))
    return captions


def _plain_title(item: Any) -> str:
    return str(item.get("value") or "") if isinstance(item, Mapping) else ""


def _as_view(current: FieldView, old: EarlierValue) -> FieldView:
    """An earlier value shaped as a FieldView, to be shown like the current one."""
    return dataclasses.replace(
        current,
        item=old.value,
        source=old.source,
        lastupdated=old.lastupdated,
        fetched_at=old.recorded_at,
        unavailable=old.unavailable,
    )


def agency_state(name: str, sync: AgencySync | None, *, code: str = "") -> AgencyState:
    if sync is None:
        return AgencyState(name, "never", "", code)
    return AgencyState(
        name=name,
        state="failed" if sync.last_error else "ok",
        last_error=sync.last_error or "",
        code=code,
        succeeded_at=sync.succeeded_at,
        attempted_at=sync.attempted_at,
    )


def _parts(item: Mapping[str, Any], masked: bool) -> list[tuple[str, str]]:
    keys = sorted((k for k in item if k not in META_KEYS), key=lambda k: SUB_ORDER.get(k, len(SUB_ORDER)))
    return [(sub_label(key), _leaf(item[key], key, masked)) for key in keys]


def _leaf(value: Any, key: str | None, masked: bool, depth: int = 0) -> str:
    """A value, sub-field or coded item in words, masked when `masked`. A nested record (a licence's
    suspension, a withdrawal) reads as its non-empty "Label: text" parts on one line, a record
    inside it in brackets; a list's items are separated by "; "."""
    if isinstance(value, Mapping):
        if "value" in value:
            return _leaf(value["value"], key, masked, depth)
        if "code" in value or "desc" in value:
            return _masked_text(coded(value.get("code"), value.get("desc")), masked)
        if is_address(value):
            return ", ".join(postal_lines(value, masked)) or NOTHING
        inner = [
            f"{sub_label(k)}: {text}"
            for k, v in value.items()
            if k not in META_KEYS and (text := _leaf(v, k, masked, depth + 1)) != NOTHING
        ]
        if not inner:
            return NOTHING
        return "; ".join(inner) if depth == 0 else f"({', '.join(inner)})"
    if isinstance(value, list):
        texts = [_leaf(v, key, masked, depth + 1) for v in value]
        return "; ".join(text for text in texts if text != NOTHING) or NOTHING
    text = scalar(value, key)
    return mask_scalar(value, key, text) if masked else text


def _masked_text(text: str, masked: bool) -> str:
    return mask_scalar(text, None, text) if masked else text


def ago(moment: dt.datetime, now: dt.datetime) -> str:
    seconds = max(0, int((_utc(now) - _utc(moment)).total_seconds()))
    if seconds >= 86_400:
        return ngettext("%(num)d day ago", "%(num)d days ago", seconds // 86_400)
    if seconds >= 3_600:
        return ngettext("%(num)d hour ago", "%(num)d hours ago", seconds // 3_600)
    if seconds >= 60:
        return ngettext("%(num)d minute ago", "%(num)d minutes ago", seconds // 60)
    return _("just now")


def _utc(moment: dt.datetime) -> dt.datetime:
    # Stored times are UTC; a database that drops the zone must not shift them to local time.
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
