"""`consentry citizens enrol` and the demo accounts: credentials that really sign in, shown once,
with the national id never printed in full."""

from __future__ import annotations

import csv
import io
import json
import re

import pyotp
import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy import select

from app import create_app
from app.citizen.activation import code_key
from app.citizens_cli import DEMO_ACCOUNTS, DEMO_PASSWORD, demo_accounts_table, seed_demo_accounts
from core.clock import utcnow
from core.uinfin import demo_uinfin
from identity.accounts import authenticate, enrol, find_account
from identity.activation import start_activation
from identity.activation_models import ActivationLetter
from profile_store.models import Citizen
from tests.audit_rows import written_here
from tests.factories import fresh_uinfin, make_citizen

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch):
    monkeypatch.setattr("identity.accounts._hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))


@pytest.fixture
def uinfin(db_session, runtime) -> str:
    value = fresh_uinfin()
    make_citizen(db_session, runtime.vault, uinfin=value)
    db_session.commit()
    return value


def sign_in(db_session, runtime, uinfin: str, password: str, secret: str) -> str:
    code = pyotp.TOTP(secret).now()
    return authenticate(
        db_session, vault=runtime.vault, uinfin=uinfin, password=password, totp_code=code, now=utcnow()
    )


def test_enrol_prints_a_letter_code_never_a_password(app, db_session, runtime, uinfin):
    result = app.test_cli_runner().invoke(args=["citizens", "enrol", uinfin.lower()])
    assert result.exit_code == 0, result.output
    code = re.search(r"activation code ([A-Z0-9-]{14})", result.output).group(1)
    assert uinfin not in result.output and "valid until" in result.output
    token, citizen_id = start_activation(
        db_session, vault=runtime.vault, key=key_of(app), uinfin=uinfin, code=code, now=utcnow()
    )
    assert token and find_account(db_session, citizen_id) is None  # the citizen opens it themselves
    entries = written_here(db_session, kind="activation_letter_issued")
    assert entries and all(code not in entry.body for entry in entries)


def key_of(app) -> bytes:
    with app.test_request_context():
        return code_key()


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_enrol_exports_letters_for_a_mail_house(app, db_session, runtime, uinfin, tmp_path, suffix):
    other = fresh_uinfin()
    make_citizen(db_session, runtime.vault, uinfin=other)
    db_session.commit()
    path = tmp_path / f"letters{suffix}"
    result = app.test_cli_runner().invoke(args=["citizens", "enrol", uinfin, other, "--export", str(path)])
    assert result.exit_code == 0, result.output
    assert "activation code" not in result.output
    text = path.read_text()
    rows = json.loads(text) if suffix == ".json" else list(csv.DictReader(io.StringIO(text)))
    assert [row["uinfin"] for row in rows] == [uinfin, other]
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    for row in rows:
        start_activation(
            db_session,
            vault=runtime.vault,
            key=key_of(app),
            uinfin=row["uinfin"],
            code=row["activation_code"],
            now=utcnow(),
        )
    again = app.test_cli_runner().invoke(args=["citizens", "enrol", uinfin, "--export", str(path)])
    assert again.exit_code != 0  # never overwrites


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["S1234567A"], "not a valid NRIC/FIN"),
        (["UNKNOWN"], "no citizen with this national id"),
        (["KNOWN", "UNKNOWN"], "no citizen with this national id"),
    ],
)
def test_enrol_refuses_with_a_reason_and_issues_nothing(app, db_session, runtime, uinfin, args, message):
    args = [{"UNKNOWN": fresh_uinfin(), "KNOWN": uinfin}.get(arg, arg) for arg in args]
    result = app.test_cli_runner().invoke(args=["citizens", "enrol", *args])
    assert result.exit_code == 1
    assert message in result.output
    digest = runtime.vault.digest_uinfin(uinfin)
    query = select(ActivationLetter).join(Citizen, Citizen.id == ActivationLetter.citizen_id)
    assert db_session.scalars(query.where(Citizen.uinfin_digest == digest)).all() == []


def test_demo_accounts_are_the_first_demo_citizens():
    assert list(DEMO_ACCOUNTS) == [demo_uinfin(n) for n in range(3)]


def test_demo_accounts_sign_in_with_the_published_credentials(app, db_session, runtime):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["seed", "--citizens", "2", "--no-refresh"]).exit_code == 0
    with app.app_context():
        seeded = seed_demo_accounts()
    assert seeded == [demo_uinfin(0), demo_uinfin(1)]  # only the demo citizens that exist
    for uinfin in seeded:
        assert sign_in(db_session, runtime, uinfin, DEMO_PASSWORD, DEMO_ACCOUNTS[uinfin])


def test_demo_codes_prints_the_current_codes(app):
    result = app.test_cli_runner().invoke(args=["citizens", "demo-codes"])
    assert result.exit_code == 0, result.output
    for uinfin, secret in DEMO_ACCOUNTS.items():
        assert uinfin in result.output and secret in result.output
    assert DEMO_PASSWORD in result.output
    assert demo_accounts_table().row_count == 3


def test_rewrap_secrets_moves_them_to_the_active_master_key(
    base_config, engine, sessions, db_session, runtime, uinfin
):
    enrolment = enrol(db_session, vault=runtime.vault, uinfin=uinfin, password=PASSWORD, now=utcnow())
    db_session.commit()
    assert find_account(db_session, enrolment.citizen_id).totp_kid == "test-a"
    app = create_app(base_config.replace(active_master_kid="test-b"), engine=engine)
    app.extensions["consentry"].use_sessions(sessions)
    result = app.test_cli_runner().invoke(args=["citizens", "rewrap-secrets", "--batch-size", "2"])
    app.extensions["consentry"].close()
    assert result.exit_code == 0, result.output
    assert "re-wrapped under test-b" in result.output
    db_session.expire_all()
    assert find_account(db_session, enrolment.citizen_id).totp_kid == "test-b"
