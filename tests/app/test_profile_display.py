"""Profile values in words (app/value_format.py, app/profile_display.py) and times in the display
zone (app/display_time.py): addresses as postal lines, codes as descriptions, money with its
currency, dates and times in the citizen's zone, and previews that mask part of a value, never all
of it. Pure functions: no database, no app."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.config import Config
from app.display_time import citizen_time, known_zone, staff_time, zone_phrase
from app.profile_display import OWNER_MASKED, profile_page, show_field
from app.value_format import MASK, coded, mask, mask_scalar, money, postal_lines, readable_case, scalar
from core.errors import ConfigurationError
from profile_store.assembly import FieldView
from profile_store.catalogue import default_catalogue

SINGAPORE = ZoneInfo("Asia/Singapore")
NOW = dt.datetime(2026, 12, 3, 13, 5, tzinfo=dt.UTC)
ADDRESS = {
    "type": "SG",
    "block": {"value": "9"},
    "building": {"value": "D'LEEDON"},
    "floor": {"value": "26"},
    "unit": {"value": "368"},
    "street": {"value": "LEEDON HEIGHTS"},
    "postal": {"value": "260944"},
    "country": {"code": "SG", "desc": "SINGAPORE"},
}


def view(name: str, item, *, unavailable: bool = False) -> FieldView:
    attribute = default_catalogue()[name]
    return FieldView(attribute, item, attribute.agency, "1", dt.date(2026, 11, 2), NOW, unavailable, False)


def shown_by_name(page) -> dict:
    return {f.name: f for group in page.groups for f in group.fields}


# --- addresses, codes, money, dates ----------------------------------------------------------------


def test_an_address_reads_as_postal_lines():
    assert postal_lines(ADDRESS) == ["9 LEEDON HEIGHTS", "#26-368", "D'LEEDON", "Singapore 260944"]
    no_building = {**ADDRESS, "building": {"value": ""}}
    assert postal_lines(no_building) == ["9 LEEDON HEIGHTS", "#26-368", "Singapore 260944"]
    shown = show_field(view("regadd", {**ADDRESS, "lastupdated": "2026-11-02"}), now=NOW, masked=False)
    assert shown.lines == ["9 LEEDON HEIGHTS", "#26-368", "D'LEEDON", "Singapore 260944"]
    assert shown.text == "9 LEEDON HEIGHTS, #26-368, D'LEEDON, Singapore 260944"  # previews: one line
    assert shown.parts == []


def test_an_unformatted_address_keeps_its_lines():
    foreign = {"type": "UNFORMATTED", "line1": {"value": "10 DOWNING STREET"}, "line2": {"value": "LONDON"}}
    assert postal_lines(foreign) == ["10 DOWNING STREET", "LONDON"]


@pytest.mark.parametrize(
    ("code", "desc", "shown"),
    [
        ("2", "MARRIED", "Married"),
        ("SG", "SINGAPORE CITIZEN", "Singapore Citizen"),
        ("6", "PROFESSIONAL QUALIFICATION AND OTHER DIPLOMA", "Professional Qualification and Other Diploma"),
        ("115", "5-ROOM FLAT (HDB)", "5-room Flat (HDB)"),
        ("N", "Not Eligible", "Not Eligible"),  # already in ordinary case: left alone
        ("GEL", "", "GEL"),  # no description: the code
        ("", "", "\N{EN DASH}"),
    ],
)
def test_a_coded_value_reads_as_its_description_never_with_its_code(code, desc, shown):
    assert coded(code, desc) == shown
    assert readable_case("MARRIED") == "Married"


def test_marital_status_on_the_profile_has_no_code():
    shown = show_field(view("marital", {"code": "2", "desc": "MARRIED"}), now=NOW)
    assert shown.text == "Married"


@pytest.mark.parametrize(
    ("amount", "text"),
    [(1234.56, "S$1,234.56"), (75500, "S$75,500"), (489.3, "S$489.30"), (0, "S$0"), (-12.5, "-S$12.50")],
)
def test_money_carries_its_currency(amount, text):
    assert money(amount) == text
    assert scalar(amount, "amount") == text


def test_a_number_that_is_not_money_stays_a_number():
    assert scalar(2487, "enginecapacity") == "2487"
    assert scalar("STRAITS INVEST PTE LTD", "employment") == "STRAITS INVEST PTE LTD"


@pytest.mark.parametrize(
    ("value", "key", "text"),
    [
        ("1989-03-17", None, "17 March 1989"),
        ("2024-03", "month", "March 2024"),
        ("2020-02-07T15:56:00", "effectiveownership", "7 February 2020, 3:56pm"),
        ("2237", "tob", "10:37pm"),
        ("Y", "eligibility", "Yes"),
        ("N", "taxclearance", "No"),
        (True, None, "Yes"),
        ("", None, "\N{EN DASH}"),
    ],
)
def test_dates_times_and_flags_read_as_words(value, key, text):
    assert scalar(value, key) == text


def test_lists_are_tables_with_headers():
    history = {
        "history": [
            {"date": {"value": "2024-03-22"}, "employer": {"value": "ACME"}, "amount": {"value": 1761},
             "month": {"value": "2024-03"}},
        ]
    }  # fmt: skip
    shown = show_field(view("cpfcontributions", history), now=NOW, masked=False)
    assert shown.columns == ["Month", "Date", "Employer", "Amount"]
    assert shown.table == [["March 2024", "22 March 2024", "ACME", "S$1,761"]]


def test_a_wide_list_is_one_table_per_entry_without_its_empty_fields():
    vehicles = [
        {"vehicleno": {"value": "SBA1234A"}, "make": {"value": "TOYOTA"}, "model": {"value": "COROLLA"},
         "quotapremium": {"value": 87000}, "secondarycolour": {"value": ""}, "vpc": {"value": ""}},
    ]  # fmt: skip
    shown = show_field(view("vehicles", vehicles), now=NOW)
    assert shown.captions == ["1 of 1: SBA1234A"]
    assert shown.rows == [
        [
            ("Vehicle number", "SBA1234A"),
            ("Make", "TOYOTA"),
            ("Model", "COROLLA"),
            ("Quota premium", "S$87,000"),
        ]
    ]


# --- masking -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("S4251917J", f"{MASK}917J"),  # an NRIC keeps its last 4, as before
        ("368", f"{MASK}68"),
        ("26", f"{MASK}6"),
        ("9", "9"),  # a single character cannot be partly hidden
        ("LEEDON HEIGHTS", f"LEEDON {MASK}"),
        ("STRAITS INVEST PTE LTD", f"STRAITS {MASK}"),
    ],
)
def test_masking_never_hides_a_whole_value(text, masked):
    assert mask(text) == masked
    assert mask(text) != MASK


@pytest.mark.parametrize(
    ("value", "key", "masked"),
    [
        ("2025", "yearofassessment", "2025"),  # years were masked whole
        ("2024-03-22", "date", "22 March 2024"),
        ("2024-03", "month", "March 2024"),
        (True, "coverage", "Yes"),
        (61129.47, "oa", f"S${MASK}9.47"),
        (272000, "principalwithdrawalamt", f"S${MASK}000"),
        (0, "trade", "S$0"),
        ("383465", None, f"{MASK}465"),
    ],
)
def test_a_masked_preview_keeps_dates_years_and_currency(value, key, masked):
    assert mask_scalar(value, key, scalar(value, key)) == masked


def test_a_masked_preview_of_every_demo_value_shows_part_of_it():
    """Every leaf of a simulated citizen's highly sensitive items, masked: none is the bare mask."""
    from agency_connectors.simulators.records import AGENCIES, record_for
    from core.uinfin import demo_uinfin

    catalogue, seen = default_catalogue(), 0
    for n in range(5):
        for agency in AGENCIES:
            for name, item in (record_for(agency, demo_uinfin(n)) or {}).items():
                if not catalogue[name].masked or (isinstance(item, dict) and item.get("unavailable")):
                    continue
                shown = show_field(view(name, item), now=NOW)
                texts = [shown.text, *shown.lines, *(t for _, t in shown.parts)]
                texts += [cell for row in shown.table for cell in row]
                texts += [t for entry in shown.rows for _, t in entry]
                for text in filter(None, texts):
                    seen += 1
                    assert text.strip() != MASK, (name, shown)
                    assert not any(part.strip() == MASK for part in text.split(",")), (name, text)
    assert seen > 100


