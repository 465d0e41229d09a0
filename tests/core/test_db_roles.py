"""The app's PostgreSQL role cannot switch the audit guard off (core.db_roles, docs/operations.md).

The `engine` fixture connects as that role (tests/conftest.py), as the app does in production;
`owner_engine` is the tables' owner that migrated the database and granted the role.
"""

from __future__ import annotations

import importlib.util
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from audit.log import Event, append
from audit.tree import tree_size
from core.db_roles import APPEND_ONLY, AUDIT_HEAD, READ_WRITE, grant_app_role, table_privileges
from core.errors import ConfigurationError
from core.migrate import ROOT
from tests.factories import make_citizen

postgres_only = pytest.mark.postgres_only


@pytest.fixture
def app_role(worker_database) -> str:
    return worker_database.app_role


def _migration(filename: str):
    spec = importlib.util.spec_from_file_location(
        f"_m{filename[:4]}", ROOT / "migrations" / "versions" / filename
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_append_only_tables_are_the_ones_migrations_0003_and_0029_guard():
    guarded = _migration("0003_audit_log.py").APPEND_ONLY
    witness_tables = tuple(_migration("0029_audit_witness_tables_append_only.py").KEYS)
    assert guarded + witness_tables == APPEND_ONLY


def test_the_privilege_list():
    for table in APPEND_ONLY:
        assert table_privileges(table) == ("SELECT", "INSERT")
    assert table_privileges(AUDIT_HEAD) == ("SELECT", "UPDATE")
    assert table_privileges("alembic_version") == ("SELECT",)
    assert table_privileges("citizens") == table_privileges("a_table_from_a_future_migration") == READ_WRITE


def test_sqlite_has_no_roles_to_grant(tmp_path):
    from core.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'roles.db'}")
    with engine.begin() as conn, pytest.raises(ConfigurationError, match="SQLite"):
        grant_app_role(conn, "anyone")
    engine.dispose()


def refused(engine, statement: str) -> str:
    """Run `statement` in a transaction of its own (rolled back); return the database's refusal."""
    with engine.connect() as conn, conn.begin(), pytest.raises(DBAPIError) as caught:
        conn.execute(text(statement))
    return str(caught.value.orig)


@postgres_only
def test_the_app_connects_as_an_ordinary_role_that_owns_nothing(engine, app_role):
    with engine.connect() as conn:
        me = conn.execute(
            text(
                "SELECT current_user AS name, rolsuper, rolcreaterole, rolcreatedb,"
                " has_schema_privilege(current_user, current_schema(), 'CREATE') AS can_create,"
                " (SELECT count(*) FROM pg_tables WHERE tableowner = current_user) AS owned"
                " FROM pg_roles WHERE rolname = current_user"
            )
        ).one()
    assert me.name == app_role
    assert not (me.rolsuper or me.rolcreaterole or me.rolcreatedb or me.can_create)
    assert me.owned == 0


@postgres_only
@pytest.mark.parametrize("table", APPEND_ONLY)
@pytest.mark.parametrize(
    "statement", ["UPDATE {table} SET {column} = {column}", "DELETE FROM {table}", "TRUNCATE {table}"]
)
def test_the_app_may_not_change_or_remove_audit_rows(engine, table, statement):
    column = {
        "audit_tree_nodes": "hash",
        "audit_entry_attributes": "attribute",
        "audit_cosignatures": "signature",
        "audit_witness_refusals": "reason",
    }.get(table, "body")
    error = refused(engine, statement.format(table=table, column=column))
    assert f"permission denied for table {table}" in error  # the grant refuses, before any trigger


@postgres_only
@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("ALTER TABLE audit_entries DISABLE TRIGGER ALL", "must be owner of table audit_entries"),
        ("ALTER TABLE audit_entries DISABLE TRIGGER USER", "must be owner of table audit_entries"),
        (
            "DROP TRIGGER audit_entries_append_only ON audit_entries",
            "must be owner of relation audit_entries",
        ),
        (
            "SET session_replication_role = replica",
            'permission denied to set parameter "session_replication_role"',
        ),
        ("DROP TABLE audit_entries", "must be owner of table audit_entries"),
        ("DROP FUNCTION audit_reject_change()", "must be owner of function audit_reject_change"),
        ("CREATE TABLE scratch (id integer)", "permission denied for schema public"),
        ("TRUNCATE citizens CASCADE", "permission denied for table citizens"),
        (
            "UPDATE alembic_version SET version_num = version_num",
            "permission denied for table alembic_version",
        ),
    ],
    ids=[
        "disable-all-triggers",
        "disable-user-triggers",
        "drop-trigger",
        "session-replication-role",
        "drop-table",
        "drop-guard-function",
        "create-table",
        "truncate-other-table",
        "rewrite-alembic-version",
    ],
)
def test_the_app_may_not_switch_the_guard_off(engine, statement, refusal):
    assert refusal in refused(engine, statement)


