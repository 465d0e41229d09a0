"""The batch writer (bulk refresh) stores exactly what the one-citizen path stores."""

import datetime as dt

import pytest
from sqlalchemy import select

from core.crypto.field_cipher import associated_data
from core.errors import CryptoError, ValidationFailed
from profile_store.assembly import load_fields
from profile_store.batch_writer import BatchWriter
from profile_store.fields import apply_agency_record, record_agency_failure
from profile_store.models import AgencySync, Citizen, FieldVersion, ProfileField
from profile_store.vault import field_aad
from tests.factories import make_citizen

NAME = {"value": "TAN HENG HUAT", "lastupdated": "2024-02-04"}
SEX = {"code": "F", "desc": "FEMALE", "lastupdated": "2024-02-04"}
# (agency, items or None, failure reason or None), one step after another, a day apart.
STEPS = [
    ("identity", {"name": NAME, "sex": SEX}, None),
    ("transport", None, None),
    ("tax", None, "timeout"),
    ("identity", {"name": NAME, "sex": SEX}, None),  # unchanged
    ("identity", {"name": {**NAME, "value": "TAN HUI MIN", "lastupdated": "2024-03-01"}}, None),
    ("identity", None, "http_503: agency error"),
    ("identity", {"name": {"unavailable": True}, "sex": {**SEX, "lastupdated": ""}}, None),
    ("tax", {}, None),
]


def _one_citizen_path(session, runtime, citizen, agency, items, reason, now):
    if reason is not None:
        record_agency_failure(session, citizen_id=citizen.id, agency=agency, reason=reason, now=now)
        return
    apply_agency_record(
        session,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=citizen,
        agency=agency,
        items=items,
        now=now,
    )


def _batch_path(session, runtime, citizen, agency, items, reason, now):
    writer = BatchWriter(
        session, vault=runtime.vault, catalogue=runtime.catalogue, citizen_ids=[citizen.id], now=now
    )
    if reason is not None:
        writer.fail(citizen.id, agency, reason)
    else:
        writer.apply(citizen.id, agency, items)
    writer.flush()


def _state(session, runtime, citizen):
    """Everything stored about the citizen, ciphertexts replaced by what they decrypt to."""
    session.expire_all()
    cipher = runtime.vault.cipher_for(citizen)

    def value(row, origin):
        if row.ciphertext is None:
            return None
        return cipher.decrypt_json(row.ciphertext, field_aad(citizen.id, row.attribute, origin, row.version))

    fields = {
        f.attribute: (f.agency, f.source, f.classification, f.lastupdated, f.unavailable, f.version,
                      f.fetched_at, value(f, "agency"))
        for f in session.scalars(select(ProfileField).where(ProfileField.citizen_id == citizen.id))
    }  # fmt: skip
    versions = sorted(
        (v.attribute, v.origin, v.version, v.agency, v.source, v.lastupdated, v.unavailable,
         v.recorded_at, v.superseded_at, value(v, v.origin))
        for v in session.scalars(select(FieldVersion).where(FieldVersion.citizen_id == citizen.id))
    )  # fmt: skip
    syncs = {
        s.agency: (s.attempted_at, s.succeeded_at, s.last_error)
        for s in session.scalars(select(AgencySync).where(AgencySync.citizen_id == citizen.id))
    }
    refreshed = session.scalar(select(Citizen.refreshed_at).where(Citizen.id == citizen.id))
    views = {name: (v.item, v.fetched_at) for name, v in load_fields(
        session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=citizen
    ).items()}  # fmt: skip
    return fields, versions, syncs, refreshed, views


def test_batch_writer_stores_what_apply_agency_record_stores(db_session, runtime, now):
    one, batch = make_citizen(db_session, runtime.vault), make_citizen(db_session, runtime.vault)
    for day, (agency, items, reason) in enumerate(STEPS):
        when = now + dt.timedelta(days=day)
        _one_citizen_path(db_session, runtime, one, agency, items, reason, when)
        _batch_path(db_session, runtime, batch, agency, items, reason, when)
        assert _state(db_session, runtime, batch) == _state(db_session, runtime, one), (day, agency)
    fields, versions, _, _, _ = _state(db_session, runtime, batch)
    assert fields["name"][5] == 3 and [v[2] for v in versions if v[0] == "name"] == [1, 2]


def test_batch_writer_writes_many_citizens_in_one_flush(db_session, runtime, now):
    citizens = [make_citizen(db_session, runtime.vault) for _ in range(3)]
    writer = BatchWriter(
        db_session,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen_ids=[c.id for c in citizens],
        now=now,
    )
    for index, citizen in enumerate(citizens):
        result = writer.apply(citizen.id, "identity", {"name": {**NAME, "value": f"PERSON {index}"}})
        assert "name" in result.changed and "sex" in result.unavailable
    writer.flush()
    for index, citizen in enumerate(citizens):
        views = load_fields(
            db_session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=citizen, attributes=["name"]
        )
        assert views["name"].item["value"] == f"PERSON {index}" and views["name"].fetched_at == now


def test_batch_writer_refuses_a_malformed_record_and_stages_nothing(db_session, runtime, now):
    citizen = make_citizen(db_session, runtime.vault)
    writer = BatchWriter(
        db_session, vault=runtime.vault, catalogue=runtime.catalogue, citizen_ids=[citizen.id], now=now
    )
    with pytest.raises(ValidationFailed) as caught:
        writer.apply(citizen.id, "identity", {"name": NAME, "sex": "F"})
    assert set(caught.value.errors) == {"sex"}
    writer.flush()
    assert (
        db_session.scalar(select(ProfileField.attribute).where(ProfileField.citizen_id == citizen.id)) is None
    )
    assert db_session.scalar(select(AgencySync.agency).where(AgencySync.citizen_id == citizen.id)) is None


def test_field_aad_is_the_generic_associated_data():
    assert field_aad("c-1", "name", "agency", 12) == associated_data("field", "c-1", "name", "agency", 12)


def test_decrypt_json_many_matches_one_by_one_and_authenticates_each(runtime):
    cipher, _ = runtime.vault.new_data_key("c-1")
    values = [{"value": "A"}, [{"a": 1}], {"n": 1.5, "t": True, "s": "x,y]"}, [], "é"]
    sealed = [
        (cipher.encrypt_json(v, f"aad-{i}".encode()), f"aad-{i}".encode()) for i, v in enumerate(values)
    ]
    assert cipher.decrypt_json_many(sealed) == values == [cipher.decrypt_json(b, a) for b, a in sealed]
    assert cipher.decrypt_json_many([]) == []
    with pytest.raises(CryptoError):
        cipher.decrypt_json_many([sealed[0], (sealed[1][0], sealed[2][1])])