def test_the_owner_sees_every_value_in_full_but_the_national_id():
    fields = {
        "uinfin": view("uinfin", {"value": "S4251917J"}),
        "passportnumber": view("passportnumber", {"value": "K9797526C"}),
        "regadd": view("regadd", ADDRESS),
    }
    owner = shown_by_name(profile_page(default_catalogue(), fields, {}, now=NOW, owner=True))
    assert sorted(OWNER_MASKED) == ["uinfin"]
    assert owner["uinfin"].text == f"{MASK}917J" and owner["uinfin"].masked
    assert owner["passportnumber"].text == "K9797526C" and not owner["passportnumber"].masked
    assert owner["regadd"].lines[1] == "#26-368"
    staff = shown_by_name(profile_page(default_catalogue(), fields, {}, now=NOW))
    assert staff["passportnumber"].text == f"{MASK}526C"


# --- times in the display zone -------------------------------------------------------------------------


def test_times_are_shown_in_the_citizens_zone():
    assert citizen_time(NOW, SINGAPORE) == "3 December 2026, 9:05pm"
    assert (
        citizen_time(dt.datetime(2026, 12, 3, 16, 0, tzinfo=dt.UTC), SINGAPORE) == "4 December 2026, midnight"
    )
    assert (
        citizen_time(dt.datetime(2026, 12, 3, 4, 0), SINGAPORE) == "3 December 2026, midday"
    )  # naive is UTC
    assert staff_time(NOW, SINGAPORE) == "3 Dec 2026 21:05 (Asia/Singapore)"


