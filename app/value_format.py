"""One profile value in words people read, and how a preview masks it.

- Coded values read as their description in ordinary case ("Married"), never "MARRIED (2)".
- Amounts carry their currency: "S$1,234.56" ("S$75,500" for whole dollars, as GOV.UK writes).
- Dates read "17 March 1989", months "March 2024", times of birth "10:37pm".
- Addresses read as postal lines: "9 LEEDON HEIGHTS", "#26-368", "D'LEEDON", "Singapore 260944".
- Masking (previews that someone else may see over the citizen's shoulder: the consent screen, the
  operator page) never hides a value whole: dates, years and yes/no are left as they are (they
  carry no secret on their own and a masked year told nobody anything); an amount keeps its
  currency; a value of several words keeps its first word ("STRAITS ••••"); anything else keeps
  its last half, at most 4 characters ("••••917J", "••••68"), a one-character value whole. The mask
  has a fixed length so it does not give the value's length away.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

from babel.dates import format_date, format_skeleton, format_time
from flask_babel import gettext as _

from .i18n import current_locale

MASK, SHOWN = "••••", 4
NOTHING = "\N{EN DASH}"
CURRENCY = "S$"  # the person format's amounts are Singapore dollars (MyInfo v4 §8)
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_MONTH = re.compile(r"\d{4}-\d{2}")
ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?")
NUMBER = re.compile(r"-?\d+(\.\d+)?")
# Sub-fields holding an amount of money, a year, or a yes/no flag ("Y"/"N").
MONEY_KEYS = frozenset({
    "amount", "employment", "trade", "rent", "interest", "gstregular", "gstmedisave", "gstspecial",
    "oa", "sa", "ma", "ra", "accruedinterestamt", "monthlyinstalmentamt", "principalwithdrawalamt",
    "totalamountofcpfallowedforproperty", "sumassuredamount", "loangranted", "outstandingloanbalance",
    "monthlyloaninstalment", "quotapremium", "openmarketvalue", "minimumparfbenefit", "quantum", "high",
    "low",
})  # fmt: skip
YEAR_KEYS = frozenset({"year", "yearofassessment", "yearattained", "yearofmanufacture", "gradyear"})
FLAG_KEYS = frozenset({"taxclearance", "eligibility"})
SMALL_WORDS = frozenset({"a", "an", "and", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with"})


def readable_case(text: str) -> str:
    """An agency's capitals in ordinary case: "SINGAPORE CITIZEN" is "Singapore Citizen",
    "5-ROOM FLAT (HDB)" is "5-room Flat (HDB)". Text with any lower-case letter is left alone."""
    if text != text.upper():
        return text
    words = []
    for n, word in enumerate(text.split(" ")):
        if word.startswith("(") and word.endswith(")"):
            words.append(word)  # an acronym in brackets
        elif n and word.lower() in SMALL_WORDS:
            words.append(word.lower())
        else:
            words.append(word.capitalize())
    return " ".join(words)


def coded(code: Any, desc: Any) -> str:
    """A coded value as its description; the code only when there is no description."""
    desc, code = str(desc or "").strip(), str(code or "").strip()
    return readable_case(desc) if desc else (code or NOTHING)


def money(amount: float | int) -> str:
    """ "S$1,234.56"; whole amounts without pence: "S$75,500"."""
    if float(amount).is_integer():
        return f"{'-' if amount < 0 else ''}{CURRENCY}{abs(int(amount)):,}"
    return f"{'-' if amount < 0 else ''}{CURRENCY}{abs(amount):,.2f}"


def long_date(day: dt.date) -> str:
    locale = current_locale()
    return f"{day.day} {day:%B %Y}" if locale == "en" else format_date(day, "long", locale=locale)


def month_year(month: dt.date) -> str:
    locale = current_locale()
    return f"{month:%B %Y}" if locale == "en" else format_skeleton("yMMMM", month, locale=locale)


def yes_no(value: bool) -> str:
    return _("Yes") if value else _("No")


def clock(hour: int, minute: int) -> str:
    """GOV.UK style: "9am", "10:37pm", "midnight", "midday"; the locale's short time in another."""
    if (locale := current_locale()) != "en":
        return format_time(dt.time(hour, minute), "short", locale=locale)
    if minute == 0 and hour in (0, 12):
        return "midnight" if hour == 0 else "midday"
    minutes = f":{minute:02d}" if minute else ""
    return f"{hour % 12 or 12}{minutes}{'am' if hour < 12 else 'pm'}"


