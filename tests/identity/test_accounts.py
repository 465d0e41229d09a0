"""Citizen accounts: enrolment, sign-in with password and single-use TOTP codes, one answer for
every failure, the TOTP secret encrypted at rest, rehashing and re-wrapping."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
from dataclasses import dataclass

import pyotp
import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy import text

import core.credentials
import identity.accounts
from core.crypto.keyring import MasterKeyring
from core.errors import CryptoError, NotFound, Unauthorized, ValidationFailed
from identity.accounts import SIGN_IN_FAILED, authenticate, enrol, find_account, rewrap_batch
from profile_store.vault import Vault
from tests.factories import TEST_MASTER_KEYS, fresh_uinfin, make_citizen

PASSWORD = "correct horse battery staple"
STEP = dt.timedelta(seconds=30)


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch):
    """Still argon2id, at the lowest cost: production parameters take a quarter second a hash."""
    monkeypatch.setattr(identity.accounts, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))


@dataclass(frozen=True)
class Account:
    citizen_id: str
    uinfin: str
    totp: pyotp.TOTP


@pytest.fixture
def account(db_session, runtime, now) -> Account:
    uinfin = fresh_uinfin()
    make_citizen(db_session, runtime.vault, uinfin=uinfin, now=now)
    enrolment = enrol(db_session, vault=runtime.vault, uinfin=uinfin, password=PASSWORD, now=now)
    return Account(enrolment.citizen_id, uinfin, pyotp.TOTP(enrolment.totp_secret))


def sign_in(db_session, vault, account: Account, now: dt.datetime, **overrides) -> str:
    args = {"uinfin": account.uinfin, "password": PASSWORD, "totp_code": account.totp.at(now), **overrides}
    return authenticate(db_session, vault=vault, now=now, **args)


def refused(db_session, vault, account: Account, now: dt.datetime, **overrides) -> str:
    with pytest.raises(Unauthorized) as caught:
        sign_in(db_session, vault, account, now, **overrides)
    return caught.value.message


def test_right_password_and_code_give_the_citizen_id(db_session, runtime, account, now):
    assert sign_in(db_session, runtime.vault, account, now) == account.citizen_id
    assert find_account(db_session, account.citizen_id).last_totp_step == account.totp.timecode(now)


def test_national_id_is_read_as_people_type_it(db_session, runtime, account, now):
    typed = f"  {account.uinfin.lower()} "
    assert sign_in(db_session, runtime.vault, account, now, uinfin=typed) == account.citizen_id


def test_every_failure_gets_the_same_message(db_session, runtime, account, now):
    vault = runtime.vault
    other_code = f"{(int(account.totp.at(now)) + 1) % 1_000_000:06d}"
    messages = {
        refused(db_session, vault, account, now, password="wrong password entirely"),
        refused(db_session, vault, account, now, totp_code=other_code),
        refused(db_session, vault, account, now, totp_code="12345"),
        refused(db_session, vault, account, now, totp_code=account.totp.at(now - 5 * STEP)),
        refused(db_session, vault, account, now, uinfin=fresh_uinfin()),
        refused(db_session, vault, account, now, uinfin="not an id"),
    }
    assert messages == {SIGN_IN_FAILED}
    assert find_account(db_session, account.citizen_id).last_totp_step is None


def test_a_citizen_without_an_account_gets_the_same_message(db_session, runtime, now):
    uinfin = fresh_uinfin()
    make_citizen(db_session, runtime.vault, uinfin=uinfin, now=now)
    stranger = Account("", uinfin, pyotp.TOTP(pyotp.random_base32()))
    assert refused(db_session, runtime.vault, stranger, now) == SIGN_IN_FAILED


def test_unknown_ids_still_cost_one_argon2_verification(db_session, runtime, account, now, monkeypatch):
    hasher = core.credentials.hasher  # every kind of account checks passwords through it
    calls = []

    class Counting(PasswordHasher):
        def verify(self, hash, password):
            calls.append(hash)
            return hasher.verify(hash, password)

    monkeypatch.setattr(core.credentials, "hasher", Counting.from_parameters(profiles.CHEAPEST))
    refused(db_session, runtime.vault, account, now, uinfin=fresh_uinfin())
    refused(db_session, runtime.vault, account, now, password="wrong password entirely")
    assert len(calls) == 2
    assert (
        calls[0].startswith("$argon2id$")
        and calls[0] != find_account(db_session, account.citizen_id).password_hash
    )


def test_a_code_works_once(db_session, runtime, account, now):
    assert sign_in(db_session, runtime.vault, account, now) == account.citizen_id
    assert refused(db_session, runtime.vault, account, now) == SIGN_IN_FAILED
    # Nor does the code of an earlier step that is still inside the drift window.
    later = now + STEP
    assert (
        refused(db_session, runtime.vault, account, later, totp_code=account.totp.at(now)) == SIGN_IN_FAILED
    )
    assert sign_in(db_session, runtime.vault, account, later) == account.citizen_id


def test_one_step_of_clock_drift_either_way_is_accepted(db_session, runtime, account, now):
    assert sign_in(db_session, runtime.vault, account, now, totp_code=account.totp.at(now - STEP))
    assert sign_in(db_session, runtime.vault, account, now, totp_code=account.totp.at(now + STEP))
    # The later step is now used, so the current one (older) is refused.
    assert refused(db_session, runtime.vault, account, now) == SIGN_IN_FAILED


def test_totp_secret_is_encrypted_at_rest_and_bound_to_its_citizen(db_session, runtime, account, now):
    secret = account.totp.secret
    row = db_session.execute(
        text("SELECT * FROM citizen_accounts WHERE citizen_id = :id"), {"id": account.citizen_id}
    ).one()
    stored = b"".join(bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode() for v in row)
    assert secret.encode() not in stored
    assert base64.b32decode(secret) not in stored
    assert secret.lower().encode() not in stored

    # The wrapped secret copied to another citizen's row does not open there.
    other_uinfin = _new_citizen(db_session, runtime, now)
    other = enrol(db_session, vault=runtime.vault, uinfin=other_uinfin, password=PASSWORD, now=now)
    find_account(db_session, other.citizen_id).totp_secret_wrapped = row.totp_secret_wrapped
    db_session.flush()
    with pytest.raises(CryptoError):
        sign_in(db_session, runtime.vault, Account(other.citizen_id, other_uinfin, account.totp), now)


def test_password_is_rehashed_when_the_parameters_change(db_session, runtime, account, now, monkeypatch):
    old_hash = find_account(db_session, account.citizen_id).password_hash
    stronger = PasswordHasher.from_parameters(
        dataclasses.replace(profiles.CHEAPEST, time_cost=profiles.CHEAPEST.time_cost + 1)
    )
    monkeypatch.setattr(identity.accounts, "_hasher", stronger)
    assert stronger.check_needs_rehash(old_hash)
    sign_in(db_session, runtime.vault, account, now)
    new_hash = find_account(db_session, account.citizen_id).password_hash
    assert new_hash != old_hash and not stronger.check_needs_rehash(new_hash)
    assert sign_in(db_session, runtime.vault, account, now + STEP) == account.citizen_id


def test_secret_is_rewrapped_under_a_new_active_master_key(db_session, runtime, account, now):
    assert find_account(db_session, account.citizen_id).totp_kid == "test-a"
    rotated = Vault(MasterKeyring.from_spec(TEST_MASTER_KEYS, "test-b"), runtime.config.lookup_key)
    sign_in(db_session, rotated, account, now)
    assert find_account(db_session, account.citizen_id).totp_kid == "test-b"
    assert sign_in(db_session, rotated, account, now + STEP) == account.citizen_id


def test_enrolling_again_replaces_the_credentials(db_session, runtime, account, now):
    sign_in(db_session, runtime.vault, account, now)
    again = enrol(
        db_session, vault=runtime.vault, uinfin=account.uinfin, password="a brand new password", now=now
    )
    assert again.citizen_id == account.citizen_id and again.totp_secret != account.totp.secret
    replaced = Account(account.citizen_id, account.uinfin, pyotp.TOTP(again.totp_secret))
    assert refused(db_session, runtime.vault, replaced, now) == SIGN_IN_FAILED  # old password
    assert sign_in(db_session, runtime.vault, replaced, now, password="a brand new password")


def test_enrolment_gives_a_provisioning_uri_without_the_national_id(db_session, runtime, now):
    uinfin = _new_citizen(db_session, runtime, now)
    enrolment = enrol(db_session, vault=runtime.vault, uinfin=uinfin, password=PASSWORD, now=now)
    assert enrolment.provisioning_uri.startswith("otpauth://totp/Consentry:")
    assert uinfin not in enrolment.provisioning_uri and uinfin[-4:] in enrolment.provisioning_uri
    assert pyotp.parse_uri(enrolment.provisioning_uri).secret == enrolment.totp_secret


def test_a_given_secret_is_used_as_is(db_session, runtime, now):
    uinfin, secret = _new_citizen(db_session, runtime, now), "CONSENTRYDEMOSECRETFORTESTS23456"
    enrolment = enrol(
        db_session, vault=runtime.vault, uinfin=uinfin, password=PASSWORD, now=now, totp_secret=secret
    )
    assert enrolment.totp_secret == secret


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"password": "too short"}, ValidationFailed),
        ({"password": "x" * 201}, ValidationFailed),
        ({"totp_secret": "SHORT234"}, ValidationFailed),
        ({"totp_secret": "lowercase-is-not-base32-at-all-xx"}, ValidationFailed),
        ({"uinfin": "S1234567A"}, ValidationFailed),
        ({"uinfin": None}, NotFound),
    ],
)
def test_enrolment_refuses_bad_details(db_session, runtime, now, changes, error):
    args = {"uinfin": _new_citizen(db_session, runtime, now), "password": PASSWORD, **changes}
    if args["uinfin"] is None:
        args["uinfin"] = fresh_uinfin()  # a valid id nobody has
    with pytest.raises(error):
        enrol(db_session, vault=runtime.vault, now=now, **args)


def _new_citizen(db_session, runtime, now) -> str:
    uinfin = fresh_uinfin()
    make_citizen(db_session, runtime.vault, uinfin=uinfin, now=now)
    return uinfin


def test_rewrap_moves_every_secret_to_the_active_master_key(db_session, runtime, account, now):
    second = Account("", _new_citizen(db_session, runtime, now), account.totp)
    enrol(db_session, vault=runtime.vault, uinfin=second.uinfin, password=PASSWORD, now=now)
    rotated = MasterKeyring.from_spec(TEST_MASTER_KEYS, "test-b")
    total = 0
    while done := rewrap_batch(db_session, keyring=rotated, batch_size=1):
        assert done == 1
        total += done
    assert total >= 2
    assert find_account(db_session, account.citizen_id).totp_kid == "test-b"
    # Only the new key is needed now.
    only_b = Vault(MasterKeyring.from_spec(TEST_MASTER_KEYS.split(",")[1]), runtime.config.lookup_key)
    assert sign_in(db_session, only_b, account, now) == account.citizen_id
