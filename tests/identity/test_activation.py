"""Activation letters, the activation steps, recovery codes and closing an account, in the domain:
letters expire and lock, one letter at a time, recovery codes work once, closing ends everything
but the profile."""

from __future__ import annotations

import datetime as dt

import pyotp
import pytest
from argon2 import PasswordHasher, profiles

import identity.accounts
from consent.apps import find_purpose, get_app
from consent.consents import grant_consent
from core.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from identity import enrolment
from identity.accounts import authenticate, find_account
from identity.activation import (
    ACTIVATION_FAILED,
    LETTER_EXPIRED,
    LETTER_LOCKED,
    LETTER_USED,
    MAX_WRONG,
    ActivationRefused,
    choose_password,
    finish_activation,
    issue_letter,
    start_activation,
)
from identity.activation_models import ActivationLetter
from identity.closure import close_account
from identity.passwords import password_problem
from identity.recovery import CODE_USED, RECOVERY_FAILED, finish_reenrolment, sign_in_with_recovery_code
from identity.web_sessions import resolve, start_session
from profile_store.models import Citizen
from tests.factories import fresh_uinfin, make_citizen
from tests.oauth import flow
from tests.oauth.flow import CLIENT_ID, PURPOSE, AgencyKeys

KEY = b"k" * 32
PASSWORD = "a long and unusual passphrase"


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch):
    monkeypatch.setattr(identity.accounts, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))


@pytest.fixture
def uinfin(db_session, runtime, now) -> str:
    value = fresh_uinfin()
    make_citizen(db_session, runtime.vault, uinfin=value, now=now)
    return value


def start(db_session, runtime, uinfin, code, now):
    return start_activation(db_session, vault=runtime.vault, key=KEY, uinfin=uinfin, code=code, now=now)


def activate(db_session, runtime, uinfin, now) -> tuple[str, list[str], str]:
    """The whole activation; returns the citizen id, the recovery codes and the TOTP secret."""
    letter = issue_letter(db_session, vault=runtime.vault, key=KEY, uinfin=uinfin, now=now)
    token, citizen_id = start(db_session, runtime, uinfin, letter.code.lower(), now)
    progress = enrolment.find(db_session, token=token, purpose="activate", now=now)
    choose_password(db_session, progress=progress, uinfin=uinfin, password=PASSWORD, confirm=PASSWORD)
    secret = enrolment.pending_secret(progress, runtime.vault.keyring)
    codes = finish_activation(
        db_session,
        progress=progress,
        keyring=runtime.vault.keyring,
        key=KEY,
        totp_code=pyotp.TOTP(secret).at(now),
        now=now,
    )
    return citizen_id, codes, secret


def test_a_letter_expires_after_thirty_days(db_session, runtime, uinfin, now):
    letter = issue_letter(db_session, vault=runtime.vault, key=KEY, uinfin=uinfin, now=now)
    assert letter.expires_at == now + dt.timedelta(days=30)
    with pytest.raises(ActivationRefused, match=LETTER_EXPIRED):
        start(db_session, runtime, uinfin, letter.code, letter.expires_at)
    assert start(db_session, runtime, uinfin, letter.code, letter.expires_at - dt.timedelta(seconds=1))


def test_the_code_is_stored_only_as_a_keyed_hash(db_session, runtime, uinfin, now):
    letter = issue_letter(db_session, vault=runtime.vault, key=KEY, uinfin=uinfin, now=now)
    row = db_session.get(ActivationLetter, letter.letter_id)
    assert letter.code.replace("-", "") not in row.code_hash and len(row.code_hash) == 64


def test_wrong_codes_lock_the_letter(db_session, runtime, uinfin, now):
    letter = issue_letter(db_session, vault=runtime.vault, key=KEY, uinfin=uinfin, now=now)
    for attempt in range(1, MAX_WRONG + 1):
        with pytest.raises(ActivationRefused, match=ACTIVATION_FAILED) as refused:
            start(db_session, runtime, uinfin, "AAAA-AAAA-AAAA", now)
        assert refused.value.locked == (attempt == MAX_WRONG)
    with pytest.raises(ActivationRefused, match=LETTER_LOCKED):
        start(db_session, runtime, uinfin, letter.code, now)


