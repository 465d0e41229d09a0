import pytest
from sqlalchemy import select, text

from core.crypto.keyring import MasterKeyring
from core.errors import Conflict, CryptoError, ValidationFailed
from profile_store.assembly import assemble_person
from profile_store.citizens import (
    create_citizen,
    find_citizen_by_uinfin,
    reveal_uinfin,
)
from profile_store.fields import apply_agency_record, declare
from profile_store.key_rotation import pending_rotation, rotate_batch
from profile_store.models import Citizen, FieldVersion
from profile_store.vault import Vault
from tests.factories import TEST_MASTER_KEYS, fresh_uinfin, make_citizen


def test_national_id_is_stored_only_as_digest_and_ciphertext(db_session, runtime, now):
    uinfin = fresh_uinfin()
    citizen = create_citizen(db_session, vault=runtime.vault, uinfin=uinfin.lower(), now=now)
    row = (
        db_session.execute(text("SELECT * FROM citizens WHERE id = :id"), {"id": citizen.id}).mappings().one()
    )
    assert all(
        uinfin.encode() not in bytes(v) if isinstance(v, bytes | memoryview) else uinfin not in str(v)
        for v in row.values()
    )
    assert find_citizen_by_uinfin(db_session, vault=runtime.vault, uinfin=uinfin).id == citizen.id
    assert reveal_uinfin(runtime.vault, citizen) == uinfin
    assert citizen.id != uinfin and len(citizen.id) == 36


def test_duplicate_and_malformed_national_ids_are_refused(db_session, runtime, now):
    uinfin = fresh_uinfin()
    create_citizen(db_session, vault=runtime.vault, uinfin=uinfin, now=now)
    with pytest.raises(Conflict):
        create_citizen(db_session, vault=runtime.vault, uinfin=uinfin, now=now)
    for bad in ("S1234567A", "", "X9812381D", "S98123"):
        with pytest.raises(ValidationFailed):
            create_citizen(db_session, vault=runtime.vault, uinfin=bad, now=now)


def _populated(db_session, runtime, now):
    citizen = make_citizen(db_session, runtime.vault, now=now)
    for name in ("A", "B"):  # the second supersedes the first: a field version to re-encrypt too
        apply_agency_record(
            db_session,
            vault=runtime.vault,
            catalogue=runtime.catalogue,
            citizen=citizen,
            agency="identity",
            items={"name": {"value": name}},
            now=now,
        )
    declare(
        db_session,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=citizen,
        attribute="email",
        value={"value": "a@example.org"},
        now=now,
    )
    return citizen


def test_rotation_re_encrypts_everything_under_the_new_master_key(db_session, runtime, now):
    citizen = _populated(db_session, runtime, now)
    before = assemble_person(db_session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=citizen)
    old_history = db_session.scalar(
        select(FieldVersion.ciphertext).where(FieldVersion.citizen_id == citizen.id)
    )
    rotated = Vault(MasterKeyring.from_spec(TEST_MASTER_KEYS, "test-b"), runtime.config.lookup_key)
    assert pending_rotation(db_session, vault=rotated) >= 1
    while rotate_batch(db_session, vault=rotated, batch_size=2):
        pass
    assert pending_rotation(db_session, vault=rotated) == 0
    db_session.refresh(citizen)
    assert citizen.dek_kid == "test-b"
    assert assemble_person(db_session, vault=rotated, catalogue=runtime.catalogue, citizen=citizen) == before
    assert (
        db_session.scalar(select(FieldVersion.ciphertext).where(FieldVersion.citizen_id == citizen.id))
        != old_history
    )
    # The old master key alone can no longer open this citizen.
    old_only = Vault(MasterKeyring.from_spec(TEST_MASTER_KEYS.split(",")[0]), runtime.config.lookup_key)
    with pytest.raises(CryptoError):
        old_only.cipher_for(citizen)


def test_rotation_resumes_where_a_crash_left_it(sessions, runtime, now):
    with sessions() as session:
        for _ in range(5):
            _populated(session, runtime, now)
        session.commit()
    rotated = Vault(MasterKeyring.from_spec(TEST_MASTER_KEYS, "test-b"), runtime.config.lookup_key)
    with sessions() as session:
        assert rotate_batch(session, vault=rotated, batch_size=2) == 2
        session.commit()
    with sessions() as session:  # a batch that dies before commit leaves its citizens untouched
        rotate_batch(session, vault=rotated, batch_size=2)
        session.rollback()
    with sessions() as session:
        remaining = pending_rotation(session, vault=rotated)
        while rotate_batch(session, vault=rotated, batch_size=2):
            session.commit()
        assert pending_rotation(session, vault=rotated) == 0
        assert remaining >= 3
        for citizen in session.scalars(select(Citizen)):
            assemble_person(session, vault=rotated, catalogue=runtime.catalogue, citizen=citizen)
