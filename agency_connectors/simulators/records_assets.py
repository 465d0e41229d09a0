"""Housing board and land transport authority records: flats, vehicles, driving licences."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from . import tables as t
from .items import add_years, code, coded_item, iso, money, random_day, sg_address, top, val
from .persona import SINGLE, Persona

_LOAN_RATE = 0.026 / 12  # HDB concessionary rate, monthly
_HDB_DESC = {h[0]: h[1] for h in t.HDB_TYPES}
_PLATE_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # I and O are never issued
_PLATE_CHECK = "AZYXUTSRPMLKJHGEDCB"
_PLATE_WEIGHTS = (9, 4, 5, 4, 3, 2)


def housing_record(p: Persona, rng: random.Random) -> dict[str, Any]:
    """Only HDB flats and executive condominiums: private property is not the board's business."""
    ec = p.dwelling == "ec"
    return {
        "housingtype": coded_item(rng, *(("132", "EXECUTIVE CONDOMINIUM") if ec else ("", ""))),
        "hdbtype": coded_item(rng, p.hdb_type, _HDB_DESC.get(p.hdb_type, "")),
        "hdbownership": _ownership(p, rng),
    }


def _ownership(p: Persona, rng: random.Random) -> list[dict[str, Any]]:
    """Flats owned, current one first; a past flat (sold, transfer date set) for some owners."""
    flats = []
    if p.home_owner and p.dwelling == "hdb":
        a = p.address
        bought = _purchase_date(p, rng)
        home = sg_address(a.block, a.building, a.floor, a.unit, a.street, a.postal)
        flats.append(_flat(p, rng, home, p.hdb_type, bought, sold=None))
    if p.home_owner and p.age >= 45 and rng.random() < 0.25:
        street, prefix = rng.choice(t.HDB_STREETS)
        block = rng.randint(1, 999)
        floor, unit = f"{rng.randint(2, 25):02d}", f"{rng.randint(1, 400):03d}"
        old = sg_address(str(block), "", floor, unit, street, f"{prefix}{block:04d}")
        bought = random_day(rng, add_years(p.dob, 25), add_years(p.dob, 35))
        sold = random_day(rng, add_years(bought, 5), min(add_years(bought, 15), t.REFERENCE_DATE))
        flats.append(_flat(p, rng, old, rng.choice(("113", "114")), bought, sold=sold))
    return flats


def _purchase_date(p: Persona, rng: random.Random) -> dt.date:
    start = p.marriage_date or add_years(p.dob, 35 if p.marital == SINGLE else 25)
    start = min(start, t.REFERENCE_DATE - dt.timedelta(days=365))
    return random_day(rng, start, min(add_years(start, 8), t.REFERENCE_DATE))


