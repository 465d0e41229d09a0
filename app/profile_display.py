"""Turning a citizen's profile (person-format items with provenance) into what people see (the
operator page, the consent screen): readable values, masking of highly sensitive ones, provenance
in words, agency status.

Masking happens here, before any template sees a value, so a template cannot print one by mistake.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from profile_store.assembly import FieldView
from profile_store.catalogue import META_KEYS, Catalogue
from profile_store.models import CITIZEN_PROVIDED, GOVERNMENT_VERIFIED, NOT_APPLICABLE, AgencySync

SOURCES = {
    GOVERNMENT_VERIFIED: "Government-verified",
    CITIZEN_PROVIDED: "Declared by citizen",
    NOT_APPLICABLE: "Not applicable",
}
MASK, SHOWN = "••••", 4
NOTHING = "\N{EN DASH}"
TABLE_COLUMNS = 4  # lists with more sub-fields than this show each entry as its own list (phones)
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Sub-fields in reading order where the person format's order is not (addresses).
SUB_ORDER = {
    key: n for n, key in enumerate(("block", "building", "floor", "unit", "street", "postal", "country"))
}
# Sub-field names of the person format that do not read well as they are.
SUB_LABELS = {
    "startdate": "Start date", "enddate": "End date", "issuedate": "Issue date", "expirydate": "Expiry date",
    "nbr": "Number", "areacode": "Area code", "postal": "Postal code", "type": "Address type",
    "yearofassessment": "Year of assessment", "taxclearance": "Tax clearance", "oa": "Ordinary account",
    "sa": "Special account", "ma": "MediSave account", "ra": "Retirement account",
    "gstregular": "GST voucher (cash)", "gstmedisave": "GST voucher (MediSave)",
    "gstspecial": "GST voucher (special)", "signup": "Signed up", "withdrawaldetails": "Withdrawals",
    "shareofcover": "Share of cover", "insurercode": "Insurer", "sumassuredamount": "Sum assured",
    "saqparticipationstatus": "Self-awareness questionnaire", "sdsnetshareholdingqty": "Shares held",
    "comstatus": "Commercial licence status", "pdl": "Provisional licence", "qdl": "Qualified licence",
    "photocardserialno": "Photo card serial number", "totaldemeritpoints": "Demerit points",
    "yearattained": "Year attained", "birthcertno": "Birth certificate number", "dob": "Date of birth",
    "tob": "Time of birth", "lifestatus": "Life status", "hanyupinyinname": "Hanyu Pinyin name",
    "hanyupinyinaliasname": "Hanyu Pinyin alias name", "aliasname": "Alias name",
    "marriedname": "Married name", "secondaryrace": "Secondary race", "birthcountry": "Country of birth",
    "residentialstatus": "Residential status", "scprgrantdate": "PR granted", "nric": "NRIC",
    "hdbtype": "Flat type", "noofowners": "Number of owners", "dateofpurchase": "Date of purchase",
    "dateofownershiptransfer": "Date of ownership transfer", "leasecommencementdate": "Lease commencement",
    "termoflease": "Term of lease", "loangranted": "Loan granted",
    "monthlyloaninstalment": "Monthly instalment", "originalloanrepayment": "Original repayment period",
    "balanceloanrepayment": "Remaining repayment period", "outstandingloanbalance": "Outstanding loan",
    "vehicleno": "Vehicle number", "iulabelno": "IU label number", "chassisno": "Chassis number",
    "engineno": "Engine number", "motorno": "Motor number", "yearofmanufacture": "Year of manufacture",
    "firstregistrationdate": "First registered", "originalregistrationdate": "Originally registered",
    "coecategory": "COE category", "coeexpirydate": "COE expiry", "roadtaxexpirydate": "Road tax expiry",
    "quotapremium": "Quota premium", "openmarketvalue": "Open market value", "co2emission": "CO2 emission",
    "enginecapacity": "Engine capacity", "powerrate": "Power rating", "primarycolour": "Primary colour",
    "secondarycolour": "Secondary colour", "effectiveownership": "Owner since",
    "nooftransfers": "Number of transfers", "minimumparfbenefit": "Minimum PARF benefit",
    "maximumladenweight": "Maximum laden weight", "maximumunladenweight": "Maximum unladen weight",
    "vpc": "Vehicle parking certificate",
}  # fmt: skip


@dataclass(frozen=True)
class ShownField:
    label: str
    text: str | None  # a single value
    parts: list[tuple[str, str]]  # the sub-fields of a composite value
    columns: list[str]  # a short list or history as a table: its column headings...
    table: list[list[str]]  # ...and one row per entry
    rows: list[list[tuple[str, str]]]  # a wide list or history: each entry with its sub-fields
    source: str
    lastupdated: str
    fetched: str
    unavailable: bool
    masked: bool


@dataclass(frozen=True)
class AgencyGroup:
    code: str
    name: str
    fields: list[ShownField] = field(default_factory=list)


@dataclass(frozen=True)
class AgencyState:
    name: str
    state: str  # "ok" | "failed" | "never"
    last_success: str
    last_attempt: str
    last_error: str


@dataclass(frozen=True)
class ProfilePage:
    groups: list[AgencyGroup]
    agencies: list[AgencyState]
    failing: list[str]


def profile_page(
    catalogue: Catalogue,
    fields: Mapping[str, FieldView],
    status: Mapping[str, AgencySync],
    *,
    now: dt.datetime,
) -> ProfilePage:
    groups = {code: AgencyGroup(code, agency.name) for code, agency in catalogue.agencies.items()}
    for view in fields.values():
        group = groups.setdefault(view.agency, AgencyGroup(view.agency, view.agency))
        group.fields.append(show_field(view, now=now))
    agencies = [
        agency_state(catalogue.agencies[code].name, status.get(code)) for code in catalogue.source_agencies()
    ]
    return ProfilePage(
        groups=[g for g in groups.values() if g.fields],
        agencies=agencies,
        failing=[a.name for a in agencies if a.state == "failed"],
    )


def show_field(view: FieldView, *, now: dt.datetime) -> ShownField:
    masked = view.attribute.masked
    text, parts, entries = None, [], []
    if not view.unavailable:
        shape, item = view.attribute.shape, view.item
        if shape in ("value", "coded"):
            text = _leaf(item, masked)
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
    return ShownField(
        label=view.attribute.label,
        text=text,
        parts=parts,
        columns=columns if as_table else [],
        table=[[dict(entry).get(c, NOTHING) for c in columns] for entry in entries] if as_table else [],
        rows=[] if as_table else entries,
        source=SOURCES.get(view.source, "Unknown"),
        lastupdated=long_date(view.lastupdated) if view.lastupdated else "",
        fetched=f"Fetched {ago(view.fetched_at, now)}" if view.fetched_at else "Never fetched",
        unavailable=view.unavailable,
        masked=masked and shown,
    )


def agency_state(name: str, sync: AgencySync | None) -> AgencyState:
    if sync is None:
        return AgencyState(name, "never", "Never", "Never", "")
    return AgencyState(
        name=name,
        state="failed" if sync.last_error else "ok",
        last_success=timestamp(sync.succeeded_at) if sync.succeeded_at else "Never",
        last_attempt=timestamp(sync.attempted_at),
        last_error=sync.last_error or "",
    )


def mask(text: str) -> str:
    """All but the last four characters hidden; short values hidden entirely. The mask has a fixed
    length so it does not give away the value's length."""
    return MASK + text[-SHOWN:] if len(text) > SHOWN else MASK


