"""Backups restore to a log that verifies: the commands of docs/operations.md ("Backups and
restore") run for real, on a database of their own, then `consentry audit verify` on the restored
copy says OK, and says where after a row of the copy is altered (so the check could fail).

SQLite: `sqlite3 FILE ".backup COPY"` (a consistent copy while the app runs). PostgreSQL:
`pg_dump --format=custom` and `pg_restore` into a new database, as the tables' owner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.config import Config
from audit.log import Event, append
from audit.signer import AuditSigner
from core import migrate
from core.clock import utcnow
from core.db import make_engine, make_session_factory

CONSENTRY = str(Path(sys.executable).with_name("consentry"))


def consentry(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "CONSENTRY_ENV": "development"}
    env.pop("MIGRATION_DATABASE_URL", None)
    return subprocess.run(
        [CONSENTRY, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def fill(url: str, entries: int = 7) -> None:
    """Migrate, then append `entries` audit entries with a checkpoint every 3, as the app would."""
    config = Config.from_env({"DATABASE_URL": url})
    signer = AuditSigner.from_pem(config.audit_log_id, config.audit_signing_key)
    engine = make_engine(url)
    migrate.upgrade(engine)
    with make_session_factory(engine)() as session:
        for n in range(entries):
            event = Event(kind="profile_refreshed", citizen_ref=f"ref-{n}", outcome="complete")
            append(session, event, now=utcnow(), signer=signer, checkpoint_every=3)
        session.commit()
    engine.dispose()


def verified(url: str) -> subprocess.CompletedProcess:
    return consentry(url, "audit", "verify")


def alter_one_entry(url: str, *, trigger_off: str, trigger_on: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(trigger_off))
        conn.execute(text("UPDATE audit_entries SET outcome = 'altered' WHERE seq = 2"))
        if trigger_on:
            conn.execute(text(trigger_on))
    engine.dispose()


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="needs the sqlite3 command")
def test_a_sqlite_backup_restores_to_a_log_that_verifies(tmp_path):
    live, copy = tmp_path / "consentry.db", tmp_path / "backup.db"
    fill(f"sqlite:///{live}")

    backup = subprocess.run(
        ["sqlite3", str(live), f".backup '{copy}'"],  # noqa: S607 - the documented command
        capture_output=True,
        text=True,
        check=False,
    )
    assert backup.returncode == 0, backup.stderr
    restored = f"sqlite:///{copy}"
    result = verified(restored)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: 7 entries, 2 checkpoints verified" in result.stdout + result.stderr

    alter_one_entry(restored, trigger_off="DROP TRIGGER IF EXISTS audit_entries_no_update", trigger_on="")
    broken = verified(restored)
    assert broken.returncode != 0 and "seq 2" in broken.stdout + broken.stderr


@pytest.mark.postgres_only
@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="needs pg_dump and pg_restore")
def test_a_postgres_dump_restores_into_a_new_database_that_verifies(tmp_path):
    base = make_url(os.environ["TEST_DATABASE_URL"])
    names = [f"consentry_backup_{uuid.uuid4().hex[:10]}", f"consentry_restore_{uuid.uuid4().hex[:10]}"]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    live, restored = (base.set(database=name).render_as_string(hide_password=False) for name in names)
    libpq = [url.replace("postgresql+psycopg://", "postgresql://") for url in (live, restored)]
    try:
        fill(live)
        dump = tmp_path / "consentry.dump"
        for command in (
            ["pg_dump", "--format=custom", f"--file={dump}", libpq[0]],
            ["pg_restore", "--exit-on-error", f"--dbname={libpq[1]}", str(dump)],
        ):
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            assert done.returncode == 0, done.stderr
        result = verified(restored)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "OK: 7 entries, 2 checkpoints verified" in result.stdout + result.stderr

        alter_one_entry(
            restored,
            trigger_off="ALTER TABLE audit_entries DISABLE TRIGGER USER",
            trigger_on="ALTER TABLE audit_entries ENABLE TRIGGER USER",
        )
        broken = verified(restored)
        assert broken.returncode != 0 and "seq 2" in broken.stdout + broken.stderr
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
