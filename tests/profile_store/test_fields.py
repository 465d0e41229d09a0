"""Storing agency records and declarations: encryption at rest, provenance, history."""

import datetime as dt

import pytest
from sqlalchemy import select, text

from core.errors import CryptoError, ValidationFailed
from profile_store.assembly import assemble_person, assemble_read, load_fields, read_person
from profile_store.fields import apply_agency_record, declare, record_agency_failure
from profile_store.models import AgencySync, Declaration, FieldVersion, ProfileField
from tests.factories import make_citizen

NAME = {"value": "TAN HENG HUAT", "lastupdated": "2024-02-04"}
SEX = {"code": "F", "desc": "FEMALE", "lastupdated": "2024-02-04"}


def store(session, runtime, citizen, agency, items, now):
    return apply_agency_record(
        session,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=citizen,
        agency=agency,
        items=items,
        now=now,
    )


def test_agency_values_are_encrypted_at_rest_and_assembled_in_person_format(db_session, runtime, now):
    citizen = make_citizen(db_session, runtime.vault)
    store(db_session, runtime, citizen, "identity", {"name": NAME, "sex": SEX}, now)
    raw = db_session.execute(
        text("SELECT ciphertext FROM profile_fields WHERE attribute = 'name' AND citizen_id = :id"),
        {"id": citizen.id},
    ).scalar_one()
    assert b"TAN HENG" not in raw
    person = assemble_person(
        db_session,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=citizen,
        attributes=["name", "sex", "dob", "email"],
    )
    assert person["name"] == {
        "value": "TAN HENG HUAT",
        "lastupdated": "2024-02-04",
        "source": "1",
        "classification": "C",
    }
    assert person["sex"]["code"] == "F"
    # Sent by nobody: identity omitted dob, and nobody declared an email.
    assert person["dob"] == {"lastupdated": "", "source": "1", "classification": "C", "unavailable": True}
    assert person["email"]["source"] == "2" and person["email"]["unavailable"] is True


def test_absent_citizen_marks_agency_attributes_unavailable_and_lists_empty(db_session, runtime, now):
    citizen = make_citizen(db_session, runtime.vault)
    result = store(db_session, runtime, citizen, "transport", None, now)
    assert set(result.unavailable) == {"vehicles", "drivinglicence"}
    person = assemble_person(
        db_session,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=citizen,
        attributes=["vehicles", "drivinglicence"],
    )
    assert person["vehicles"] == []
    assert person["drivinglicence"]["unavailable"] is True


def test_a_change_keeps_the_previous_version_with_its_agency_and_time(db_session, runtime, now):
    citizen = make_citizen(db_session, runtime.vault)
    store(db_session, runtime, citizen, "identity", {"name": NAME}, now)
    later = now + dt.timedelta(days=3)
    result = store(
        db_session,
        runtime,
        citizen,
        "identity",
        {"name": {**NAME, "value": "TAN HUI MIN", "lastupdated": "2024-03-01"}},
        later,
    )
    assert "name" in result.changed
    versions = db_session.scalars(
        select(FieldVersion).where(FieldVersion.citizen_id == citizen.id, FieldVersion.attribute == "name")
    ).all()
    assert len(versions) == 1
    old = versions[0]
    assert (old.agency, old.version, old.lastupdated, old.superseded_at) == (
        "identity",
        1,
        dt.date(2024, 2, 4),
        later,
    )
    field = db_session.get(ProfileField, (citizen.id, "name"))
    assert field.version == 2 and field.lastupdated == dt.date(2024, 3, 1)


def test_unchanged_value_writes_no_history(db_session, runtime, now):
    citizen = make_citizen(db_session, runtime.vault)
    store(db_session, runtime, citizen, "identity", {"name": NAME}, now)
    result = store(db_session, runtime, citizen, "identity", {"name": NAME}, now + dt.timedelta(hours=1))
    assert "name" in result.unchanged
    assert db_session.scalar(select(FieldVersion.id).where(FieldVersion.citizen_id == citizen.id)) is None


def test_failure_keeps_last_good_value_and_its_lastupdated(db_session, runtime, now):
    citizen = make_citizen(db_session, runtime.vault)
    store(db_session, runtime, citizen, "identity", {"name": NAME}, now)
    record_agency_failure(db_session, citizen_id=citizen.id, agency="identity", reason="timeout", now=now)
    views = load_fields(
        db_session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=citizen, attributes=["name"]
    )
    assert views["name"].item["value"] == "TAN HENG HUAT"
    assert views["name"].lastupdated == dt.date(2024, 2, 4)
    sync = db_session.get(AgencySync, (citizen.id, "identity"))
    assert sync.last_error == "timeout" and sync.succeeded_at == now


def test_malformed_record_writes_nothing(db_session, runtime, now):
    citizen = make_citizen(db_session, runtime.vault)
    with pytest.raises(ValidationFailed) as caught:
        store(db_session, runtime, citizen, "identity", {"name": NAME, "sex": "F", "vehicles": []}, now)
    assert set(caught.value.errors) == {"sex", "vehicles"}
    assert (
        db_session.scalar(select(ProfileField.attribute).where(ProfileField.citizen_id == citizen.id)) is None
    )


