"""Auditor accounts: enrolment, sign-in with password and TOTP (one generic failure, no replays),
verification records, and the `consentry auditor` / `consentry audit verify` commands."""

from __future__ import annotations

import datetime as dt

import pyotp
import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy import select

import audit.auditors as auditors
from audit.auditor_models import Auditor
from audit.auditors import (
    SIGN_IN_FAILED,
    auditor_totp_key,
    authenticate,
    create_auditor,
    disable_auditor,
    find_auditor,
    last_verification,
    record_verification,
)
from audit.models import AuditEntry
from audit.verify import Finding, LogReport
from core.errors import Conflict, CryptoError, NotFound, Unauthorized, ValidationFailed

PASSWORD = "correct horse battery staple"
KEY = auditor_totp_key("test-secret-key")


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch):
    """Still argon2id, at the lowest cost: production parameters take a quarter second a hash."""
    monkeypatch.setattr("audit.auditors._hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))


@pytest.fixture
def enrolled(db_session, now):
    auditor, uri = create_auditor(db_session, username="ada", password=PASSWORD, now=now, totp_key=KEY)
    return auditor, pyotp.parse_uri(uri)


def sign_in(db_session, now, *, username="ada", password=PASSWORD, code):
    return authenticate(db_session, username=username, password=password, code=code, now=now, totp_key=KEY)


def test_create_stores_an_argon2id_hash_and_an_encrypted_secret(db_session, enrolled, now):
    auditor, totp = enrolled
    assert auditor.password_hash.startswith("$argon2id$")
    assert PASSWORD not in auditor.password_hash
    assert totp.secret.encode() not in auditor.totp_secret
    assert totp.provisioning_uri(name="ada", issuer_name="Consentry").startswith(
        "otpauth://totp/Consentry:ada"
    )
    assert auditor.created_at == now and auditor.last_login_at is None and not auditor.disabled


def test_create_refuses_a_taken_username_a_bad_username_and_a_short_password(db_session, enrolled, now):
    with pytest.raises(Conflict):
        create_auditor(db_session, username="ada", password=PASSWORD, now=now, totp_key=KEY)
    with pytest.raises(ValidationFailed) as caught:
        create_auditor(db_session, username="Ada Lovelace", password="short", now=now, totp_key=KEY)
    assert set(caught.value.errors) == {"username", "password"}


def test_the_right_password_and_code_sign_in_and_record_the_step(db_session, enrolled, now):
    auditor, totp = enrolled
    assert sign_in(db_session, now, code=totp.at(now)) is auditor
    assert auditor.last_login_at == now
    assert auditor.last_totp_step == totp.timecode(now)


def test_a_code_from_the_neighbouring_step_is_accepted_but_not_two_steps_away(db_session, enrolled, now):
    _, totp = enrolled
    with pytest.raises(Unauthorized):
        sign_in(db_session, now, code=totp.at(now - dt.timedelta(seconds=60)))
    assert sign_in(db_session, now, code=totp.at(now - dt.timedelta(seconds=30)))


def test_failures_all_say_the_same_thing(db_session, enrolled, now, monkeypatch):
    auditor, totp = enrolled
    checked = []
    real = auditors._password_matches
    monkeypatch.setattr(auditors, "_password_matches", lambda h, p: checked.append(h) or real(h, p))
    attempts = {
        "wrong password": {"password": "not the password", "code": totp.at(now)},
        "wrong code": {"code": f"{(int(totp.at(now)) + 1) % 1_000_000:06d}"},
        "unknown user": {"username": "nobody", "code": totp.at(now)},
        "empty code": {"code": ""},
    }
    messages = set()
    for why, overrides in attempts.items():
        with pytest.raises(Unauthorized) as caught:
            sign_in(db_session, now, **overrides)
        messages.add(caught.value.message)
        assert why and auditor.last_login_at is None
    assert messages == {SIGN_IN_FAILED}
    assert len(checked) == len(attempts), "argon2 runs even for an unknown username"
    assert checked[2] != auditor.password_hash and checked[2].startswith("$argon2id$")


def test_a_code_works_only_once(db_session, enrolled, now):
    _, totp = enrolled
    sign_in(db_session, now, code=totp.at(now))
    with pytest.raises(Unauthorized, match=SIGN_IN_FAILED):
        sign_in(db_session, now, code=totp.at(now))
    with pytest.raises(Unauthorized, match=SIGN_IN_FAILED):
        sign_in(db_session, now + dt.timedelta(seconds=30), code=totp.at(now))
    assert sign_in(db_session, now + dt.timedelta(seconds=30), code=totp.at(now + dt.timedelta(seconds=30)))


def test_a_disabled_auditor_cannot_sign_in(db_session, enrolled, now):
    _, totp = enrolled
    disable_auditor(db_session, username="ada")
    with pytest.raises(Unauthorized, match=SIGN_IN_FAILED):
        sign_in(db_session, now, code=totp.at(now))
    with pytest.raises(NotFound):
        disable_auditor(db_session, username="nobody")


def test_a_secret_moved_to_another_auditor_does_not_decrypt(db_session, enrolled, now):
    ada, totp = enrolled
    bob, _ = create_auditor(db_session, username="bob", password=PASSWORD, now=now, totp_key=KEY)
    bob.totp_secret = ada.totp_secret
    with pytest.raises(CryptoError):
        sign_in(db_session, now, username="bob", code=totp.at(now))


def test_verifications_are_recorded_and_the_last_one_found(db_session, now):
    record_verification(db_session, report=LogReport(entries=10, checkpoints=1), now=now)
    failed = LogReport(
        entries=4, checkpoints=0, findings=[Finding(4, "gap: entries missing", "seq 4", "seq 6")]
    )
    record_verification(db_session, report=failed, now=now + dt.timedelta(hours=1))
    last = last_verification(db_session)
    assert (last.ok, last.entries, last.checkpoints) == (False, 4, 0)
    assert last.finding == "seq 4: gap: entries missing (expected seq 4, found seq 6)"


def test_cli_creates_an_auditor_and_prints_the_uri_once(app, db_session):
    result = app.test_cli_runner().invoke(
        args=["auditor", "create", "carol"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    uri = next(line for line in result.output.splitlines() if line.startswith("otpauth://"))
    totp = pyotp.parse_uri(uri)
    assert f"secret: {totp.secret}" in result.output
    assert find_auditor(db_session, username="carol") is not None
    logged = db_session.scalars(select(AuditEntry).where(AuditEntry.outcome == "auditor_created")).all()
    assert any('"auditor":"carol"' in entry.body for entry in logged)


def test_cli_refuses_a_short_password_and_disables_auditors(app, db_session):
    runner = app.test_cli_runner()
    short = runner.invoke(args=["auditor", "create", "dave"], input="short\nshort\n")
    assert short.exit_code == 1 and "password" in short.output
    assert db_session.scalar(select(Auditor).where(Auditor.username == "dave")) is None
    runner.invoke(args=["auditor", "create", "dave"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert runner.invoke(args=["auditor", "disable", "dave"]).exit_code == 0
    assert find_auditor(db_session, username="dave").disabled
    assert runner.invoke(args=["auditor", "disable", "nobody"]).exit_code == 1


def test_audit_verify_records_its_result(app, db_session):
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    last = last_verification(db_session)
    assert last is not None and last.ok and last.finding is None
