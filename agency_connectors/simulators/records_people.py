"""Identity registry, family registry and education ministry records."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from core.uinfin import partial_uinfin

from . import tables as t
from .items import (
    add_years,
    code,
    coded_item,
    iso,
    random_day,
    random_nric,
    sg_address,
    top,
    unavailable,
    val,
    value_item,
)
from .persona import CITIZEN, FOREIGNER, MARITAL_DESC, SINGLE, Persona

SEX_DESC = {"M": "MALE", "F": "FEMALE"}
RACE_DESC = {r[0]: r[1] for r in t.RACES}
STATUS_DESC = {CITIZEN: "CITIZEN", "P": "PR", FOREIGNER: "ALIEN"}
_NATIONALITY = {c[0]: c[1] for c in t.FOREIGN_COUNTRIES} | {"SG": "SINGAPORE CITIZEN"}
_COUNTRY = {c[0]: c[2] for c in t.FOREIGN_COUNTRIES} | {"SG": "SINGAPORE"}
_PINYIN_SURNAME = {s[0]: s[1] for s in t.CHINESE_SURNAMES}
_O_LEVEL = "SINGAPORE-CAMBRIDGE GENERAL CERTIFICATE OF EDUCATION ORDINARY LEVEL"


def identity_record(p: Persona, rng: random.Random) -> dict[str, Any]:
    secondary = ("CN", "CHINESE") if p.race == "EU" and rng.random() < 0.3 else ("", "")
    items = {
        "uinfin": value_item(rng, p.uinfin),
        "partialuinfin": value_item(rng, partial_uinfin(p.uinfin)),
        "name": value_item(rng, p.name),
        "hanyupinyinname": value_item(rng, p.hanyupinyin_name),
        "aliasname": value_item(rng, p.alias_name),
        "hanyupinyinaliasname": value_item(rng, p.hanyupinyin_alias),
        "marriedname": value_item(rng, ""),
        "sex": coded_item(rng, p.sex, SEX_DESC[p.sex]),
        "race": coded_item(rng, p.race, RACE_DESC[p.race]),
        "secondaryrace": coded_item(rng, *secondary),
        "dialect": coded_item(rng, p.dialect, t.DIALECTS.get(p.dialect, "")),
        "nationality": coded_item(rng, p.nationality, _NATIONALITY[p.nationality]),
        "dob": value_item(rng, iso(p.dob)),
        "birthcountry": coded_item(rng, p.birth_country, _COUNTRY[p.birth_country]),
        "residentialstatus": coded_item(rng, p.status, STATUS_DESC[p.status]),
        "regadd": top(rng, sg_address(*_address_fields(p))),
    }
    items.update(_passport(p, rng))
    return items


def _address_fields(p: Persona) -> tuple[str, ...]:
    a = p.address
    return a.block, a.building, a.floor, a.unit, a.street, a.postal


def _passport(p: Persona, rng: random.Random) -> dict[str, Any]:
    # About one citizen in eight holds no passport; a pass holder always has one.
    if p.status == CITIZEN and rng.random() < 0.12:
        return {"passportnumber": unavailable(rng), "passportexpirydate": unavailable(rng)}
    prefix = "K" if p.status == CITIZEN else "A"
    number = f"{prefix}{rng.randint(1_000_000, 9_999_999)}{rng.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}"
    expiry = random_day(rng, t.REFERENCE_DATE, add_years(t.REFERENCE_DATE, 10))
    return {"passportnumber": value_item(rng, number), "passportexpirydate": value_item(rng, iso(expiry))}


def family_record(p: Persona, rng: random.Random) -> dict[str, Any]:
    wed = p.marriage_date
    abroad = wed is not None and p.status != CITIZEN and rng.random() < 0.4
    country = (p.nationality, _COUNTRY[p.nationality]) if abroad else ("SG", "SINGAPORE")
    return {
        "marital": coded_item(rng, p.marital, MARITAL_DESC[p.marital]),
        "marriagecertno": value_item(rng, f"{rng.randint(100_000, 999_999)}" if wed else ""),
        "countryofmarriage": coded_item(rng, *(country if wed else ("", ""))),
        "marriagedate": value_item(rng, iso(wed)),
        "divorcedate": value_item(rng, iso(p.divorce_date)),
        "childrenbirthrecords": _children(p, rng),
        "sponsoredchildrenrecords": _sponsored(p, rng),
    }


def _children(p: Persona, rng: random.Random) -> list[dict[str, Any]]:
    if p.marital == SINGLE or p.marriage_date is None:
        return []
    count = rng.choices((0, 1, 2, 3, 4), (15, 20, 40, 18, 7))[0]
    last = min(t.REFERENCE_DATE, add_years(p.marriage_date, 15), add_years(p.dob, 45 if p.sex == "F" else 55))
    first = add_years(p.marriage_date, 1)
    if last <= first:
        return []
    births = sorted(random_day(rng, first, last) for _ in range(count))
    return [_child(p, rng, born) for born in births]


def _child(p: Persona, rng: random.Random, born: dt.date) -> dict[str, Any]:
    sex = rng.choice("MF")
    name, pinyin, dialect = _child_name(p, rng, sex)
    return {
        "birthcertno": val(random_nric(rng, born)),
        "name": val(name),
        "hanyupinyinname": val(pinyin),
        "aliasname": val(""),
        "hanyupinyinaliasname": val(""),
        "marriedname": val(""),
        "sex": code(sex, SEX_DESC[sex]),
        "race": code(p.race, RACE_DESC[p.race]),
        "secondaryrace": code("", ""),
        "dialect": code(dialect, t.DIALECTS.get(dialect, "")),
        "lifestatus": code("A", "ALIVE"),
        "dob": val(iso(born)),
        "tob": val(f"{rng.randint(0, 23):02d}{rng.randint(0, 59):02d}"),
    }


def _child_name(p: Persona, rng: random.Random, sex: str) -> tuple[str, str, str]:
    """(name, Hanyu Pinyin name, dialect code). Children take the father's surname or name."""
    male = sex == "M"
    if p.race == "CN":
        if p.sex == "M":
            surname, py_surname, dialect = p.family_name, _PINYIN_SURNAME[p.family_name], p.dialect
        else:
            surname, py_surname, dialect = rng.choice(t.CHINESE_SURNAMES)
        given, py_given = rng.choice(t.CHINESE_GIVEN_MALE if male else t.CHINESE_GIVEN_FEMALE)
        return f"{surname} {given}", f"{py_surname} {py_given}", dialect
    if p.race == "EU":
        given = rng.choice(t.EURASIAN_MALE if male else t.EURASIAN_FEMALE)
        surname = p.family_name if p.sex == "M" else rng.choice(t.EURASIAN_SURNAMES)
        return f"{given} {surname}", "", ""
    malay = p.race == "MY"
    pool = (
        (t.MALAY_MALE if male else t.MALAY_FEMALE) if malay else (t.INDIAN_MALE if male else t.INDIAN_FEMALE)
    )
    father = p.given_name if p.sex == "M" else rng.choice(t.MALAY_MALE if malay else t.INDIAN_MALE)
    link = ("BIN" if male else "BINTE") if malay else ("S/O" if male else "D/O")
    return f"{rng.choice(pool)} {link} {father}", "", ""


