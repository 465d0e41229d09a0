"""Tax authority, central pension fund and manpower ministry records: income, contributions, work."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from . import tables as t
from .items import (
    add_years,
    code,
    coded_item,
    iso,
    money,
    random_day,
    sg_address,
    top,
    unavailable,
    val,
    value_item,
)
from .persona import CITIZEN, FOREIGNER, SINGLE, Persona

_WAGE_CEILING = 6800
# (oldest age, total contribution rate): rates fall with age.
_CPF_RATES = ((55, 0.37), (60, 0.295), (65, 0.205), (70, 0.155), (200, 0.125))
_FULL_RETIREMENT_SUM = 213_000
_CONTRIBUTION_MONTHS = 15


def _months(count: int) -> tuple[dt.date, ...]:
    """The first days of the `count` months before the reference month, oldest first."""
    year, month = t.REFERENCE_DATE.year, t.REFERENCE_DATE.month
    firsts = []
    for _ in range(count):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        firsts.append(dt.date(year, month, 1))
    return tuple(firsts[::-1])


_MONTHS = _months(_CONTRIBUTION_MONTHS)
_MONTH_LABELS = tuple(f"{m.year}-{m.month:02d}" for m in _MONTHS)  # formatted once, not per request


def tax_record(p: Persona, rng: random.Random) -> dict[str, Any]:
    year = t.REFERENCE_DATE.year  # year of assessment: income of the year before
    annual = p.monthly_income * rng.choice((12, 13, 13, 14, 15))
    rent = rng.randint(12, 48) * 1000 if p.wealth > 0.6 and rng.random() < 0.15 else 0
    trade = rng.randint(5, 60) * 1000 if not p.employed and rng.random() < 0.3 else 0
    noas = [_noa(rng, str(year - back), int(annual * (1 - 0.05 * back)), trade, rent) for back in range(3)]
    basic = [{"yearofassessment": n["yearofassessment"], "amount": n["amount"]} for n in noas]
    owner_private = (p.dwelling == "private" and p.home_owner) or (p.wealth > 0.5 and rng.random() < 0.06)
    return {
        "noa-basic": top(rng, basic[0]),
        "noa": top(rng, noas[0]),
        "noahistory-basic": top(rng, {"noas": basic[1:]}),
        "noahistory": top(rng, {"noas": noas[1:]}),
        "ownerprivate": value_item(rng, owner_private),
        "gstvoucher": top(rng, _gst_voucher(p, rng, annual, owner_private)),
    }


def _noa(rng: random.Random, year: str, employment: int, trade: int, rent: int) -> dict[str, Any]:
    interest = rng.choice((0, 0, 0, rng.randint(1, 900)))
    return {
        "amount": val(employment + trade + rent + interest),
        "yearofassessment": val(year),
        "employment": val(employment),
        "trade": val(trade),
        "rent": val(rent),
        "interest": val(interest),
        "taxclearance": val("N"),
        "category": val("ORIGINAL" if rng.random() < 0.95 else "AMENDED"),
    }


def _gst_voucher(p: Persona, rng: random.Random, annual: int, owner_private: bool) -> dict[str, Any]:
    if p.status != CITIZEN or owner_private or annual > 39_000 or p.age < 21:
        return {
            "gstregular": val(0),
            "gstmedisave": val(0),
            "gstspecial": val(0),
            "exclusion": val(""),
            "signup": val(""),
            "year": val(""),
        }
    return {
        "gstregular": val(850 if annual <= 34_000 else 450),
        "gstmedisave": val(rng.choice((150, 250, 350, 450)) if p.age >= 65 else 0),
        "gstspecial": val(rng.choice((0, 300))),
        "exclusion": val("N"),
        "signup": val("Y"),
        "year": val(str(t.REFERENCE_DATE.year - 1)),
    }


def pension_record(p: Persona, rng: random.Random) -> dict[str, Any]:
    contributions = _contributions(p, rng)
    return {
        "cpfcontributions": top(rng, {"history": contributions}),
        "cpfemployers": top(
            rng, {"history": [{"month": c["month"], "employer": c["employer"]} for c in contributions]}
        ),
        "cpfbalances": top(rng, _balances(p, rng)),
        "cpfhousingwithdrawal": top(rng, {"withdrawaldetails": _withdrawals(p, rng)}),
        "cpfhomeprotectionscheme": top(rng, _home_protection(p, rng)),
        "cpfdependantprotectionscheme": top(rng, _dependant_protection(p, rng)),
        "cpfinvestmentscheme": _investment(p, rng),
        "pioneergen": top(rng, _generation(p, (0, 1949), 800, "Pioneer")),
        "merdekagen": top(rng, _generation(p, (1950, 1959), 100, "Merdeka")),
        "silversupport": top(rng, _silver_support(p, rng)),
    }


def _contributions(p: Persona, rng: random.Random) -> list[dict[str, Any]]:
    """Monthly contributions, oldest first; the last entry is the current employer's."""
    if not p.employed:
        return []
    rate = next(r for oldest, r in _CPF_RATES if p.age <= oldest)
    base = round(min(p.monthly_income, _WAGE_CEILING) * rate)
    pay_day = rng.randint(5, 28)
    since = (p.employer_since or _MONTHS[0]).replace(day=1)
    entries = []
    for first, label in zip(_MONTHS, _MONTH_LABELS, strict=True):
        employer = p.employer if first >= since else p.previous_employer
        if not employer:
            continue
        bonus = base if first.month == 12 else 0  # the year-end bonus attracts contributions too
        entries.append(
            {
                "date": val(f"{label}-{pay_day:02d}"),
                "employer": val(employer),
                "amount": val(base + bonus),
                "month": val(label),
            }
        )
    return entries


