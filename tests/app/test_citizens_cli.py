"""`consentry citizens enrol` and the demo accounts: credentials that really sign in, shown once,
with the national id never printed in full."""

from __future__ import annotations

import pyotp
import pytest
from argon2 import PasswordHasher, profiles

from app import create_app
from app.citizens_cli import DEMO_ACCOUNTS, DEMO_PASSWORD, demo_accounts_table, seed_demo_accounts
from core.clock import utcnow
from core.uinfin import demo_uinfin
from identity.accounts import authenticate, enrol, find_account
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


def test_enrol_prints_the_secret_once_and_it_signs_in(app, db_session, runtime, uinfin):
    result = app.test_cli_runner().invoke(args=["citizens", "enrol", uinfin.lower(), "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    uri = next(line for line in result.output.splitlines() if line.startswith("otpauth://"))
    secret = pyotp.parse_uri(uri).secret
    assert f"secret: {secret}" in result.output
    assert uinfin not in result.output
    assert sign_in(db_session, runtime, uinfin, PASSWORD, secret)


def test_enrol_prompts_for_the_password_twice(app, db_session, runtime, uinfin):
    result = app.test_cli_runner().invoke(
        args=["citizens", "enrol", uinfin], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    secret = result.output.rsplit("secret: ", 1)[1].strip()
    assert sign_in(db_session, runtime, uinfin, PASSWORD, secret)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["S1234567A", "--password", PASSWORD], "not a valid NRIC/FIN"),
        (["UNKNOWN", "--password", PASSWORD], "no citizen with this national id"),
        (["KNOWN", "--password", "short"], "between 12 and 200 characters"),
    ],
)
def test_enrol_refuses_with_a_reason(app, uinfin, args, message):
    args = [{"UNKNOWN": fresh_uinfin(), "KNOWN": uinfin}.get(arg, arg) for arg in args]
    result = app.test_cli_runner().invoke(args=["citizens", "enrol", *args])
    assert result.exit_code == 1
    assert message in result.output


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
