"""Witness tables (audit_cosignatures, audit_witness_refusals) under the append-only guard.

Migration 0028 created them without it, so anyone with the app's database access could delete a
witness's refusal (an alarm) or rewrite a stored cosignature. Both are facts, only ever inserted
(audit/witness_client.py), so they get the guard of the other audit tables: on PostgreSQL the
UPDATE/DELETE and TRUNCATE triggers of 0003 (its function audit_reject_change); on SQLite the
UPDATE/DELETE triggers of 0003 and the overwrite trigger of 0014 (INSERT OR REPLACE deletes the
old row without firing DELETE triggers). On PostgreSQL the app's role is granted only SELECT and
INSERT on them (core.db_roles.APPEND_ONLY), which `consentry db upgrade` applies after migrating.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-03 21:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each table and its primary key (kept here rather than imported, so this migration does not
# change with the models).
KEYS: dict[str, tuple[str, ...]] = {
    "audit_cosignatures": ("tree_size", "witness"),
    "audit_witness_refusals": ("id",),
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in KEYS:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION audit_reject_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()"
            )
        return
    for table, key in KEYS.items():
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'audit log is append-only: {action} on {table} refused'); END"
            )
        same_key = " AND ".join(f'"{column}" = NEW."{column}"' for column in key)
        # Table and column names are the constants above, not input.
        exists = f"EXISTS (SELECT 1 FROM {table} WHERE {same_key})"  # noqa: S608
        op.execute(
            f"CREATE TRIGGER {table}_no_overwrite BEFORE INSERT ON {table} WHEN {exists} "
            f"BEGIN SELECT RAISE(ABORT, 'audit log is append-only: overwrite of {table} refused'); END"
        )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in KEYS:
        if postgres:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        else:
            for guard in ("no_update", "no_delete", "no_overwrite"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_{guard}")
