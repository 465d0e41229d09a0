"""Audit log: refuse an INSERT that would overwrite an existing row of an append-only table.

On SQLite, `INSERT OR REPLACE` (and `REPLACE INTO`) deletes the conflicting row without firing
DELETE triggers unless `recursive_triggers` is on, so the UPDATE/DELETE triggers of 0003 let it
rewrite an audit row. A BEFORE INSERT trigger that aborts when the key already exists closes it
(and makes `INSERT OR IGNORE` and UPSERT fail loudly instead of quietly). PostgreSQL has no
REPLACE, and `INSERT ... ON CONFLICT DO UPDATE` fires the UPDATE trigger, so nothing changes there.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-24 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each append-only table and its primary key (kept here rather than imported, so this migration
# does not change with the models).
KEYS: dict[str, tuple[str, ...]] = {
    "audit_entries": ("seq",),
    "audit_entry_attributes": ("seq", "attribute"),
    "audit_tree_nodes": ("level", "index"),
    "audit_checkpoints": ("tree_size",),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, key in KEYS.items():
        same_key = " AND ".join(f'"{column}" = NEW."{column}"' for column in key)
        # Table and column names are the constants above, not input.
        exists = f"EXISTS (SELECT 1 FROM {table} WHERE {same_key})"  # noqa: S608
        op.execute(
            f"CREATE TRIGGER {table}_no_overwrite BEFORE INSERT ON {table} WHEN {exists} "
            f"BEGIN SELECT RAISE(ABORT, 'audit log is append-only: overwrite of {table} refused'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in KEYS:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_overwrite")