def test_an_unknown_id_or_no_letter_gets_the_same_answer(db_session, runtime, uinfin, now):
    for who in (uinfin, fresh_uinfin()):
        with pytest.raises(ActivationRefused, match=ACTIVATION_FAILED):
            start(db_session, runtime, who, "AAAA-AAAA-AAAA", now)
    with pytest.raises(NotFound):
        issue_letter(db_session, vault=runtime.vault, key=KEY, uinfin=fresh_uinfin(), now=now)


def test_a_new_letter_revokes_the_older_one(db_session, runtime, uinfin, now):
    first = issue_letter(db_session, vault=runtime.vault, key=KEY, uinfin=uinfin, now=now)
    second = issue_letter(db_session, vault=runtime.vault, key=KEY, uinfin=uinfin, now=now)
    with pytest.raises(ActivationRefused, match=ACTIVATION_FAILED):
        start(db_session, runtime, uinfin, first.code, now)
    assert start(db_session, runtime, uinfin, second.code, now)


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short pass", "12 characters or more"),
        ("Password1234", "too common"),
        ("aaaaaaaaaaaaaaa", "one or two characters"),
        ("my id is {uinfin} ok", "NRIC or FIN"),
    ],
)
def test_weak_passwords_are_refused(uinfin, password, problem):
    assert problem in password_problem(password.format(uinfin=uinfin.lower()), uinfin=uinfin)
    assert password_problem(PASSWORD, uinfin=uinfin) is None


def test_activation_makes_the_account_only_at_the_confirmed_code(db_session, runtime, uinfin, now):
    letter = issue_letter(db_session, vault=runtime.vault, key=KEY, uinfin=uinfin, now=now)
    token, citizen_id = start(db_session, runtime, uinfin, letter.code, now)
    progress = enrolment.find(db_session, token=token, purpose="activate", now=now)
    with pytest.raises(ValidationFailed):
        choose_password(db_session, progress=progress, uinfin=uinfin, password=PASSWORD, confirm="other")
    choose_password(db_session, progress=progress, uinfin=uinfin, password=PASSWORD, confirm=PASSWORD)
    secret = enrolment.pending_secret(progress, runtime.vault.keyring)
    assert enrolment.pending_secret(progress, runtime.vault.keyring) == secret
    keyring = runtime.vault.keyring
    with pytest.raises(ValidationFailed):
        finish_activation(
            db_session, progress=progress, keyring=keyring, key=KEY, totp_code="000000", now=now
        )
    assert find_account(db_session, citizen_id) is None
    code = pyotp.TOTP(secret).at(now)
    codes = finish_activation(
        db_session, progress=progress, keyring=keyring, key=KEY, totp_code=code, now=now
    )
    assert len(codes) == 10 and len(set(codes)) == 10
    with pytest.raises(Conflict):  # a double submit
        finish_activation(db_session, progress=progress, keyring=keyring, key=KEY, totp_code=code, now=now)
    with pytest.raises(ActivationRefused, match=LETTER_USED):
        start(db_session, runtime, uinfin, letter.code, now)
    later = now + dt.timedelta(seconds=60)
    kwargs = {"vault": runtime.vault, "uinfin": uinfin, "password": PASSWORD}
    assert authenticate(db_session, **kwargs, totp_code=pyotp.TOTP(secret).at(later), now=later) == citizen_id


