"""'Download my data' over HTTP: the JSON document's shape, the zip's CSV files with their headers
and the citizen's own values (never another citizen's), streamed responses with no-store and
attachment headers, and each download audited without values."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile

import pytest
from sqlalchemy import select

from agency_connectors.refresh import refresh_citizen
from agency_connectors.simulators.records import record_for
from audit.log import Event, append
from audit.models import AuditEntry
from core.clock import utcnow
from core.uinfin import demo_uinfin
from profile_store.citizens import reveal_uinfin
from profile_store.fields import apply_agency_record, declare
from tests.factories import make_citizen
from tests.oauth import flow

SECTIONS = ("profile", "history", "declarations", "consents", "disclosures", "corrections")
EMAIL = "tan.ah.kow@example.com"


def fetched(db_session, runtime, *, email: str | None = None):
    now = utcnow() - dt.timedelta(minutes=5)
    citizen = make_citizen(db_session, runtime.vault, now=now)
    refresh_citizen(
        db_session,
        registry=runtime.connectors,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=citizen,
        now=now,
    )
    if email:
        declare(
            db_session,
            vault=runtime.vault,
            catalogue=runtime.catalogue,
            citizen=citizen,
            attribute="email",
            value={"value": email},
            now=now,
        )
    db_session.commit()
    return citizen


@pytest.fixture
def citizen(db_session, runtime, simulators):
    made = fetched(db_session, runtime, email=EMAIL)
    # An earlier identity record, replaced: the history section has something to show.
    for when, uinfin in ((-3, demo_uinfin(0)), (-2, reveal_uinfin(runtime.vault, made))):
        apply_agency_record(
            db_session,
            vault=runtime.vault,
            catalogue=runtime.catalogue,
            citizen=made,
            agency="identity",
            items=record_for("identity", uinfin),
            now=utcnow() + dt.timedelta(minutes=when),
        )
    append(
        db_session,
        Event(
            kind="disclosure",
            citizen_ref=made.uinfin_digest,
            app_id="housing-grant-app",
            purpose="grant",
            outcome="released",
            attributes=("name", "regadd"),
            details={"agency": "Housing Board", "consent_id": "c-1"},
        ),
        now=utcnow(),
    )
    db_session.commit()
    return made


@pytest.fixture
def other(db_session, runtime, simulators):
    return fetched(db_session, runtime, email="someone.else@example.com")


@pytest.fixture
def signed_in(client, citizen):
    flow.sign_in(client, citizen.id)
    return client


def downloads(db_session, citizen) -> list[AuditEntry]:
    query = select(AuditEntry).where(
        AuditEntry.kind == "citizen_download", AuditEntry.citizen_ref == citizen.uinfin_digest
    )
    return list(db_session.scalars(query))


def test_the_page_offers_both_formats(signed_in):
    page = signed_in.get("/citizen/download")
    assert page.status_code == 200
    assert "/citizen/download/record.json" in page.text and "/citizen/download/record.zip" in page.text
    assert "the corrections you asked for, and the agencies' answers" in page.text


def test_json_has_every_section_with_the_citizens_own_values(signed_in, db_session, runtime, citizen, other):
    response = signed_in.get("/citizen/download/record.json")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Content-Disposition"] == 'attachment; filename="consentry-my-record.json"'
    assert response.headers["Cache-Control"] == "no-store"
    record = json.loads(response.data)
    assert record["format"] == "consentry-record/1"
    assert set(record) == {"format", "generated_at", "not_included", *SECTIONS}
    assert record["not_included"] == {} and record["corrections"] == []  # correction requests: a section
    uinfin = reveal_uinfin(runtime.vault, citizen)
    name = {row["attribute"]: row for row in record["profile"]}["name"]
    assert name["value"]["value"] == record_for("identity", uinfin)["name"]["value"]
    assert name["agency"] == "identity" and name["source"] == "government-verified"
    assert name["lastupdated"] and name["fetched_at"]
    earlier = [row for row in record["history"] if row["attribute"] == "name"]
    assert record_for("identity", demo_uinfin(0))["name"]["value"] in [
        row["value"]["value"] for row in earlier
    ]
    assert [row["value"] for row in record["declarations"]] == [{"value": EMAIL}]
    (released,) = [row for row in record["disclosures"] if row["kind"] == "disclosure"]
    assert released["app_id"] == "housing-grant-app" and released["attributes"] == ["name", "regadd"]
    assert released["audit_seq"] >= 0 and released["time"]
    text = response.data.decode()
    assert "someone.else@example.com" not in text
    assert reveal_uinfin(runtime.vault, other) not in text


def test_the_zip_holds_one_csv_per_section_with_headers(signed_in, runtime, citizen, other):
    response = signed_in.get("/citizen/download/record.zip")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Content-Disposition"] == 'attachment; filename="consentry-my-record.zip"'
    assert response.headers["Cache-Control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert archive.testzip() is None
    assert set(archive.namelist()) == {f"{name}.csv" for name in SECTIONS} | {"README.txt"}
    tables = {
        name: list(csv.DictReader(io.StringIO(archive.read(f"{name}.csv").decode()))) for name in SECTIONS
    }
    profile = {row["attribute"]: row for row in tables["profile"]}
    assert list(tables["profile"][0]) == [
        "attribute", "label", "agency", "agency_name", "source", "classification", "lastupdated",
        "fetched_at", "unavailable", "value",
    ]  # fmt: skip
    expected = record_for("identity", reveal_uinfin(runtime.vault, citizen))["name"]["value"]
    assert json.loads(profile["name"]["value"])["value"] == expected
    assert tables["declarations"][0]["value"] == json.dumps({"value": EMAIL})
    assert "audit_seq" in tables["disclosures"][0]
    assert "correction" in archive.read("README.txt").decode()
    everything = b"".join(archive.read(name) for name in archive.namelist()).decode()
    assert "someone.else@example.com" not in everything
    assert reveal_uinfin(runtime.vault, other) not in everything


def test_each_download_is_audited_without_values(signed_in, db_session, citizen):
    signed_in.get("/citizen/download/record.json").close()
    signed_in.get("/citizen/download/record.zip").close()
    entries = downloads(db_session, citizen)
    assert [json.loads(e.body)["details"]["format"] for e in entries] == ["json", "zip"]
    assert all(json.loads(e.body)["details"]["actor"] == "citizen" for e in entries)
    assert EMAIL not in "".join(e.body for e in entries)


def test_strangers_are_sent_to_sign_in(client):
    for path in ("/citizen/download", "/citizen/download/record.json", "/citizen/download/record.zip"):
        assert client.get(path).status_code == 303


def test_csv_cells_that_look_like_formulas_are_defused():
    from app.citizen.export import _cell

    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _cell("-12.5") == "-12.5"
    assert _cell(["a"]) == '["a"]'
    assert _cell(None) == "" and _cell(True) == "true"