@postgres_only
def test_the_app_appends_to_the_log_and_reads_and_writes_its_other_tables(db_session, runtime, now):
    before = tree_size(db_session)
    entry = append(db_session, Event(kind="admin_action", outcome="ok", attributes=("name",)), now=now)
    assert tree_size(db_session) == before + 1 == entry.seq + 1  # the head moved
    citizen = make_citizen(db_session, runtime.vault)
    db_session.flush()
    found = {"id": citizen.id}
    db_session.execute(text("UPDATE citizens SET refreshed_at = created_at WHERE id = :id"), found)
    db_session.execute(text("DELETE FROM citizens WHERE id = :id"), found)
    counts = db_session.execute(
        text(
            "SELECT (SELECT count(*) FROM audit_entry_attributes WHERE seq = :seq),"
            " (SELECT count(*) FROM audit_tree_nodes), (SELECT count(*) FROM alembic_version),"
            " (SELECT count(*) FROM citizens WHERE id = :id)"
        ),
        {"seq": entry.seq, **found},
    ).one()
    assert tuple(counts) == (1, counts[1], 1, 0) and counts[1] >= 1


def granted(conn, role: str) -> dict[str, set[str]]:
    rows = conn.execute(
        text(
            "SELECT table_name, privilege_type FROM information_schema.role_table_grants"
            " WHERE grantee = :role AND table_schema = current_schema()"
        ),
        {"role": role},
    )
    privileges: dict[str, set[str]] = {}
    for table, privilege in rows:
        privileges.setdefault(table, set()).add(privilege)
    return privileges


@postgres_only
def test_grant_is_idempotent_and_gives_exactly_the_list(owner_engine, app_role):
    with owner_engine.connect() as conn, conn.begin() as tx:
        conn.execute(text(f"GRANT TRUNCATE, TRIGGER ON audit_entries TO {app_role}"))  # by hand, wrongly
        first = grant_app_role(conn, app_role)
        after_first = granted(conn, app_role)
        second = grant_app_role(conn, app_role)
        assert first == second and set(APPEND_ONLY) | {AUDIT_HEAD, "citizens"} <= set(first)
        assert granted(conn, app_role) == after_first == {t: set(table_privileges(t)) for t in first}
        sequences = conn.execute(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema()"
                " AND CASE WHEN c.relkind = 'S' THEN NOT has_sequence_privilege(:role, c.oid, 'USAGE') END"
            ),
            {"role": app_role},
        ).all()
        assert sequences == []
        tx.rollback()


@postgres_only
def test_grant_covers_a_table_a_later_migration_adds(owner_engine, app_role):
    with owner_engine.connect() as conn, conn.begin() as tx:
        conn.execute(text("CREATE TABLE later_feature (id serial PRIMARY KEY, note text)"))
        grant_app_role(conn, app_role)
        assert granted(conn, app_role)["later_feature"] == set(READ_WRITE)
        assert conn.execute(
            text("SELECT has_sequence_privilege(:role, 'later_feature_id_seq', 'USAGE')"), {"role": app_role}
        ).scalar_one()
        tx.rollback()


@postgres_only
@pytest.mark.parametrize(
    ("setup", "refusal"),
    [
        ("CREATE ROLE {role} SUPERUSER", "superuser"),
        ("CREATE ROLE {role} CREATEROLE", "CREATEROLE"),
        ("CREATE ROLE {role}; GRANT {owner} TO {role}", "member of their owner"),
        ("CREATE ROLE {role}; GRANT CREATE ON SCHEMA public TO PUBLIC", "may create objects"),
        ("CREATE ROLE {role}; GRANT UPDATE ON audit_entries TO PUBLIC", "UPDATE on audit_entries"),
        ("SELECT 1", "does not exist"),
    ],
    ids=["superuser", "createrole", "owner-member", "schema-create", "public-update", "missing"],
)
def test_grant_refuses_a_role_that_could_switch_the_guard_off(owner_engine, setup, refusal):
    """Each case in a transaction that is rolled back (roles are cluster-wide; the name is
    unique so concurrent runs do not meet)."""
    role = f"consentry_probe_{uuid.uuid4().hex[:12]}"
    with owner_engine.connect() as conn, conn.begin() as tx:
        owner = conn.execute(text("SELECT current_user")).scalar_one()
        for statement in setup.format(role=role, owner=owner).split("; "):
            conn.execute(text(statement))
        with pytest.raises(ConfigurationError, match=refusal):
            grant_app_role(conn, role)
        tx.rollback()


@postgres_only
def test_db_grant_command_and_db_upgrade_grant_as_the_owner(base_config, worker_database, app_role):
    from app import create_app

    config = base_config.replace(migration_database_url=worker_database.owner_url, app_db_role=app_role)
    runner = create_app(config).test_cli_runner()
    result = runner.invoke(args=["db", "grant", app_role])
    assert result.exit_code == 0, result.output
    assert f"{app_role} granted the app's privileges" in result.output
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"{app_role} granted" in result.output
    refused_role = runner.invoke(args=["db", "grant", "postgres"])
    assert refused_role.exit_code == 1 and "superuser" in refused_role.output


def test_db_grant_on_sqlite_says_there_are_no_roles(tmp_path, base_config):
    from app import create_app

    app = create_app(base_config.replace(database_url=f"sqlite:///{tmp_path / 'cli.db'}"))
    result = app.test_cli_runner().invoke(args=["db", "grant", "anyone"])
    assert result.exit_code == 1 and "SQLite" in result.output
