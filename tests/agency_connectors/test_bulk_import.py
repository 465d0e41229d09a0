import io
import json

import pytest
from sqlalchemy import func, select

from agency_connectors.bulk_import import import_records, open_text, read_records
from core.errors import ValidationFailed
from profile_store.assembly import load_fields
from profile_store.citizens import find_citizen_by_uinfin
from profile_store.models import Citizen
from tests.factories import fresh_uinfin

NOA = {"amount": {"value": 64400}, "yearofassessment": {"value": "2025"}, "lastupdated": "2025-06-01"}


def jsonl(*rows):
    return io.StringIO("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")


def test_jsonl_import_creates_citizens_and_stores_items(db_session, runtime, now):
    a, b = fresh_uinfin(), fresh_uinfin()
    records = read_records(
        jsonl(
            {"uinfin": a, "attributes": {"noa-basic": NOA}},
            {"uinfin": b, "attributes": {"ownerprivate": {"value": True}}},
        ),
        "jsonl",
        catalogue=runtime.catalogue,
        agency="tax",
    )
    summary = import_records(
        db_session, vault=runtime.vault, catalogue=runtime.catalogue, agency="tax", records=records, now=now
    )
    assert (summary.citizens, summary.created, summary.attributes) == (2, 2, 2)
    citizen = find_citizen_by_uinfin(db_session, vault=runtime.vault, uinfin=a)
    fields = load_fields(
        db_session,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=citizen,
        attributes=["noa-basic", "ownerprivate"],
    )
    assert fields["noa-basic"].item["amount"] == {"value": 64400}
    assert fields["ownerprivate"].unavailable, "a tax record without it means the agency holds none"


def test_csv_import_groups_rows_by_citizen(db_session, runtime, now):
    a = fresh_uinfin()
    text = (
        "uinfin,attribute,item\n"
        f'{a},noa-basic,"{json.dumps(NOA).replace(chr(34), chr(34) * 2)}"\n'
        f'{a},ownerprivate,"{{""value"": false}}"\n'
    )
    records = read_records(open_text(text.encode()), "csv", catalogue=runtime.catalogue, agency="tax")
    assert set(records[a]) == {"noa-basic", "ownerprivate"}


def test_bad_lines_are_all_reported_with_line_numbers_and_nothing_is_imported(db_session, runtime):
    good = fresh_uinfin()
    rows = jsonl(
        {"uinfin": good, "attributes": {"noa-basic": NOA}},
        {"uinfin": "S0000000A", "attributes": {}},
        '{"uinfin": "truncated',
        {"uinfin": fresh_uinfin(), "attributes": {"vehicles": []}},
        {"uinfin": fresh_uinfin(), "attributes": {"noa-basic": {"amount": 5}}},
        {"uinfin": good, "attributes": {"noa-basic": NOA}},
        {"uinfin": fresh_uinfin(), "attributes": {}, "surprise": 1},
    )
    before = db_session.scalar(select(func.count()).select_from(Citizen))
    with pytest.raises(ValidationFailed) as caught:
        read_records(rows, "jsonl", catalogue=runtime.catalogue, agency="tax")
    errors = caught.value.errors
    assert set(errors) == {"line 2", "line 3", "line 4", "line 5", "line 6", "line 7"}
    assert "NRIC" in errors["line 2"][0]
    assert "not valid JSON" in errors["line 3"][0]
    assert "belongs to transport" in errors["line 4"][0]
    assert "line 1" in errors["line 6"][0]
    assert db_session.scalar(select(func.count()).select_from(Citizen)) == before


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("uinfin,item\nS9812381D,{}\n", "header"),
        ('uinfin,attribute,item\nS9812381D,noa-basic,"{""amount"": 1"\n', "not valid JSON"),
        ("uinfin,attribute,item\nS9812381D,noa-basic,{},extra\n", "too many columns"),
    ],
)
def test_bad_csv_is_rejected_with_the_reason(runtime, text, complaint):
    with pytest.raises(ValidationFailed) as caught:
        read_records(open_text(text.encode()), "csv", catalogue=runtime.catalogue, agency="tax")
    assert complaint in json.dumps(caught.value.errors)


def test_non_utf8_file_and_unknown_agency_or_format_are_refused(runtime):
    with pytest.raises(ValidationFailed, match="UTF-8"):
        open_text(b"\xff\xfe\x00bad")
    with pytest.raises(ValidationFailed, match="agency"):
        read_records(io.StringIO(""), "jsonl", catalogue=runtime.catalogue, agency="citizen")
    with pytest.raises(ValidationFailed, match="format"):
        read_records(io.StringIO(""), "xml", catalogue=runtime.catalogue, agency="tax")
