"""Auditors are staff with the auditor role: the migration that moved the older `auditors` rows
into `staff` (credentials kept, names kept for old audit entries), the `consentry auditor`
commands that now point at `consentry staff`, and the verification records
(audit.verification_runs). Staff sign-in itself is tested in tests/identity/test_staff.py."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator

import pyotp
import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy import make_url, text
from sqlalchemy.orm import Session

from app.auditor.names import filter_choices, load_names
from audit.auditor_models import AuditorName
from audit.verification_runs import last_verification, record_verification
from audit.verify import Finding, LogReport
from core import migrate
from core.crypto.field_cipher import FieldCipher, associated_data
from core.db import make_engine
from core.errors import CryptoError
from identity import staff as service
from identity.staff import StaffSignInFailed, add_staff, authenticate, staff_totp_key
from tests.conftest import _postgres_admin

PASSWORD = "correct horse battery staple"
SECRET_KEY = "test-secret-key"
KEY = staff_totp_key(SECRET_KEY)
NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
CHEAP = PasswordHasher.from_parameters(profiles.CHEAPEST)


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch):
    """Still argon2id, at the lowest cost: production parameters take a quarter second a hash."""
    monkeypatch.setattr(service, "_hasher", CHEAP)


# The migration (0027), on a database of its own (SQLite, or PostgreSQL with TEST_DATABASE_URL):
# it runs the real upgrade and downgrade.


def _legacy_auditor(conn, username: str, secret: str, *, disabled: bool = False) -> str:
    """An `auditors` row exactly as audit/auditors.py wrote one before 0027."""
    auditor_id = str(uuid.uuid4())
    sealed = FieldCipher(KEY).encrypt(secret.encode(), associated_data("auditor-totp", username))
    conn.execute(
        text(
            "INSERT INTO auditors (id, username, password_hash, totp_secret, last_totp_step, created_at,"
            " last_login_at, disabled) VALUES (:id, :u, :h, :s, NULL, :now, NULL, :d)"
        ),
        {"id": auditor_id, "u": username, "h": CHEAP.hash(PASSWORD), "s": sealed, "now": NOW, "d": disabled},
    )
    return auditor_id


@pytest.fixture
def scratch_url(tmp_path) -> Iterator[str]:
    """An empty database of its own: a file on SQLite, a fresh database on PostgreSQL (when
    TEST_DATABASE_URL names one), dropped afterwards."""
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'merge.db'}"
        return
    name, admin = f"consentry_merge_{uuid.uuid4().hex[:12]}", _postgres_admin(base)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(base).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def migrated(scratch_url, capfd):
    """A database at 0026 holding three auditors (one disabled, one whose username a member of
    staff has) and a signed-in auditor session, then upgraded to the head."""
    engine = make_engine(scratch_url)
    migrate.upgrade(engine, "0026")
    secret = pyotp.random_base32()
    with engine.begin() as conn:
        ada = _legacy_auditor(conn, "ada", secret)
        gone = _legacy_auditor(conn, "gone", pyotp.random_base32(), disabled=True)
        clash = _legacy_auditor(conn, "ops.one", pyotp.random_base32())
        conn.execute(
            text(
                "INSERT INTO web_sessions (id, role, subject, created_at, last_seen_at, idle_timeout_s,"
                " idle_expires_at, expires_at)"
                " VALUES ('digest', 'auditor', :ada, :now, :now, 900, :now, :now)"
            ),
            {"ada": ada, "now": NOW},
        )
    with Session(engine) as session:
        add_staff(session, username="ops.one", password=PASSWORD, roles=["operator"], now=NOW, totp_key=KEY)
        session.commit()
    migrate.upgrade(engine)
    yield engine, {"ada": ada, "gone": gone, "clash": clash, "secret": secret}, capfd.readouterr().err
    engine.dispose()


def test_an_auditor_moves_into_staff_with_its_id_hash_and_secret(migrated):
    engine, ids, _ = migrated
    with Session(engine) as session:
        code = pyotp.TOTP(ids["secret"]).at(NOW)
        member = authenticate(session, username="ada", password=PASSWORD, code=code, now=NOW, totp_key=KEY)
        assert (member.id, member.role_set, member.disabled) == (ids["ada"], {"auditor"}, False)
        with pytest.raises(StaffSignInFailed):  # the disabled auditor stays disabled
            authenticate(session, username="gone", password=PASSWORD, code="000000", now=NOW, totp_key=KEY)


def test_a_username_staff_already_has_is_not_moved_and_is_named(migrated):
    engine, ids, stderr = migrated
    with engine.connect() as conn:
        roles = conn.execute(text("SELECT id, roles FROM staff WHERE username = 'ops.one'")).one()
        assert roles[0] != ids["clash"] and roles[1] == "operator"  # no auditor role handed over
        assert (
            conn.execute(text("SELECT count(*) FROM staff WHERE id = :i"), {"i": ids["clash"]}).scalar() == 0
        )
    assert "auditor 'ops.one' not moved" in stderr


def test_every_old_auditor_keeps_a_name_and_their_sessions_end(migrated):
    engine, ids, _ = migrated
    with Session(engine) as session:
        names = {row.id: row.username for row in session.query(AuditorName)}
        assert names == {ids["ada"]: "ada", ids["gone"]: "gone", ids["clash"]: "ops.one"}
        assert session.execute(text("SELECT count(*) FROM web_sessions")).scalar() == 0


def test_the_downgrade_gives_auditor_only_staff_back_to_auditors(migrated):
    engine, ids, _ = migrated
    migrate.downgrade(engine, "0026")
    with engine.connect() as conn:
        back = set(conn.execute(text("SELECT id FROM auditors")).scalars())
        assert back == {ids["ada"], ids["gone"]}
        assert list(conn.execute(text("SELECT username FROM staff")).scalars()) == ["ops.one"]


# Old entries' actors read with a name


def test_old_auditor_actors_read_with_their_username_in_names_and_filters(db_session, runtime):
    old_id = str(uuid.uuid4())
    db_session.add(AuditorName(id=old_id, username=f"old-{old_id[:6]}"))
    db_session.flush()
    names = load_names(db_session, runtime.catalogue)
    assert names.actor(f"auditor:{old_id}") == f"old-{old_id[:6]} (auditor account)"
    assert names.actor("auditor:someone-else") == "auditor:someone-else"
    actors = dict(filter_choices(db_session, runtime.catalogue).actors)
    assert actors[f"auditor:{old_id}"] == f"Staff: old-{old_id[:6]} (auditor account)"


def test_a_secret_moved_to_another_account_does_not_decrypt(db_session):
    ada = add_staff(
        db_session, username="ada.audit", password=PASSWORD, roles=["auditor"], now=NOW, totp_key=KEY
    )
    bob = add_staff(
        db_session, username="bob.audit", password=PASSWORD, roles=["auditor"], now=NOW, totp_key=KEY
    )
    bob.member.totp_secret = ada.member.totp_secret
    code = pyotp.TOTP(ada.totp_secret).at(NOW)
    with pytest.raises(CryptoError):
        authenticate(db_session, username="bob.audit", password=PASSWORD, code=code, now=NOW, totp_key=KEY)


# The CLI


@pytest.mark.parametrize(
    ("command", "instead"),
    [("create", "consentry staff add carol --role auditor"), ("disable", "consentry staff disable carol")],
)
def test_the_auditor_commands_name_the_staff_command_and_fail(app, command, instead):
    result = app.test_cli_runner().invoke(args=["auditor", command, "carol"])
    assert result.exit_code == 2 and instead in result.output


# Verification records


def test_verifications_are_recorded_and_the_last_one_found(db_session, now):
    record_verification(db_session, report=LogReport(entries=10, checkpoints=1), now=now)
    failed = LogReport(
        entries=4, checkpoints=0, findings=[Finding(4, "gap: entries missing", "seq 4", "seq 6")]
    )
    record_verification(db_session, report=failed, now=now + dt.timedelta(hours=1))
    last = last_verification(db_session)
    assert (last.ok, last.entries, last.checkpoints, last.position) == (False, 4, 0, "seq 4")
    assert last.finding == "seq 4: gap: entries missing (expected seq 4, found seq 6)"


def test_audit_verify_records_its_result(app, db_session):
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    last = last_verification(db_session)
    assert last is not None and last.ok and last.finding is None
