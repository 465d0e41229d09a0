"""Staff accounts (identity/staff.py): adding with roles, argon2id passwords, single-use TOTP codes,
one answer for every refusal, role changes and disabling that end sessions. (Auditor accounts
moved in with their secrets as they were: tests/audit/test_auditors.py runs that migration.)"""

from __future__ import annotations

import datetime as dt

import pyotp
import pytest
from argon2 import PasswordHasher

from core.errors import Conflict, NotFound, ValidationFailed
from identity import staff as service
from identity.staff import (
    SIGN_IN_FAILED,
    StaffSignInFailed,
    add_staff,
    any_staff,
    authenticate,
    disable_staff,
    find_active_staff,
    list_staff,
    set_roles,
    staff_totp_key,
)
from identity.web_sessions import resolve, start_session

KEY = staff_totp_key("a-secret-key-for-these-tests")
PASSWORD = "correct horse battery staple"
NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)


def add(db_session, username="ops.one", roles=("operator",), **kwargs):
    return add_staff(
        db_session, username=username, password=PASSWORD, roles=roles, now=NOW, totp_key=KEY, **kwargs
    )


def sign_in(db_session, enrolment, *, at=NOW, code=None, password=PASSWORD):
    code = code or pyotp.TOTP(enrolment.totp_secret).at(at)
    return authenticate(
        db_session, username=enrolment.member.username, password=password, code=code, now=at, totp_key=KEY
    )


def test_a_member_has_sorted_roles_an_argon2id_hash_and_an_encrypted_secret(db_session):
    # Live-server tests commit staff into the same database, so "none yet" cannot be assumed here.
    enrolment = add(db_session, roles=("operator", "auditor", "operator"))
    member = enrolment.member
    assert member.roles == "auditor,operator" and member.role_set == {"auditor", "operator"}
    assert member.password_hash.startswith("$argon2id$")
    assert enrolment.totp_secret.encode() not in member.totp_secret
    assert enrolment.provisioning_uri.startswith("otpauth://totp/Consentry:ops.one?")
    assert pyotp.parse_uri(enrolment.provisioning_uri).secret == enrolment.totp_secret
    assert member.actor == f"staff:{member.id}" and any_staff(db_session)
    assert [m.username for m in list_staff(db_session)].count("ops.one") == 1


def test_production_hashes_are_argon2id_with_rfc_9106_parameters():
    # The tests run with the cheapest parameters (tests/conftest.py); production uses the default.
    assert PasswordHasher().hash("x").startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_every_problem_with_new_details_is_named_at_once(db_session):
    with pytest.raises(ValidationFailed) as caught:
        add_staff(db_session, username="X", password="short", roles=["boss"], now=NOW, totp_key=KEY)
    assert set(caught.value.errors) == {"username", "password", "roles"}
    with pytest.raises(ValidationFailed) as caught:
        add(db_session, roles=())
    assert caught.value.errors == {"roles": ["at least one of admin, auditor, operator"]}


def test_a_username_is_taken_once(db_session):
    add(db_session)
    with pytest.raises(Conflict):
        add(db_session, roles=("admin",))


def test_sign_in_with_password_and_code_records_the_step(db_session):
    enrolment = add(db_session)
    member = sign_in(db_session, enrolment)
    assert member.id == enrolment.member.id and member.last_login_at == NOW
    assert member.last_totp_step == pyotp.TOTP(enrolment.totp_secret).timecode(NOW)


def test_a_code_works_once_and_an_older_one_never_after(db_session):
    enrolment = add(db_session)
    totp = pyotp.TOTP(enrolment.totp_secret)
    sign_in(db_session, enrolment)
    with pytest.raises(StaffSignInFailed):
        sign_in(db_session, enrolment)  # the same code again
    later = NOW + dt.timedelta(seconds=30)
    sign_in(db_session, enrolment, at=later)
    with pytest.raises(StaffSignInFailed):
        sign_in(db_session, enrolment, at=later, code=totp.at(NOW))  # older, still inside the window


@pytest.mark.parametrize("wrong", ["password", "code", "username", "disabled"])
def test_every_refusal_has_one_message(db_session, wrong):
    enrolment = add(db_session)
    if wrong == "disabled":
        disable_staff(db_session, username="ops.one", now=NOW)
    code = "000000" if wrong == "code" else pyotp.TOTP(enrolment.totp_secret).at(NOW)
    with pytest.raises(StaffSignInFailed) as caught:
        authenticate(
            db_session,
            username="nobody.here" if wrong == "username" else "ops.one",
            password="not the password" if wrong == "password" else PASSWORD,
            code=code,
            now=NOW,
            totp_key=KEY,
        )
    assert caught.value.message == SIGN_IN_FAILED
    assert caught.value.staff_id == (None if wrong == "username" else enrolment.member.id)


def test_an_unknown_username_still_costs_an_argon2_verification(db_session, monkeypatch):
    verified = []
    real = service._password_matches
    monkeypatch.setattr(service, "_password_matches", lambda h, p: verified.append(h) or real(h, p))
    with pytest.raises(StaffSignInFailed):
        authenticate(db_session, username="nobody", password=PASSWORD, code="123456", now=NOW, totp_key=KEY)
    assert len(verified) == 1 and verified[0].startswith("$argon2id$")


def _session_of(db_session, member) -> str:
    hour = dt.timedelta(hours=1)
    return start_session(db_session, role="staff", subject=member.id, now=NOW, idle=hour, lifetime=hour)


def test_disabling_ends_every_session_and_sign_in(db_session):
    member = add(db_session).member
    token = _session_of(db_session, member)
    disable_staff(db_session, username="ops.one", now=NOW)
    assert member.disabled and member.disabled_at == NOW
    assert resolve(db_session, token=token, now=NOW) is None
    assert find_active_staff(db_session, member.id) is None and not member.has_role("operator")
    with pytest.raises(NotFound):
        disable_staff(db_session, username="nobody", now=NOW)


def test_any_change_of_roles_ends_sessions_the_same_roles_do_not(db_session):
    member = add(db_session).member
    token = _session_of(db_session, member)
    set_roles(db_session, username="ops.one", roles=sorted(member.role_set), now=NOW)
    assert resolve(db_session, token=token, now=NOW) is not None
    set_roles(db_session, username="ops.one", roles=["operator", "admin"], now=NOW)  # one added
    assert resolve(db_session, token=token, now=NOW) is None
    token = _session_of(db_session, member)
    set_roles(db_session, username="ops.one", roles=["admin"], now=NOW)  # one taken away
    assert resolve(db_session, token=token, now=NOW) is None
    assert member.role_set == {"admin"}
    with pytest.raises(ValidationFailed):
        set_roles(db_session, username="ops.one", roles=[], now=NOW)