def _parts(item: Mapping[str, Any], masked: bool) -> list[tuple[str, str]]:
    keys = sorted((k for k in item if k not in META_KEYS), key=lambda k: SUB_ORDER.get(k, len(SUB_ORDER)))
    return [(sub_label(key), _leaf(item[key], masked)) for key in keys]


def _leaf(value: Any, masked: bool) -> str:
    text = _readable(value)
    return mask(text) if masked and text != NOTHING else text


def _readable(value: Any) -> str:
    if isinstance(value, Mapping):
        if "value" in value:
            return _readable(value["value"])
        if "code" in value or "desc" in value:
            code, desc = str(value.get("code") or ""), str(value.get("desc") or "")
            return f"{desc} ({code})" if desc and code and code != desc else (desc or code or NOTHING)
        # A nested record (a licence's suspension, a withdrawal): its non-empty parts on one line.
        inner = [
            f"{sub_label(k)}: {text}"
            for k, v in value.items()
            if k not in META_KEYS and (text := _readable(v)) != NOTHING
        ]
        return "; ".join(inner) or NOTHING
    if isinstance(value, list):
        return "; ".join(text for v in value if (text := _readable(v)) != NOTHING) or NOTHING
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if value is None or value == "":
        return NOTHING
    if isinstance(value, str) and ISO_DATE.fullmatch(value):
        return long_date(dt.date.fromisoformat(value))
    return str(value)


def sub_label(key: str) -> str:
    return SUB_LABELS.get(key, key.replace("_", " ").replace("-", " ").capitalize())


def partial_label(label: str, paths: Sequence[str]) -> str:
    """An attribute asked for in part (a v5 scope such as `cpfbalances.oa`), as people read it:
    "Pension account balances \N{EM DASH} Ordinary account only"."""
    return f"{label} \N{EM DASH} {_listed([part_label(p) for p in paths])} only"


def part_label(path: str) -> str:
    """A dotted sub-attribute in words: `qdl.expirydate` is "Qualified licence expiry date"."""
    first, *rest = (sub_label(segment) for segment in path.split("."))
    return " ".join([first, *(_lower_first(label) for label in rest)])


def _lower_first(label: str) -> str:
    # "Expiry date" reads as "expiry date" mid-phrase; "COE category" or "NRIC" keep their capitals.
    return label[0].lower() + label[1:] if label[1:2].islower() else label


def _listed(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"


def long_date(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def timestamp(moment: dt.datetime) -> str:
    moment = _utc(moment)
    return f"{moment.day} {moment:%b %Y %H:%M}"


def ago(moment: dt.datetime, now: dt.datetime) -> str:
    seconds = max(0, int((_utc(now) - _utc(moment)).total_seconds()))
    for size, unit in ((86_400, "day"), (3_600, "hour"), (60, "minute")):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def _utc(moment: dt.datetime) -> dt.datetime:
    # Stored times are UTC; a database that drops the zone must not shift them to local time.
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
