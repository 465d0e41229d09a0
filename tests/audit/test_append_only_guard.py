"""Every audit table is under the append-only guard, on SQLite and PostgreSQL, unless it is named
below with the reason it must change. The tables are read from the migrated database, so a table a
future migration adds (audit_*) fails here until it is guarded or justified.

What the guard does is tried statement by statement, table by table, in tests/audit/test_log.py
(`test_the_database_refuses_every_rewrite_of_an_audit_row`, the owner's view) and
tests/core/test_db_roles.py (`test_the_app_may_not_change_or_remove_audit_rows`, the app's role),
both over core.db_roles.APPEND_ONLY, which this module ties to the database; batched
integration's two tables in tests/audit/test_integrator.py
(`test_the_queue_lets_an_entry_go_only_into_the_tree_and_leaves_stay`).
"""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from core.db_roles import APPEND_ONLY, BATCHED_INTEGRATION, table_privileges

# The audit tables that are not append-only, and why.
MUTABLE = {
    # Moves on every append (next seq, chain head, Merkle frontier); `audit verify` checks each of
    # its columns against the entries, so a forged head is reported (tests/audit/test_tamper.py).
    "audit_head": "the log's head",
    # A record of each verification run, updated while a run progresses (state, counts,
    # heartbeat). It is not the log: running `audit verify` again gives the truth, whatever a past
    # run's row says.
    "audit_verifications": "verification runs",
}
GUARDED = (*APPEND_ONLY, *BATCHED_INTEGRATION)
_ALL_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
# PostgreSQL: (trigger, the function it runs). The queue's own function lets the integrator delete
# a row whose entry has its leaf, and nothing else (migration 0032).
_REJECT = "audit_reject_change"
PG_GUARDS = {
    "audit_queue": {("audit_queue_guard", "audit_queue_guard"), ("audit_queue_no_truncate", _REJECT)},
}


def audit_tables(connection) -> list[str]:
    return sorted(t for t in inspect(connection).get_table_names() if t.startswith("audit_"))


def test_every_audit_table_is_guarded_unless_named_mutable(db_session):
    tables = audit_tables(db_session.connection())
    assert set(MUTABLE) <= set(tables), "MUTABLE names a table that no longer exists"
    assert [t for t in tables if t not in MUTABLE] == sorted(GUARDED)


def _sqlite_triggers(connection, table: str) -> set[str]:
    query = text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :table")
    return set(connection.execute(query, {"table": table}).scalars())


def _postgres_triggers(connection, table: str) -> set[tuple[str, str]]:
    """The table's enabled user triggers and the functions they run."""
    query = text(
        "SELECT t.tgname, p.proname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid"
        " WHERE t.tgrelid = CAST(:table AS regclass) AND NOT t.tgisinternal AND t.tgenabled = 'O'"
    )
    return {(name, function) for name, function in connection.execute(query, {"table": table})}


@pytest.mark.parametrize("table", sorted(GUARDED))
def test_the_database_guards_each_audit_table(db_session, table):
    connection = db_session.connection()
    if connection.dialect.name == "sqlite":
        guards = {f"{table}_no_update", f"{table}_no_delete", f"{table}_no_overwrite"}
        assert guards <= _sqlite_triggers(connection, table)
        return
    expected = PG_GUARDS.get(table, {(f"{table}_append_only", _REJECT), (f"{table}_no_truncate", _REJECT)})
    assert expected <= _postgres_triggers(connection, table)
    assert "UPDATE" not in table_privileges(table)
    granted = connection.execute(
        text(
            "SELECT p FROM unnest(CAST(:all AS text[])) AS p"
            " WHERE has_table_privilege(current_user, :table, p)"
        ),
        {"all": list(_ALL_PRIVILEGES), "table": table},
    ).scalars()
    assert set(granted) == set(table_privileges(table))  # the test's connection is the app's role
