"""The example service's own pieces, without a Consentry: how a retrieved Myinfo item reads (Myinfo's
sample person), what the applicant types and how it is checked, and the
single-use pending sign-in. The journeys through a live Consentry are in
tests/http/test_demo_agency_app.py and tests/browser/test_example_service.py."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

from examples.housing_grant import answers, items
from examples.housing_grant.app import create_demo_agency_app
from examples.housing_grant.storage import KEEP_JOURNEYS_FOR, PENDING_FOR, Store

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def context(tmp_path):
    """A request context of the service (labels and formats are translated per request)."""
    app = create_demo_agency_app("http://127.0.0.1:9", database=tmp_path / "grant.db")
    with app.test_request_context("/"):
        yield app


def envelope(**item) -> dict:
    return {"lastupdated": "2020-02-04", "source": "1", "classification": "C", **item}


def address(block, street, floor, unit, building, postal) -> dict:
    return {
        "type": "SG",
        "block": {"value": block},
        "street": {"value": street},
        "floor": {"value": floor},
        "unit": {"value": unit},
        "building": {"value": building},
        "postal": {"value": postal},
        "country": {"code": "SG", "desc": "SINGAPORE"},
    }


BEDOK = ("102", "BEDOK NORTH AVENUE 4", "09", "128", "PEARL GARDEN", "460102")
BEDOK_LINES = ["102 BEDOK NORTH AVENUE 4", "#09-128 PEARL GARDEN", "SINGAPORE 460102"]
# Myinfo v4's sample person (its specification), the items this form asks for.
PERSON = {
    "uinfin": envelope(value="S9812381D"),
    "name": envelope(value="TAN HENG HUAT"),
    "dob": envelope(value="1998-06-06"),
    "regadd": envelope(**address(*BEDOK)),
    "marital": envelope(code="2", desc="MARRIED"),
    "noa-basic": envelope(yearofassessment={"value": "2018"}, amount={"value": 64400}),
    "cpfbalances": envelope(oa={"value": 58839.75}, ma={"value": 20466}, sa={"value": 15349.5}),
    "hdbownership": [
        envelope(
            address=address(*BEDOK),
            hdbtype={"code": "113", "desc": "3-ROOM FLAT (HDB)"},
            dateofpurchase={"value": "2017-04-21"},
            outstandingloanbalance={"value": 435600},
            dateofownershiptransfer={"value": ""},
        ),
        envelope(
            address=address("123", "POKER STREET", "10", "05", "", "000123"),
            hdbtype={"code": "118", "desc": "STUDIO APARTMENT (HDB)"},
            dateofpurchase={"value": "1980-01-05"},
            dateofownershiptransfer={"value": "1999-03-01"},
        ),
    ],
}


def test_the_sample_person_reads_as_the_form_shows_it(context):
    shown = items.retrieved(PERSON)
    assert shown["uinfin"].groups == [["S9812381D"]] and shown["uinfin"].verified
    assert shown["dob"].groups == [["6 June 1998"]]
    assert shown["regadd"].groups == [
        ["102 BEDOK NORTH AVENUE 4", "#09-128 PEARL GARDEN", "SINGAPORE 460102"]
    ]
    assert shown["regadd"].updated == "4 February 2020"
    assert shown["marital"].groups == [["Married"]]
    assert shown["noa-basic"].groups == [["S$64,400.00", "Year of assessment 2018"]]
    assert shown["cpfbalances"].groups == [
        ["Ordinary account: S$58,839.75", "Special account: S$15,349.50", "MediSave account: S$20,466.00"]
    ]
    assert shown["hdbownership"].groups == [
        [*BEDOK_LINES, "3-ROOM FLAT (HDB)", "Bought 21 April 2017", "Outstanding loan S$435,600.00"],
        [
            "123 POKER STREET",
            "#10-05",
            "SINGAPORE 000123",
            "STUDIO APARTMENT (HDB)",
            "Bought 5 January 1980",
            "Sold 1 March 1999",
        ],
    ]


def test_unavailable_and_declared_items(context):
    shown = items.retrieved(
        {
            "marital": {"lastupdated": "2024-01-02", "unavailable": True},
            "name": {"value": "TAN AH KOW", "source": "2", "lastupdated": "2024-01-02"},
            "hdbownership": [],
        }
    )
    assert "marital" not in shown  # no record: the applicant types it
    assert shown["name"].groups == [["TAN AH KOW"]] and not shown["name"].verified
    assert shown["hdbownership"].groups == [["None on record"]]


def test_an_address_without_unit_or_building_has_no_empty_lines(context):
    lines = items.address_lines(address("7", "JALAN BESAR", "", "", "", "208790"))
    assert lines == ["7 JALAN BESAR", "SINGAPORE 208790"]


def test_typed_answers_are_checked_and_normalised(context):
    form = {
        "uinfin": "s1234567d",
        "name": "  Tan   Ah Kow ",
        "dob-day": "29", "dob-month": "2", "dob-year": "2001",
        "regadd-block": "102", "regadd-street": "Bedok North Avenue 4", "regadd-postal": "460102",
        "marital": "5",
        "noa-basic-amount": "S$64,400.5", "noa-basic-year": "2025",
        "cpfbalances-oa": "1,000", "cpfbalances-sa": "0", "cpfbalances-ma": "12.34",
        "hdbownership": "yes",
    }  # fmt: skip
    typed, errors = answers.parse([item.name for item in items.ITEMS], form, today=NOW.date())
    assert errors == {"dob-day": "Date of birth must be a real date"}  # 2001 was not a leap year
    assert typed["uinfin"] == "S1234567D" and typed["name"] == "Tan Ah Kow"
    assert typed["noa-basic"] == {"amount": "64400.50", "year": "2025"}
    assert typed["cpfbalances"] == {"oa": "1000.00", "sa": "0.00", "ma": "12.34"}
    assert typed["regadd"]["unit"] == "" and typed["marital"] == "5"


@pytest.mark.parametrize("amount", ["-1", "12.345", "NaN", "1e12", "lots"])
def test_a_money_amount_must_be_dollars_and_cents(context, amount):
    _typed, errors = answers.parse(
        ["noa-basic"], {"noa-basic-amount": amount, "noa-basic-year": "2024"}, today=NOW.date()
    )
    assert set(errors) == {"noa-basic-amount"}


def test_a_pending_sign_in_is_taken_once_and_expires(tmp_path):
    store = Store(tmp_path / "grant.db")
    journey = store.new_journey(NOW)
    store.begin_sign_in(journey, flow="v5", pending={"state": "s"}, now=NOW)
    assert store.take_pending(journey, now=NOW) == ("v5", {"state": "s"})
    assert store.take_pending(journey, now=NOW) is None  # a reload finds nothing to redeem

    store.begin_sign_in(journey, flow="v4", pending={"state": "t"}, now=NOW)
    assert store.take_pending(journey, now=NOW + PENDING_FOR + dt.timedelta(seconds=1)) is None


def test_submitting_ends_the_journey_and_keeps_the_application(tmp_path):
    store = Store(tmp_path / "grant.db")
    journey = store.new_journey(NOW)
    store.save_person(journey, {"uinfin": {"value": "S1234567D", "source": "1"}})
    reference = store.submit(journey, flow="v4", answers={"uinfin": {"source": "myinfo"}}, now=NOW)
    assert store.retrieved(journey) is None
    assert store.application(reference)["answers"] == {"uinfin": {"source": "myinfo"}}
    assert store.application("HG-NONE-XXXX") is None


def test_an_abandoned_journey_and_its_details_are_deleted_after_a_day(tmp_path):
    store = Store(tmp_path / "grant.db")
    abandoned, recent = store.new_journey(NOW), store.new_journey(NOW + KEEP_JOURNEYS_FOR / 2)
    for journey in (abandoned, recent):
        store.save_person(journey, {"name": {"value": "TAN AH KOW"}})
    store.new_journey(NOW + KEEP_JOURNEYS_FOR + dt.timedelta(seconds=1))
    assert store.retrieved(abandoned) is None and store.retrieved(recent) is not None


PLATFORM = {
    "app",
    "core",
    "consent",
    "audit",
    "identity",
    "profile_store",
    "agency_connectors",
    "notifications",
}


def test_the_service_imports_nothing_from_the_platform():
    """It is a separate service: only libraries and the example clients of examples/."""
    package = Path(items.__file__).parent
    imported = set()
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    assert "examples" in imported and not imported & PLATFORM