def _balances(p: Persona, rng: random.Random) -> dict[str, Any]:
    years = max(1, min(p.age, 62) - 22)
    monthly = min(p.monthly_income or 3500, _WAGE_CEILING) * 0.37
    total = monthly * 12 * years * (1.2 + 0.6 * rng.random())
    oa, sa, ma = total * 0.45, total * 0.2, min(total * 0.25, 75_500)
    if p.home_owner:
        oa *= 0.3  # most of it went into the home
    if p.age < 55:
        return {"oa": val(money(oa)), "ma": val(money(ma)), "sa": val(money(sa))}
    ra = min(sa + oa * 0.5, _FULL_RETIREMENT_SUM)
    return {"oa": val(money(oa * 0.5)), "ma": val(money(ma)), "ra": val(money(ra))}


def _withdrawals(p: Persona, rng: random.Random) -> list[dict[str, Any]]:
    if not p.home_owner:
        return []
    a = p.address
    principal = rng.randint(40, 400) * 1000
    return [
        {
            "address": sg_address(a.block, a.building, a.floor, a.unit, a.street, a.postal),
            "accruedinterestamt": val(money(principal * rng.uniform(0.02, 0.3))),
            "monthlyinstalmentamt": val(money(rng.uniform(400, 2500))),
            "principalwithdrawalamt": val(principal),
            "totalamountofcpfallowedforproperty": val(principal + rng.randint(10, 200) * 1000),
        }
    ]


def _home_protection(p: Persona, rng: random.Random) -> dict[str, Any]:
    if p.dwelling != "hdb" or not p.home_owner or p.age >= 65:
        return {"coverage": val(False)}
    share = 100 if p.marital == SINGLE else 50
    return {"coverage": val(True), "premium": val(money(rng.uniform(60, 400))), "shareofcover": val(share)}


def _dependant_protection(p: Persona, rng: random.Random) -> dict[str, Any]:
    if p.age >= 60 or rng.random() < 0.2:
        return {"coverage": val(False)}
    return {
        "coverage": val(True),
        "insurercode": val(rng.choice(t.INSURERS)),
        "sumassuredamount": val(70_000),
    }


def _investment(p: Persona, rng: random.Random) -> dict[str, Any]:
    if p.wealth < 0.5 or rng.random() >= 0.4:
        return unavailable(rng)  # no investment account: the fund has nothing to say
    account = f"{rng.randint(100, 999)}-{rng.randint(10_000, 99_999)}-{rng.randint(0, 9)}"
    return top(
        rng,
        {
            "sdsnetshareholdingqty": val(rng.randint(0, 5000)),
            "account": {"agentbankcode": val(rng.choice(t.BANKS)), "invbankacctno": val(account)},
            "saqparticipationstatus": val(rng.random() < 0.7),
        },
    )


def _generation(p: Persona, born: tuple[int, int], quantum: int, package: str) -> dict[str, Any]:
    """Pioneer (born by 1949) and Merdeka (1950-1959) generation packages, for citizens only."""
    if p.status != CITIZEN or not born[0] <= p.dob.year <= born[1]:
        return {"eligibility": val(""), "quantum": val(""), "message": code("", "")}
    message = f"You are eligible for the {package} Generation Package."
    return {"eligibility": val("Y"), "quantum": val(quantum), "message": code("1", message)}


def _silver_support(p: Persona, rng: random.Random) -> dict[str, Any]:
    if p.age < 65 or p.wealth >= 0.3 or p.status != CITIZEN:
        return {"eligibility": val(""), "amount": val(""), "year": val("")}
    amount = rng.choice((300, 540, 600, 900, 1080))
    return {"eligibility": val("Y"), "amount": val(amount), "year": val(str(t.REFERENCE_DATE.year - 1))}


_PASSES = (("P1Pass", "Employment Pass", 5600), ("SPass", "S Pass", 3150), ("RPass", "Work Permit", 0))
_SECTORS = ("SERVICES", "MANUFACTURING", "CONSTRUCTION", "MARINE SHIPYARD", "PROCESS")


def employment_record(p: Persona, rng: random.Random) -> dict[str, Any]:
    items = {
        "occupation": coded_item(rng, *p.occupation),
        "employment": value_item(rng, p.employer),
    }
    if p.status != FOREIGNER:
        # Passes do not apply to citizens and PRs: empty values marked not applicable.
        items["employmentsector"] = value_item(rng, "", applicable=False)
        items["passtype"] = coded_item(rng, "", "", applicable=False)
        items["passstatus"] = value_item(rng, "", applicable=False)
        items["passexpirydate"] = value_item(rng, "", applicable=False)
        return items
    pass_code, pass_desc, _ = next(x for x in _PASSES if p.monthly_income >= x[2])
    expiry = random_day(rng, t.REFERENCE_DATE + dt.timedelta(days=30), add_years(t.REFERENCE_DATE, 3))
    items["employmentsector"] = value_item(rng, rng.choice(_SECTORS))
    items["passtype"] = coded_item(rng, pass_code, pass_desc)
    items["passstatus"] = value_item(rng, "Live")
    items["passexpirydate"] = value_item(rng, iso(expiry))
    return items