STAFF_TEMPLATES = ("app/operator/templates", "app/admin/templates", "app/auditor/templates",
                   "app/staff/templates", "app/notices/templates/notices/failed.html")  # fmt: skip


def test_staff_pages_format_every_time_one_way_naming_the_zone():
    """Every staff template formats times with `local_time('staff')` (the zone on each time), none
    with the citizens' style, none labelled UTC (the pages' own times: tests/http/test_staff_pages.py,
    tests/http/test_auditor_pages.py)."""
    root = Path(__file__).resolve().parents[2]
    paths = [p for name in STAFF_TEMPLATES for p in sorted((root / name).glob("**/*.html")) or [root / name]]
    assert len(paths) > 10
    for path in paths:
        text = path.read_text()
        assert re.findall(r"local_time(?!\('staff'\))", text) == [], path
        assert "UTC" not in text, path


def test_a_zone_with_summer_time_follows_it():
    london = ZoneInfo("Europe/London")
    assert citizen_time(dt.datetime(2026, 7, 1, 12, 30, tzinfo=dt.UTC), london) == "1 July 2026, 1:30pm"
    assert citizen_time(dt.datetime(2026, 1, 1, 12, 30, tzinfo=dt.UTC), london) == "1 January 2026, 12:30pm"


def test_the_zone_in_words():
    assert zone_phrase(SINGAPORE) == "Singapore time"
    assert zone_phrase(ZoneInfo("America/New_York")) == "New York time"
    assert zone_phrase(ZoneInfo("UTC")) == "UTC"


def test_display_timezone_is_configurable_and_checked():
    assert Config.from_env({}).display_timezone == "Asia/Singapore"
    assert Config.from_env({"DISPLAY_TIMEZONE": "Europe/London"}).display_timezone == "Europe/London"
    for bad in ("Mars/Olympus_Mons", "", "../../etc/passwd", "utc"):
        assert not known_zone(bad)
        with pytest.raises(ConfigurationError, match="DISPLAY_TIMEZONE"):
            Config.from_env({"DISPLAY_TIMEZONE": bad})
