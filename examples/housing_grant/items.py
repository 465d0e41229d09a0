"""What the grant form asks for, in the agency's own words, and how a retrieved Myinfo item reads.

An agency knows its form: the labels here are the Housing Board's, not Consentry's catalogue. The
person format is Myinfo's (v4 person response; v5 nests the same items in `person_info`): every
item carries `source` ("1" government-verified, "2" declared by the person), `lastupdated`, and
`unavailable: true` when the agency holding it has no record.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class Item:
    """One thing the form asks for: the Myinfo attribute that fills it in, and its label."""

    name: str
    label: Any  # a lazy string, translated when shown
    hint: Any = None


# In the order the form shows them. Required and optional ones come from the registration
# (examples/agency-app.json): the citizen may untick the optional ones on Consentry's consent page.
ITEMS = [
    Item("uinfin", _l("NRIC or FIN")),
    Item("name", _l("Full name")),
    Item("dob", _l("Date of birth")),
    Item("regadd", _l("Registered address")),
    Item("marital", _l("Marital status")),
    Item("noa-basic", _l("Annual income"), _l("From your latest notice of assessment")),
    Item("cpfbalances", _l("CPF account balances")),
    Item("hdbownership", _l("HDB flats you own or owned")),
]
BY_NAME = {item.name: item for item in ITEMS}
MARITAL = {"1": _l("Single"), "2": _l("Married"), "3": _l("Widowed"), "5": _l("Divorced")}
CPF_ACCOUNTS = {
    "oa": _l("Ordinary account"),
    "sa": _l("Special account"),
    "ma": _l("MediSave account"),
    "ra": _l("Retirement account"),
}


@dataclass
class Shown:
    """A retrieved item as the form shows it: its value as lines (an address is several), grouped
    when the item is a list (several flats), and where it came from."""

    groups: list[list[str]] = field(default_factory=list)
    verified: bool = False
    updated: str = ""


def retrieved(person: dict[str, Any]) -> dict[str, Shown]:
    """The items of `person` that hold a record, shown; unavailable or missing ones are left out,
    for the citizen to type."""
    shown: dict[str, Shown] = {}
    for item in ITEMS:
        value = person.get(item.name)
        if value is None or _unavailable(value):
            continue
        elements = value if isinstance(value, list) else [value]
        groups = [_lines(item.name, element) for element in elements] or [[_("None on record")]]
        dates = [e.get("lastupdated") for e in elements if e.get("lastupdated")]
        shown[item.name] = Shown(
            groups=groups,
            verified=all(e.get("source") == "1" for e in elements),
            updated=date_text(max(dates)) if dates else "",
        )
    return shown


def _unavailable(value: Any) -> bool:
    return isinstance(value, dict) and bool(value.get("unavailable"))


def _lines(name: str, element: dict[str, Any]) -> list[str]:
    if name == "dob":
        return [date_text(_value(element))]
    if name == "regadd":
        return address_lines(element)
    if name == "marital":
        return [str(MARITAL.get(element.get("code", ""), str(element.get("desc", "")).capitalize()))]
    if name == "noa-basic":
        year = _value(element.get("yearofassessment"))
        lines = [money_text(_value(element.get("amount")))]
        return [*lines, _("Year of assessment %(year)s", year=year)] if year else lines
    if name == "cpfbalances":
        return [
            f"{label}: {money_text(_value(element[key]))}"
            for key, label in CPF_ACCOUNTS.items()
            if key in element
        ]
    if name == "hdbownership":
        return _flat_lines(element)
    return [str(_value(element))]


def _flat_lines(flat: dict[str, Any]) -> list[str]:
    lines = [*address_lines(flat.get("address") or {}), str(flat.get("hdbtype", {}).get("desc", ""))]
    if bought := _value(flat.get("dateofpurchase")):
        lines.append(_("Bought %(date)s", date=date_text(bought)))
    if sold := _value(flat.get("dateofownershiptransfer")):
        lines.append(_("Sold %(date)s", date=date_text(sold)))
    elif (loan := _value(flat.get("outstandingloanbalance"))) not in (None, ""):
        lines.append(_("Outstanding loan %(amount)s", amount=money_text(loan)))
    return [line for line in lines if line]


def address_lines(address: dict[str, Any]) -> list[str]:
    """A Singapore address as it is written on an envelope: block and street, unit and building,
    then "SINGAPORE" and the postal code. Empty parts are left out, not shown as commas."""
    block, street = _value(address.get("block")), _value(address.get("street"))
    floor, unit = _value(address.get("floor")), _value(address.get("unit"))
    building, postal = _value(address.get("building")), _value(address.get("postal"))
    unit_line = f"#{floor}-{unit}" if floor and unit else ""
    country = address.get("country", {}).get("desc", "") if address.get("type") != "SG" else "SINGAPORE"
    lines = [f"{block} {street}".strip(), f"{unit_line} {building}".strip(), f"{country} {postal}".strip()]
    return [str(line) for line in lines if line]


def money_text(amount: Any) -> str:
    """Singapore dollars, with cents: S$64,400.00."""
    if amount in (None, ""):
        return ""
    return "S$" + format_decimal(float(amount), format="#,##0.00")


def date_text(iso: Any) -> str:
    """An ISO date as GOV.UK writes dates: 6 June 1998."""
    if not iso:
        return ""
    try:
        return format_date(dt.date.fromisoformat(str(iso)), format="d MMMM y")
    except ValueError:
        return str(iso)


def _value(element: Any) -> Any:
    """The `value` of a Myinfo data item (`{"value": ...}`), or its description for a coded one."""
    if isinstance(element, dict):
        return element.get("value", element.get("desc"))
    return element