def _flat(
    p: Persona, rng: random.Random, address: dict, flat_type: str, bought: dt.date, sold: dt.date | None
) -> dict[str, Any]:
    price = t.HDB_PRICES[flat_type] * rng.uniform(0.8, 1.2)
    loan = 0 if rng.random() < 0.1 else int(price * 0.8 // 1000 * 1000)
    years = 25
    paid_until = sold or t.REFERENCE_DATE
    months_paid = (paid_until.year - bought.year) * 12 + paid_until.month - bought.month
    instalment, outstanding, left = loan_state(loan, years, months_paid)
    if sold:
        instalment, outstanding, left = 0.0, 0.0, 0
    lease_start = random_day(rng, add_years(bought, -20), bought) if rng.random() < 0.6 else bought
    return {
        "address": address,
        "hdbtype": code(flat_type, _HDB_DESC[flat_type]),
        "noofowners": val(1 if p.marital == SINGLE else 2),
        "dateofpurchase": val(iso(bought)),
        "leasecommencementdate": val(iso(lease_start)),
        "termoflease": val(99),
        "loangranted": val(loan),
        "originalloanrepayment": val(years if loan else 0),
        "outstandingloanbalance": val(money(outstanding)),
        "monthlyloaninstalment": val(money(instalment)),
        "balanceloanrepayment": {"years": val(left // 12), "months": val(left % 12)},
        "dateofownershiptransfer": val(iso(sold)),
    }


def loan_state(principal: int, years: int, months_paid: int) -> tuple[float, float, int]:
    """(monthly instalment, outstanding balance, months left) of an annuity loan at the HDB rate."""
    if not principal:
        return 0.0, 0.0, 0
    term = years * 12
    instalment = principal * _LOAN_RATE / (1 - (1 + _LOAN_RATE) ** -term)
    paid = max(0, min(months_paid, term))
    growth = (1 + _LOAN_RATE) ** paid
    outstanding = max(0.0, principal * growth - instalment * (growth - 1) / _LOAN_RATE)
    return instalment, outstanding, term - paid


def transport_record(p: Persona, rng: random.Random) -> dict[str, Any]:
    count = rng.choices((0, 1, 2), (55 - 40 * p.wealth, 40 + 30 * p.wealth, 5 + 10 * p.wealth))[0]
    return {
        "vehicles": [_vehicle(rng) for _ in range(count)],
        "drivinglicence": top(rng, _licence(p, rng)),
    }


def plate_number(prefix: str, number: int) -> str:
    """A vehicle number with its check letter ("SDF1235" + letter), by the registry's checksum."""
    letters = prefix[-2:].rjust(2, "@")  # "@" counts as zero for a one-letter prefix
    values = [max(0, ord(c) - 64) for c in letters] + [int(d) for d in f"{number:04d}"]
    total = sum(v * w for v, w in zip(values, _PLATE_WEIGHTS, strict=True))
    return f"{prefix}{number}{_PLATE_CHECK[total % 19]}"


def _vehicle(rng: random.Random) -> dict[str, Any]:
    """One car: its registration (number, dates, COE) and then its technical particulars."""
    make, model, cc, propellant = rng.choice(t.VEHICLE_MODELS)
    registered = random_day(rng, dt.date(2012, 1, 1), t.REFERENCE_DATE - dt.timedelta(days=30))
    coe_expiry = add_years(registered, 10)
    if coe_expiry < t.REFERENCE_DATE:
        coe_expiry = add_years(coe_expiry, rng.choice((5, 10)))  # renewed
    plate = plate_number("S" + "".join(rng.choice(_PLATE_LETTERS) for _ in range(2)), rng.randint(1, 9999))
    category = "A - CAR UP TO 1600CC & 97KW (130BHP)" if cc <= 1600 else "B - CAR ABOVE 1600CC OR 97KW"
    return {
        "vehicleno": val(plate),
        "type": val(rng.choice(("Saloon Car", "Hatchback", "Sports Utility Vehicle", "Station Wagon"))),
        "iulabelno": val(f"{rng.randint(0, 9_999_999_999):010d}"),
        "make": val(make),
        "model": val(model),
        "yearofmanufacture": val(str(registered.year - rng.choice((0, 0, 1)))),
        "firstregistrationdate": val(iso(registered)),
        "originalregistrationdate": val(iso(registered)),
        "effectiveownership": val(f"{iso(registered)}T{rng.randint(8, 17):02d}:{rng.randint(0, 59):02d}:00"),
        "coecategory": val(category),
        "coeexpirydate": val(iso(coe_expiry)),
        "roadtaxexpirydate": val(iso(random_day(rng, t.REFERENCE_DATE, add_years(t.REFERENCE_DATE, 1)))),
        "quotapremium": val(rng.randint(30, 120) * 1000),
        "nooftransfers": val(rng.choice((0, 0, 0, 1, 2))),
        "scheme": val(""),
        "status": code("1", "REGISTERED"),
        "vpc": val(""),
        **_particulars(rng, cc, propellant),
    }


def _particulars(rng: random.Random, cc: int, propellant: str) -> dict[str, Any]:
    alnum = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    electric = propellant == "Electric"
    return {
        "chassisno": val("".join(rng.choice(alnum) for _ in range(17))),
        "engineno": val("" if electric else "".join(rng.choice(alnum) for _ in range(11))),
        "motorno": val("".join(rng.choice(alnum) for _ in range(11)) if electric else ""),
        "openmarketvalue": val(money(rng.uniform(15_000, 90_000))),
        "co2emission": val(0 if electric else rng.randint(90, 220)),
        "enginecapacity": val(cc),
        "powerrate": val(round(rng.uniform(1.0, 2.5), 1)),
        "propellant": val(propellant),
        "primarycolour": val(rng.choice(t.COLOURS)),
        "secondarycolour": val(""),
        "minimumparfbenefit": val(rng.randint(2, 40) * 500),
        "maximumunladenweight": val(rng.randint(12, 20) * 100),
        "maximumladenweight": val(rng.randint(16, 25) * 100),
    }


def _licence(p: Persona, rng: random.Random) -> dict[str, Any]:
    empty_period = {"startdate": val(""), "enddate": val("")}
    issued = random_day(rng, add_years(p.dob, 18), min(add_years(p.dob, 40), t.REFERENCE_DATE))
    classes = [{"class": val("3"), "issuedate": val(iso(issued))}]
    if rng.random() < 0.2:
        classes.append({"class": val(rng.choice(t.LICENCE_CLASSES[2:])), "issuedate": val(iso(issued))})
    points = rng.choices((0, 3, 6, 12), (80, 10, 7, 3))[0]
    return {
        "comstatus": code("N", "Not Eligible"),
        "totaldemeritpoints": val(points),
        "suspension": dict(empty_period),
        "disqualification": dict(empty_period),
        "revocation": dict(empty_period),
        "pdl": {"validity": code("", ""), "expirydate": val(""), "classes": []},
        "qdl": {"validity": code("V", "VALID"), "expirydate": val(""), "classes": classes},
        "photocardserialno": val(f"{rng.randint(100_000, 999_999)}"),
    }