def test_recovery_codes_work_once_and_reenrol_the_authenticator(db_session, runtime, uinfin, now):
    citizen_id, codes, old_secret = activate(db_session, runtime, uinfin, now)
    kwargs = {"vault": runtime.vault, "key": KEY, "uinfin": uinfin, "now": now}
    with pytest.raises(Unauthorized, match=RECOVERY_FAILED):
        sign_in_with_recovery_code(db_session, **kwargs, password="wrong password!", recovery_code=codes[0])
    token, who = sign_in_with_recovery_code(db_session, **kwargs, password=PASSWORD, recovery_code=codes[0])
    assert who == citizen_id
    with pytest.raises(Unauthorized, match=CODE_USED):
        sign_in_with_recovery_code(db_session, **kwargs, password=PASSWORD, recovery_code=codes[0])
    progress = enrolment.find(db_session, token=token, purpose="recover", now=now)
    assert enrolment.find(db_session, token=token, purpose="activate", now=now) is None
    secret = enrolment.pending_secret(progress, runtime.vault.keyring)
    later = now + dt.timedelta(seconds=90)
    finish_reenrolment(
        db_session,
        progress=progress,
        keyring=runtime.vault.keyring,
        totp_code=pyotp.TOTP(secret).at(later),
        now=later,
    )
    latest = later + dt.timedelta(seconds=60)
    sign_in = {"vault": runtime.vault, "uinfin": uinfin, "password": PASSWORD, "now": latest}
    with pytest.raises(Unauthorized):
        authenticate(db_session, **sign_in, totp_code=pyotp.TOTP(old_secret).at(latest))
    assert authenticate(db_session, **sign_in, totp_code=pyotp.TOTP(secret).at(latest)) == citizen_id


def test_closing_ends_sign_in_sessions_and_consents_but_keeps_the_profile(db_session, runtime, uinfin, now):
    citizen_id, _, _ = activate(db_session, runtime, uinfin, now)
    token = start_session(
        db_session,
        role="citizen",
        subject=citizen_id,
        now=now,
        idle=dt.timedelta(minutes=5),
        lifetime=dt.timedelta(hours=1),
    )
    flow.setup_app(db_session, runtime, AgencyKeys())
    consent = grant_consent(
        db_session,
        citizen_id=citizen_id,
        app=get_app(db_session, CLIENT_ID),
        purpose=find_purpose(db_session, CLIENT_ID, PURPOSE),
        requested=list(flow.REQUIRED),
        approved=list(flow.REQUIRED),
        remember_for=dt.timedelta(days=30),
        now=now,
    )
    withdrawn = close_account(db_session, citizen_id=citizen_id, now=now)
    assert [c.id for c in withdrawn] == [consent.id] and not consent.active_at(now)
    assert find_account(db_session, citizen_id) is None
    assert resolve(db_session, token=token, now=now) is None
    assert db_session.get(Citizen, citizen_id) is not None
    assert close_account(db_session, citizen_id=citizen_id, now=now) == []
    # Coming back takes a new letter: the old one was used.
    with pytest.raises(Unauthorized):
        sign_in_with_recovery_code(
            db_session,
            vault=runtime.vault,
            key=KEY,
            uinfin=uinfin,
            password=PASSWORD,
            recovery_code="x",
            now=now,
        )
    assert activate(db_session, runtime, uinfin, now + dt.timedelta(minutes=2))[0] == citizen_id


def test_closing_an_account_revokes_a_letter_not_yet_used(db_session, runtime, uinfin, now):
    citizen_id = activate(db_session, runtime, uinfin, now)[0]
    unused = issue_letter(db_session, vault=runtime.vault, key=KEY, uinfin=uinfin, now=now)
    close_account(db_session, citizen_id=citizen_id, now=now)
    assert db_session.get(ActivationLetter, unused.letter_id).revoked_at is not None
    with pytest.raises(ActivationRefused):
        start(db_session, runtime, uinfin, unused.code, now)


def test_ended_enrolments_are_purged_after_a_day(db_session, runtime, uinfin, now):
    letter = issue_letter(db_session, vault=runtime.vault, key=KEY, uinfin=uinfin, now=now)
    token, _ = start(db_session, runtime, uinfin, letter.code, now)
    assert enrolment.purge_ended(db_session, now=now + dt.timedelta(hours=2)) == 0
    assert enrolment.purge_ended(db_session, now=now + dt.timedelta(days=2)) >= 1
    assert enrolment.find(db_session, token=token, purpose="activate", now=now) is None