def scalar(value: Any, key: str | None = None) -> str:
    """A leaf value (string, number, boolean) in words; `key` is its sub-field name, which says
    whether a number is money or a "Y" a yes."""
    if isinstance(value, bool):
        return yes_no(value)
    if value is None or value == "":
        return NOTHING
    if key in MONEY_KEYS and (
        isinstance(value, int | float) or (isinstance(value, str) and NUMBER.fullmatch(value))
    ):
        return money(float(value) if isinstance(value, str) else value)
    if isinstance(value, str):
        return _string(value, key)
    return str(value)


def _string(value: str, key: str | None) -> str:
    if ISO_DATE.fullmatch(value):
        return long_date(dt.date.fromisoformat(value))
    if ISO_MOMENT.fullmatch(value):
        moment = dt.datetime.fromisoformat(value)
        return f"{long_date(moment.date())}, {clock(moment.hour, moment.minute)}"
    if ISO_MONTH.fullmatch(value) and 1 <= int(value[5:]) <= 12:
        return month_year(dt.date(int(value[:4]), int(value[5:]), 1))
    if key == "tob" and re.fullmatch(r"\d{4}", value) and int(value[:2]) < 24 and int(value[2:]) < 60:
        return clock(int(value[:2]), int(value[2:]))
    if key in FLAG_KEYS and value.upper() in ("Y", "N"):
        return yes_no(value.upper() == "Y")
    return value


def is_address(payload: Mapping[str, Any]) -> bool:
    return "postal" in payload or "street" in payload or "line1" in payload


def _plain(payload: Mapping[str, Any], key: str) -> str:
    item = payload.get(key)
    if isinstance(item, Mapping):
        if "value" in item:
            return str(item["value"] or "").strip()
        if "desc" in item or "code" in item:
            return coded(item.get("code"), item.get("desc"))
    return str(item or "").strip() if not isinstance(item, Mapping | list) else ""


def postal_lines(payload: Mapping[str, Any], masked: bool = False) -> list[str]:
    """An address as it goes on an envelope, each part masked first when `masked`:
    "9 LEEDON HEIGHTS" / "#26-368" / "D'LEEDON" / "Singapore 260944"."""
    part = {key: _plain(payload, key) for key in ("block", "street", "floor", "unit", "building", "postal")}
    part.update({key: _plain(payload, key) for key in ("line1", "line2")})
    country = _plain(payload, "country").replace(NOTHING, "")
    if masked:
        part = {key: mask(text) if text else "" for key, text in part.items()}
    unit = f"#{part['floor']}-{part['unit']}" if part["floor"] and part["unit"] else part["unit"]
    lines = [
        " ".join(filter(None, (part["block"], part["street"]))),
        part["line1"],
        part["line2"],
        unit,
        part["building"],
        " ".join(filter(None, (country, part["postal"]))),
    ]
    return [line for line in lines if line]


def phone(payload: Mapping[str, Any]) -> str:
    """ "+65 97399245" from prefix, area code and number."""
    prefix, area, number = (_plain(payload, key) for key in ("prefix", "areacode", "nbr"))
    if not number:
        return NOTHING
    return f"{prefix or '+'}{area} {number}" if area else number


def mask(text: str) -> str:
    """Part of `text` hidden, never all of it (see the module's docstring): several words keep the
    first; one word keeps its last half, at most 4 characters."""
    text = text.strip()
    if not text or text == NOTHING:
        return text
    first, _, rest = text.partition(" ")
    if rest.strip():
        return f"{first} {MASK}"
    keep = min(SHOWN, math.ceil(len(text) / 2))
    return text if keep >= len(text) else MASK + text[-keep:]


def mask_scalar(value: Any, key: str | None, text: str) -> str:
    """The masked form of a leaf whose words are `text`: dates, years and yes/no as they are; an
    amount with its currency and part of its digits; anything else through `mask`."""
    if text == NOTHING or isinstance(value, bool) or text in (yes_no(True), yes_no(False)):
        return text
    if isinstance(value, str) and (ISO_DATE.fullmatch(value) or ISO_MONTH.fullmatch(value)):
        return text
    if key in YEAR_KEYS or (isinstance(value, str) and ISO_MOMENT.fullmatch(value)):
        return text
    if text.lstrip("-").startswith(CURRENCY):
        sign = "-" if text.startswith("-") else ""
        digits = text.lstrip("-")[len(CURRENCY) :]
        return f"{sign}{CURRENCY}{mask(digits).replace(MASK + ',', MASK)}"  # "S$••••000", not "••••,000"
    return mask(text)
