"""`consentry staff ...`: add (the secret printed once, and it signs in), roles, disable, list,
and the demo staff with their current codes; every change audited with the CLI as actor."""

from __future__ import annotations

import json
import re

import pyotp
from sqlalchemy import select

from app import create_app
from app.staff_cli import DEMO_STAFF, DEMO_STAFF_PASSWORD, seed_demo_staff
from audit.models import AuditEntry
from core.clock import utcnow
from identity.staff import authenticate, find_staff, staff_totp_key

PASSWORD = "a long enough staff password"


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=["staff", *args])


def audited(db_session, outcome: str) -> list[dict]:
    bodies = db_session.scalars(select(AuditEntry.body).where(AuditEntry.outcome == outcome))
    return [json.loads(body)["details"] for body in bodies]


def test_add_prints_the_secret_once_and_it_signs_in(app, db_session, runtime):
    result = run(app, "add", "ana.ops", "--role", "operator", "--role", "auditor", "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    uri = re.search(r"otpauth://\S+", result.output).group(0)
    secret = re.search(r"secret: ([A-Z2-7]+)", result.output).group(1)
    assert pyotp.parse_uri(uri).secret == secret and "auditor, operator" in result.output
    member = authenticate(
        db_session,
        username="ana.ops",
        password=PASSWORD,
        code=pyotp.TOTP(secret).now(),
        now=utcnow(),
        totp_key=staff_totp_key(runtime.config.secret_key),
    )
    assert member.role_set == {"operator", "auditor"}
    (details,) = audited(db_session, "staff_added")
    assert details == {"actor": "cli", "staff": member.actor, "roles": ["auditor", "operator"]}
    assert secret not in json.dumps(details) and PASSWORD not in result.output


def test_add_refuses_bad_details_naming_each_and_a_taken_username(app):
    result = run(app, "add", "X", "--role", "admin", "--password", "short")
    assert result.exit_code == 1
    assert "username:" in result.output and "password:" in result.output
    assert run(app, "add", "ana.ops", "--role", "boss", "--password", PASSWORD).exit_code == 2
    assert run(app, "add", "ana.ops", "--role", "admin", "--password", PASSWORD).exit_code == 0
    result = run(app, "add", "ana.ops", "--role", "admin", "--password", PASSWORD)
    assert result.exit_code == 1 and "already exists" in result.output


def test_list_roles_and_disable(app, db_session):
    run(app, "add", "ben.admin", "--role", "admin", "--password", PASSWORD)
    listed = run(app, "list")
    assert "ben.admin" in listed.output and "admin" in listed.output and "active" in listed.output
    assert run(app, "roles", "ben.admin", "--role", "operator").exit_code == 0
    assert find_staff(db_session, username="ben.admin").role_set == {"operator"}
    assert run(app, "disable", "ben.admin").exit_code == 0
    assert find_staff(db_session, username="ben.admin").disabled
    assert "disabled" in run(app, "list").output
    assert run(app, "disable", "nobody.here").exit_code == 1
    assert [d["actor"] for d in audited(db_session, "staff_disabled")] == ["cli"]


def test_the_demo_staff_sign_in_with_the_published_password_and_codes(app, db_session, runtime):
    with app.app_context():
        assert seed_demo_staff() == list(DEMO_STAFF)
        seed_demo_staff()  # twice: nothing added again
    result = run(app, "demo-codes")
    assert result.exit_code == 0
    for username, (roles, secret) in DEMO_STAFF.items():
        assert username in result.output and secret in result.output
        member = authenticate(
            db_session,
            username=username,
            password=DEMO_STAFF_PASSWORD,
            code=pyotp.TOTP(secret).now(),
            now=utcnow(),
            totp_key=staff_totp_key(runtime.config.secret_key),
        )
        assert member.role_set == set(roles)
    assert {r for roles, _ in DEMO_STAFF.values() for r in roles} == {"admin", "operator", "auditor"}


def test_demo_codes_refuse_in_production(base_config, engine, sessions):
    app = create_app(base_config, engine=engine)
    app.extensions["consentry"].use_sessions(sessions)
    app.extensions["consentry"].config = base_config.replace(env="production")
    result = app.test_cli_runner().invoke(args=["staff", "demo-codes"])
    assert result.exit_code == 1 and "do not exist in production" in result.output
    app.extensions["consentry"].close()


def test_while_no_staff_account_exists_the_start_up_log_says_how_to_add_the_first_admin(app, capsys):
    from app.staff.views import log_first_admin_hint

    log_first_admin_hint(app)
    assert "consentry staff add NAME --role admin" in capsys.readouterr().out
    assert run(app, "add", "first.admin", "--role", "admin", "--password", PASSWORD).exit_code == 0
    capsys.readouterr()
    log_first_admin_hint(app)
    assert "no_staff_accounts" not in capsys.readouterr().out
