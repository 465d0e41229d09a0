"""PostgreSQL roles: the migration owner owns the tables, the app's role may only use them.

The audit log's append-only triggers (migration 0003) stop an UPDATE or DELETE, but a table's
owner can switch them off (`ALTER TABLE ... DISABLE TRIGGER`) or drop them, and a superuser can
skip them for a whole session (`SET session_replication_role = replica`). So the app connects as
a role that owns nothing and holds only the privileges it needs: on the audit tables, SELECT and
INSERT and nothing else. `grant_app_role` sets those privileges; the CLI runs it after every
migration (`consentry db upgrade` with `APP_DB_ROLE` set) and on demand (`consentry db grant`).
See docs/operations.md, "PostgreSQL roles".

No Flask here: the CLI, the demo and the tests call it with a plain connection.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from core.errors import ConfigurationError

# The audit log's append-only tables. Every table named audit_* is here, in BATCHED_INTEGRATION,
# or mutable for a stated reason (tests/audit/test_append_only_guard.py reads the tables from the
# database and checks each one's guard). Migration 0003 puts its guard triggers on the first four
# (its APPEND_ONLY), 0029 on the witness tables (its KEYS).
APPEND_ONLY = (
    "audit_entries",
    "audit_entry_attributes",
    "audit_tree_nodes",
    "audit_checkpoints",
    "audit_cosignatures",
    "audit_witness_refusals",
)
# The head row moves on every append (sequence number, chain head, frontier); verification
# cross-checks it against the entries, so a forged head is reported.
AUDIT_HEAD = "audit_head"
ALEMBIC_VERSION = "alembic_version"

READ_WRITE = ("SELECT", "INSERT", "UPDATE", "DELETE")
# Batched integration (migration 0032, audit/integrator.py): leaves are only ever inserted; a
# queue row is deleted by the integrator in the transaction that gives its entry a leaf, and the
# table's trigger refuses any other DELETE (and every UPDATE).
BATCHED_INTEGRATION = {"audit_leaves": ("SELECT", "INSERT"), "audit_queue": ("SELECT", "INSERT", "DELETE")}
PRIVILEGES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(APPEND_ONLY, ("SELECT", "INSERT")),
    AUDIT_HEAD: ("SELECT", "UPDATE"),
    ALEMBIC_VERSION: ("SELECT",),
    **BATCHED_INTEGRATION,
}


def table_privileges(table: str) -> tuple[str, ...]:
    """What the app's role may do on `table`: every table not named in PRIVILEGES is read-write
    (never TRUNCATE, REFERENCES or TRIGGER), so tables from future migrations are covered."""
    return PRIVILEGES.get(table, READ_WRITE)


def grant_app_role(connection: Connection, role: str) -> list[str]:
    """Give `role` exactly the app's privileges on every table and sequence of the current schema.

    Runs inside the caller's transaction, as the tables' owner (the migration role), and never
    commits. Idempotent: everything is first revoked from the role, then granted again, so a
    privilege given by hand is taken away. Tables are read from the database (pg_tables), so new
    ones from later migrations are covered once this runs again. Returns the tables granted on.

    Raises ConfigurationError when the database is not PostgreSQL, the role does not exist, or the
    role could switch the audit guard off or build its own objects: a superuser, a role with
    CREATEROLE (it can make itself a member of the owner), the owner of (or a member of the owner
    of) any table in the schema, a role that may still CREATE in the schema, or one that still
    holds a privilege beyond the list through PUBLIC or another role. The caller then rolls back.
    """
    if connection.dialect.name != "postgresql":
        raise ConfigurationError("database roles are PostgreSQL's; there is nothing to grant on SQLite")
    schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    _refuse_powerful_role(connection, role, schema)
    quote = connection.dialect.identifier_preparer.quote
    who, where = quote(role), quote(schema)
    tables = list(
        connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :schema ORDER BY tablename"),
            {"schema": schema},
        ).scalars()
    )
    statements = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {where} FROM {who}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {where} FROM {who}",
        f"REVOKE ALL ON SCHEMA {where} FROM {who}",
        f"GRANT USAGE ON SCHEMA {where} TO {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {where} TO {who}",
    ]
    statements += [
        f"GRANT {', '.join(table_privileges(table))} ON TABLE {where}.{quote(table)} TO {who}"
        for table in tables
    ]
    for statement in statements:
        connection.execute(text(statement))
    _refuse_extra_privileges(connection, role, schema)
    return tables


def _refuse_powerful_role(connection: Connection, role: str, schema: str) -> None:
    found = connection.execute(
        text(
            "SELECT r.rolsuper, r.rolcreaterole,"
            " (SELECT string_agg(DISTINCT t.tableowner, ', ') FROM pg_tables t"
            "  WHERE t.schemaname = :schema AND pg_has_role(r.oid, t.tableowner, 'MEMBER')) AS owners"
            " FROM pg_roles r WHERE r.rolname = :role"
        ),
        {"role": role, "schema": schema},
    ).one_or_none()
    if found is None:
        raise ConfigurationError(f"role {role!r} does not exist (docs/operations.md says how to create it)")
    if found.rolsuper:
        raise ConfigurationError(f"role {role!r} is a superuser: the app's role must be an ordinary role")
    if found.rolcreaterole:
        raise ConfigurationError(
            f"role {role!r} has CREATEROLE (it could make itself a member of the owner): "
            "ALTER ROLE ... NOCREATEROLE"
        )
    if found.owners:
        raise ConfigurationError(
            f"role {role!r} owns tables in schema {schema!r} or is a member of their owner "
            f"({found.owners}): run the migrations as another role"
        )


_ALL_TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


def _refuse_extra_privileges(connection: Connection, role: str, schema: str) -> None:
    """After the grants, what the role can still do beyond the list comes from PUBLIC or from a
    role it belongs to, which REVOKE ... FROM role does not touch."""
    can_create = connection.execute(
        text("SELECT has_schema_privilege(:role, :schema, 'CREATE')"), {"role": role, "schema": schema}
    ).scalar_one()
    if can_create:
        raise ConfigurationError(
            f"role {role!r} may create objects in schema {schema!r} through PUBLIC or another role: "
            f"REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC (PostgreSQL before 15 grants it to everyone)"
        )
    held = connection.execute(
        text(
            "SELECT t.tablename, p.privilege FROM pg_tables t"
            " CROSS JOIN unnest(CAST(:privileges AS text[])) AS p(privilege)"
            " WHERE t.schemaname = :schema"
            " AND has_table_privilege(:role, format('%I.%I', t.schemaname, t.tablename), p.privilege)"
        ),
        {"role": role, "schema": schema, "privileges": list(_ALL_TABLE_PRIVILEGES)},
    ).all()
    extra = sorted(
        f"{privilege} on {table}" for table, privilege in held if privilege not in table_privileges(table)
    )
    if extra:
        raise ConfigurationError(
            f"role {role!r} still holds privileges through PUBLIC or another role: {', '.join(extra)}"
        )