def _sponsored(p: Persona, rng: random.Random) -> list[dict[str, Any]]:
    # A few married residents sponsor a child (e.g. a stepchild) for permanent residence.
    if p.marital == SINGLE or p.status == FOREIGNER or rng.random() >= 0.03:
        return []
    born = random_day(rng, add_years(t.REFERENCE_DATE, -12), add_years(t.REFERENCE_DATE, -1))
    sex = rng.choice("MF")
    name, pinyin, dialect = _child_name(p, rng, sex)
    country = rng.choice(t.FOREIGN_COUNTRIES)
    return [
        {
            "nric": val(random_nric(rng, born)),
            "name": val(name),
            "hanyupinyinname": val(pinyin),
            "aliasname": val(""),
            "hanyupinyinaliasname": val(""),
            "marriedname": val(""),
            "sex": code(sex, SEX_DESC[sex]),
            "race": code(p.race, RACE_DESC[p.race]),
            "secondaryrace": code("", ""),
            "dialect": code(dialect, t.DIALECTS.get(dialect, "")),
            "dob": val(iso(born)),
            "birthcountry": code(country[0], country[2]),
            "lifestatus": code("A", "ALIVE"),
            "residentialstatus": code("P", "PR"),
            "nationality": code(country[0], country[1]),
            "scprgrantdate": val(iso(random_day(rng, born, t.REFERENCE_DATE))),
        }
    ]


def education_record(p: Persona, rng: random.Random) -> dict[str, Any]:
    level, desc, done_age = t.EDU_LEVELS[p.edu_index]
    grad_year = min(p.dob.year + done_age + rng.randint(0, 2), t.REFERENCE_DATE.year)
    school_key = max(k for k in t.SCHOOLS if k <= level)
    school = rng.choice(t.SCHOOLS[school_key])
    # Records of schooling before 1980 were never digitised.
    old = grad_year < 1980
    return {
        "edulevel": coded_item(rng, level, desc),
        "gradyear": value_item(rng, str(grad_year)),
        "schoolname": unavailable(rng) if old else coded_item(rng, *school),
        "academicqualifications": _qualifications(p, rng),
    }


def _qualifications(p: Persona, rng: random.Random) -> list[dict[str, Any]]:
    year = p.dob.year + 16
    if p.edu_index < 2 or year < 1990:  # no O levels, or sat them before digital transcripts
        return []
    subjects = t.SUBJECTS[: rng.randint(3, len(t.SUBJECTS))]
    results = [
        {"subject": val(s), "level": val("ORDINARY"), "grade": val(rng.choice(t.GRADES))} for s in subjects
    ]
    return [{"name": val(_O_LEVEL), "yearattained": val(str(year)), "results": results}]