def test_declaration_never_overrides_or_passes_for_a_verified_value(db_session, runtime, now):
    citizen = make_citizen(db_session, runtime.vault)
    store(db_session, runtime, citizen, "education", {"edulevel": {"code": "5", "desc": "DIPLOMA"}}, now)
    declare(
        db_session,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=citizen,
        attribute="edulevel",
        value={"code": "7", "desc": "DEGREE"},
        now=now,
    )
    declare(
        db_session,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=citizen,
        attribute="email",
        value={"value": "tan@example.org"},
        now=now,
    )
    person = assemble_person(
        db_session,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=citizen,
        attributes=["edulevel", "email"],
    )
    assert person["edulevel"]["code"] == "5" and person["edulevel"]["source"] == "1"
    assert person["email"] == {
        "value": "tan@example.org",
        "source": "2",
        "classification": "C",
        "lastupdated": now.date().isoformat(),
    }
    # The declaration is kept (the citizen said it) but only fills gaps.
    assert db_session.get(Declaration, (citizen.id, "edulevel")) is not None


def test_declaration_fills_an_unavailable_field_and_keeps_its_history(db_session, runtime, now):
    citizen = make_citizen(db_session, runtime.vault)
    store(db_session, runtime, citizen, "education", None, now)
    for code, desc in (("3", "SECONDARY"), ("4", "POST-SECONDARY")):
        declare(
            db_session,
            vault=runtime.vault,
            catalogue=runtime.catalogue,
            citizen=citizen,
            attribute="edulevel",
            value={"code": code, "desc": desc},
            now=now,
        )
    person = assemble_person(
        db_session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=citizen, attributes=["edulevel"]
    )
    assert person["edulevel"]["code"] == "4" and person["edulevel"]["source"] == "2"
    history = db_session.scalars(
        select(FieldVersion).where(FieldVersion.citizen_id == citizen.id, FieldVersion.origin == "citizen")
    ).all()
    assert [h.version for h in history] == [1]


@pytest.mark.parametrize(
    ("attribute", "value"),
    [("name", {"value": "X"}), ("edulevel", {"value": "degree"}), ("nosuch", {"value": "x"})],
)
def test_undeclarable_or_malformed_declarations_are_refused(db_session, runtime, now, attribute, value):
    citizen = make_citizen(db_session, runtime.vault)
    with pytest.raises(ValidationFailed):
        declare(
            db_session,
            vault=runtime.vault,
            catalogue=runtime.catalogue,
            citizen=citizen,
            attribute=attribute,
            value=value,
            now=now,
        )


def test_swapped_ciphertexts_between_citizens_fail_to_decrypt(db_session, runtime, now):
    a, b = make_citizen(db_session, runtime.vault), make_citizen(db_session, runtime.vault)
    store(db_session, runtime, a, "identity", {"name": NAME}, now)
    store(db_session, runtime, b, "identity", {"name": {**NAME, "value": "OTHER"}}, now)
    field_a = db_session.get(ProfileField, (a.id, "name"))
    field_b = db_session.get(ProfileField, (b.id, "name"))
    field_a.ciphertext = field_b.ciphertext
    db_session.flush()
    with pytest.raises(CryptoError):
        assemble_person(
            db_session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=a, attributes=["name"]
        )


def test_swapping_attributes_within_a_citizen_fails_to_decrypt(db_session, runtime, now):
    citizen = make_citizen(db_session, runtime.vault)
    store(db_session, runtime, citizen, "identity", {"name": NAME, "aliasname": {"value": "ALIAS"}}, now)
    name = db_session.get(ProfileField, (citizen.id, "name"))
    alias = db_session.get(ProfileField, (citizen.id, "aliasname"))
    name.ciphertext = alias.ciphertext
    db_session.flush()
    with pytest.raises(CryptoError):
        load_fields(db_session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=citizen)


def test_a_release_read_brings_each_agencys_last_success_with_the_values(db_session, runtime, now):
    citizen = make_citizen(db_session, runtime.vault)
    store(db_session, runtime, citizen, "identity", {"name": NAME, "sex": SEX}, now)
    record_agency_failure(db_session, citizen_id=citizen.id, agency="transport", reason="timeout", now=now)
    declare(db_session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=citizen, attribute="email",
            value={"value": "tan@example.sg"}, now=now)  # fmt: skip
    wanted = ["name", "email", "vehicles", "dob"]
    read = read_person(db_session, citizen_id=citizen.id, attributes=wanted)
    # Tried and succeeded, tried and never succeeded; never tried: absent (the caller's "stale").
    assert read.last_successes == {"identity": now, "transport": None}
    assembled = assemble_read(read, vault=runtime.vault, catalogue=runtime.catalogue, citizen=citizen)
    kwargs = {
        "vault": runtime.vault,
        "catalogue": runtime.catalogue,
        "citizen": citizen,
        "attributes": wanted,
    }
    assert assembled == assemble_person(db_session, **kwargs)
    assert list(assembled) == wanted and assembled["email"]["value"] == "tan@example.sg"
    other = make_citizen(db_session, runtime.vault)
    with pytest.raises(ValueError, match="another citizen"):
        assemble_read(read, vault=runtime.vault, catalogue=runtime.catalogue, citizen=other)
