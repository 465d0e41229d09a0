"""What the citizen types for the items they did not share: read from the posted form, checked,
with a GOV.UK-style message for each field in error.

Each item has its own input names (`regadd-postal`, `dob-day`, ...); the template draws the same
names. A parser returns the answer and its errors as {input name: message}; the first input of a
group is the one the error summary links to.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _

from .items import MARITAL

Errors = dict[str, str]
UINFIN = re.compile(r"[STFGM]\d{7}[A-Z]")
POSTAL = re.compile(r"\d{6}")
YEAR = re.compile(r"\d{4}")
MAX_TEXT = 120


def parse(items: list[str], form: Mapping[str, str], *, today: dt.date) -> tuple[dict[str, Any], Errors]:
    """The typed answer for each of `items`, and every error found (empty when all are good)."""
    answers: dict[str, Any] = {}
    errors: Errors = {}
    for name in items:
        answer, found = PARSERS[name](form, today)
        answers[name] = answer
        errors.update(found)
    return answers, errors


def _text(form: Mapping[str, str], key: str) -> str:
    return " ".join(form.get(key, "").split())[:MAX_TEXT]


def _uinfin(form, today) -> tuple[Any, Errors]:
    value = _text(form, "uinfin").upper().replace(" ", "")
    if not value:
        return value, {"uinfin": _("Enter your NRIC or FIN")}
    if not UINFIN.fullmatch(value):
        return value, {"uinfin": _("Enter your NRIC or FIN in the right format, like S1234567D")}
    return value, {}


def _name(form, today) -> tuple[Any, Errors]:
    value = _text(form, "name")
    return value, {} if value else {"name": _("Enter your full name")}


def _dob(form, today) -> tuple[Any, Errors]:
    parts = [_text(form, f"dob-{part}") for part in ("day", "month", "year")]
    if not all(parts):
        return None, {"dob-day": _("Enter your date of birth, including the day, month and year")}
    try:
        day, month, year = (int(part) for part in parts)
        born = dt.date(year, month, day)
    except ValueError:
        return None, {"dob-day": _("Date of birth must be a real date")}
    if born >= today or year < 1900:
        return None, {"dob-day": _("Date of birth must be in the past")}
    return born.isoformat(), {}


def _regadd(form, today) -> tuple[Any, Errors]:
    parts = ("block", "street", "unit", "building", "postal")
    address = {part: _text(form, f"regadd-{part}") for part in parts}
    errors: Errors = {}
    if not address["block"]:
        errors["regadd-block"] = _("Enter the block or house number")
    if not address["street"]:
        errors["regadd-street"] = _("Enter the street name")
    if not POSTAL.fullmatch(address["postal"]):
        errors["regadd-postal"] = _("Enter a postal code of 6 digits, like 460102")
    return address, errors


def _marital(form, today) -> tuple[Any, Errors]:
    code = form.get("marital", "")
    return code, {} if code in MARITAL else {"marital": _("Select your marital status")}


def _income(form, today) -> tuple[Any, Errors]:
    amount, errors = _money(form, "noa-basic-amount", _("Enter your annual income in dollars, like 64400"))
    year = _text(form, "noa-basic-year")
    if not (YEAR.fullmatch(year) and 1950 <= int(year) <= today.year):
        errors["noa-basic-year"] = _("Enter the year of assessment, like %(year)s", year=today.year - 1)
    return {"amount": amount, "year": year}, errors


def _balances(form, today) -> tuple[Any, Errors]:
    balances: dict[str, str | None] = {}
    errors: Errors = {}
    messages = {  # a retirement account only comes at 55: not asked for
        "oa": _("Enter your ordinary account balance in dollars, like 1250.50"),
        "sa": _("Enter your special account balance in dollars, like 1250.50"),
        "ma": _("Enter your MediSave account balance in dollars, like 1250.50"),
    }
    for key, message in messages.items():
        balances[key], found = _money(form, f"cpfbalances-{key}", message)
        errors.update(found)
    return balances, errors


def _hdb(form, today) -> tuple[Any, Errors]:
    owns = form.get("hdbownership", "")
    if owns not in ("yes", "no"):
        return owns, {"hdbownership": _("Select yes if you own or have owned an HDB flat")}
    return owns, {}


def _money(form: Mapping[str, str], key: str, message: str) -> tuple[str | None, Errors]:
    raw = _text(form, key).replace(",", "").removeprefix("S$").removeprefix("$")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        return None, {key: message}
    if not amount.is_finite() or amount < 0 or amount.as_tuple().exponent < -2 or amount > 10**9:
        return None, {key: message}
    return f"{amount:.2f}", {}


PARSERS: dict[str, Callable[[Mapping[str, str], dt.date], tuple[Any, Errors]]] = {
    "uinfin": _uinfin,
    "name": _name,
    "dob": _dob,
    "regadd": _regadd,
    "marital": _marital,
    "noa-basic": _income,
    "cpfbalances": _balances,
    "hdbownership": _hdb,
}
