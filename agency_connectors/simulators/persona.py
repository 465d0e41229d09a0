"""The shared persona: the facts every simulated agency agrees on about one person.

Derived from the seed and the national id alone, so identity, tax, pension, employment, housing and
family all tell the same story (name, sex, birth date, race, address, employer, income) without any
agency calling another. Each agency then adds its own detail from its own generator.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from functools import lru_cache

from . import tables as t
from .items import add_years, random_day, seeded_rng

CITIZEN, PR, FOREIGNER = "C", "P", "A"
SINGLE, MARRIED, WIDOWED, DIVORCED = "1", "2", "3", "5"
MARITAL_DESC = {SINGLE: "SINGLE", MARRIED: "MARRIED", WIDOWED: "WIDOWED", DIVORCED: "DIVORCED"}

# (youngest, oldest, share in percent): the adult population is not uniform in age.
_AGE_BANDS = ((18, 24, 10), (25, 34, 18), (35, 44, 19), (45, 54, 19), (55, 64, 17), (65, 74, 11), (75, 90, 6))
# Share in work by band; tuned so roughly 15% of adults have no employment record.
_EMPLOYED = ((24, 0.70), (54, 0.97), (64, 0.90), (74, 0.60), (90, 0.20))
# (oldest age of band, weights of single, married, widowed, divorced)
_MARITAL = (
    (24, (95, 5, 0, 0)),
    (29, (60, 38, 0, 2)),
    (39, (25, 68, 1, 6)),
    (59, (15, 72, 4, 9)),
    (90, (8, 65, 20, 7)),
)

# (oldest age of cohort, weights of each EDU_LEVELS entry)
_EDUCATION = (
    (40, (2, 5, 15, 10, 22, 6, 33, 7)),
    (60, (10, 12, 25, 9, 15, 6, 19, 4)),
    (90, (30, 20, 25, 6, 7, 3, 8, 1)),
)


@dataclass(frozen=True, slots=True)
class Address:
    block: str
    building: str
    floor: str
    unit: str
    street: str
    postal: str


@dataclass(frozen=True, slots=True)
class Persona:
    """Cross-agency facts. Dates are real dates; codes are MyInfo codes."""

    uinfin: str
    status: str  # CITIZEN, PR or FOREIGNER
    sex: str  # "M" or "F"
    race: str
    dialect: str  # "" for non-Chinese
    name: str
    hanyupinyin_name: str  # "" for non-Chinese
    alias_name: str
    hanyupinyin_alias: str
    family_name: str  # surname, or father's name for patronymic names; children inherit it
    given_name: str
    dob: dt.date
    birth_country: str
    nationality: str  # "SG" for citizens
    marital: str
    marriage_date: dt.date | None
    divorce_date: dt.date | None
    address: Address
    dwelling: str  # "hdb", "ec" or "private"
    hdb_type: str  # HDB flat type code, "" outside HDB
    home_owner: bool
    wealth: float  # latent 0..1: drives income, housing and car ownership together
    employer: str  # "" when not working
    occupation: tuple[str, str]  # (code, desc), ("", "") when not working
    monthly_income: int
    previous_employer: str  # employer before a change within the last 15 months, else ""
    employer_since: dt.date | None
    edu_index: int  # into tables.EDU_LEVELS
    drives: bool
    has_tax_record: bool
    has_cpf: bool
    has_edu_record: bool

    @property
    def age(self) -> int:
        return age_on(self.dob, t.REFERENCE_DATE)

    @property
    def employed(self) -> bool:
        return bool(self.employer)


@lru_cache(maxsize=16_384)
def persona_for(uinfin: str, seed: str = "consentry") -> Persona:
    """The persona of a (valid) id under `seed`. Pure: same arguments, same persona, everywhere."""
    rng = seeded_rng(seed, "persona", uinfin)
    status = FOREIGNER if uinfin[0] in "FGM" else (PR if rng.random() < 0.10 else CITIZEN)
    sex = rng.choice("MF")
    race = rng.choices([r[0] for r in t.RACES], [r[2] for r in t.RACES])[0]
    dob = _birth_date(rng, status)
    age = age_on(dob, t.REFERENCE_DATE)
    names = _names(rng, race, sex)
    home = rng.choice(t.RACE_HOME_COUNTRY[race])
    wealth = rng.random()
    marital, married, divorced = _marital(rng, age, dob)
    dwelling, hdb_type, owner, address = _home(rng, status, age, wealth, marital)
    edu_index = _education(rng, age, wealth)
    work = _work(rng, status, age, wealth, edu_index)
    return Persona(
        uinfin=uinfin,
        status=status,
        sex=sex,
        race=race,
        **names,
        dob=dob,
        birth_country="SG" if status == CITIZEN and rng.random() < 0.9 else home,
        nationality="SG" if status == CITIZEN else home,
        marital=marital,
        marriage_date=married,
        divorce_date=divorced,
        address=address,
        dwelling=dwelling,
        hdb_type=hdb_type,
        home_owner=owner,
        wealth=wealth,
        **work,
        edu_index=edu_index,
        **_records_held(rng, status, age, wealth, bool(work["employer"])),
    )


def _records_held(rng: random.Random, status: str, age: int, wealth: float, employed: bool) -> dict:
    """Which optional agencies know the person. Tuned so that, over the demo population, about 10%
    have no tax record, 5% no pension account, 40% no driving record and 5% no education record."""
    return {
        "drives": rng.random() < 0.45 + 0.35 * wealth - (0.3 if age > 75 else 0.0),
        "has_tax_record": employed or rng.random() >= 0.6,
        "has_cpf": status != FOREIGNER and (employed or rng.random() >= 0.3),
        "has_edu_record": rng.random() >= (0.6 if status == FOREIGNER else 0.05),
    }


def age_on(dob: dt.date, day: dt.date) -> int:
    """Completed years of age on `day`."""
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


def _birth_date(rng: random.Random, status: str) -> dt.date:
    if status == FOREIGNER:
        low, high = 21, 60  # pass holders are of working age
    else:
        low, high, _ = rng.choices(_AGE_BANDS, [b[2] for b in _AGE_BANDS])[0]
    age = rng.randint(low, high)
    latest = add_years(t.REFERENCE_DATE, -age)
    return random_day(rng, add_years(latest, -1) + dt.timedelta(days=1), latest)


def _names(rng: random.Random, race: str, sex: str) -> dict[str, str]:
    male = sex == "M"
    if race == "CN":
        surname, py_surname, dialect = rng.choice(t.CHINESE_SURNAMES)
        given, py_given = rng.choice(t.CHINESE_GIVEN_MALE if male else t.CHINESE_GIVEN_FEMALE)
        english = rng.choice(t.ENGLISH_MALE if male else t.ENGLISH_FEMALE) if rng.random() < 0.35 else ""
        return {
            "dialect": dialect,
            "name": f"{surname} {given}",
            "hanyupinyin_name": f"{py_surname} {py_given}",
            "alias_name": f"{english} {surname} {given}" if english else "",
            "hanyupinyin_alias": f"{english} {py_surname} {py_given}" if english else "",
            "family_name": surname,
            "given_name": given,
        }
    if race == "EU":
        surname = rng.choice(t.EURASIAN_SURNAMES)
        given = rng.choice(t.EURASIAN_MALE if male else t.EURASIAN_FEMALE)
        name = f"{given} {surname}"
    else:
        malay = race == "MY"
        given = rng.choice(
            (t.MALAY_MALE if male else t.MALAY_FEMALE)
            if malay
            else (t.INDIAN_MALE if male else t.INDIAN_FEMALE)
        )
        surname = rng.choice(t.MALAY_MALE if malay else t.INDIAN_MALE)  # the father's name
        link = ("BIN" if male else "BINTE") if malay else ("S/O" if male else "D/O")
        name = f"{given} {link} {surname}"
    return {
        "dialect": "",
        "name": name,
        "hanyupinyin_name": "",
        "alias_name": "",
        "hanyupinyin_alias": "",
        "family_name": surname,
        "given_name": given,
    }


def _marital(rng: random.Random, age: int, dob: dt.date) -> tuple[str, dt.date | None, dt.date | None]:
    weights = next(w for oldest, w in _MARITAL if age <= oldest)
    status = rng.choices((SINGLE, MARRIED, WIDOWED, DIVORCED), weights)[0]
    if status == SINGLE:
        return status, None, None
    youngest = max(18, min(21, age - 1))
    wed_age = rng.randint(youngest, max(youngest, min(age - 1, 38)))
    married = min(random_day(rng, add_years(dob, wed_age), add_years(dob, wed_age + 1)), t.REFERENCE_DATE)
    if status != DIVORCED:
        return status, married, None
    return status, married, random_day(rng, add_years(married, 1), t.REFERENCE_DATE)


def _home(rng: random.Random, status: str, age: int, wealth: float, marital: str) -> tuple:
    """(dwelling, hdb flat type, owns it, address). The richest quarter live in private property,
    which the housing board does not hold records of."""
    floor, unit = f"{rng.randint(2, 30):02d}", f"{rng.randint(1, 400):03d}"
    settled = age >= 30 or (marital != SINGLE and age >= 25)
    if wealth > (0.4 if status == FOREIGNER else 0.75):
        building, street, prefix = rng.choice(t.PRIVATE_ADDRESSES)
        number, postal = str(rng.randint(1, 150)), f"{prefix}{rng.randint(0, 9999):04d}"
        if not building:  # landed: a house number, no floor or unit
            return "private", "", settled and status != FOREIGNER, Address(number, "", "", "", street, postal)
        owner = settled and status != FOREIGNER and rng.random() < 0.8
        return "private", "", owner, Address(number, building, floor, unit, street, postal)
    if wealth > 0.70 and status != FOREIGNER:
        building, street, prefix = rng.choice(t.EC_BUILDINGS)
        number = str(rng.randint(1, 40))
        return (
            "ec",
            "",
            settled,
            Address(number, building, floor, unit, street, f"{prefix}{rng.randint(0, 9999):04d}"),
        )
    street, prefix = rng.choice(t.HDB_STREETS)
    block = rng.randint(1, 999)
    flat = rng.choices([h[0] for h in t.HDB_TYPES], [h[2] for h in t.HDB_TYPES])[0]
    owner = status != FOREIGNER and settled and rng.random() < 0.85
    return "hdb", flat, owner, Address(str(block), "", floor, unit, street, f"{prefix}{block:04d}")


def _education(rng: random.Random, age: int, wealth: float) -> int:
    """Index into EDU_LEVELS: drawn by birth cohort (the young are far better schooled), nudged up for
    the wealthy, and never a level the person is too young to have completed."""
    weights = next(w for oldest, w in _EDUCATION if age <= oldest)
    index = rng.choices(range(len(t.EDU_LEVELS)), weights)[0]
    if wealth > 0.85 and index < 6:
        index += 1
    while t.EDU_LEVELS[index][2] > age:
        index -= 1
    return index


def _work(rng: random.Random, status: str, age: int, wealth: float, edu_index: int) -> dict:
    rate = next(share for oldest, share in _EMPLOYED if age <= oldest)
    if status != FOREIGNER and rng.random() >= rate:
        return {
            "employer": "",
            "occupation": ("", ""),
            "monthly_income": 0,
            "previous_employer": "",
            "employer_since": None,
        }
    degree = t.EDU_LEVELS[edu_index][0] in ("7", "9")
    jobs = [o for o in t.OCCUPATIONS if degree or not o[4]]
    code, desc, low, high, _ = rng.choice(jobs)
    pay = low + (high - low) * (0.5 * wealth + 0.5 * rng.random())
    # Joined at most 20 years ago and no earlier than 17, always more than a year ago unless the
    # person changed jobs recently: then the last 15 months of contributions show both employers.
    earliest = max(add_years(t.REFERENCE_DATE, -max(1, age - 17)), add_years(t.REFERENCE_DATE, -20))
    changed = rng.random() < 0.12
    since = (
        random_day(rng, add_years(t.REFERENCE_DATE, -1), t.REFERENCE_DATE - dt.timedelta(days=60))
        if changed
        else random_day(rng, earliest, max(earliest, add_years(t.REFERENCE_DATE, -2)))
    )
    return {
        "employer": _employer(rng),
        "occupation": (code, desc),
        "monthly_income": int(pay // 10 * 10),
        "previous_employer": _employer(rng) if changed else "",
        "employer_since": since,
    }


def _employer(rng: random.Random) -> str:
    return f"{rng.choice(t.EMPLOYER_WORDS)} {rng.choice(t.EMPLOYER_TRADES)} {rng.choice(t.EMPLOYER_SUFFIXES)}"
