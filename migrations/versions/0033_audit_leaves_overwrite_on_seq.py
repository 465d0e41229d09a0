"""SQLite: the overwrite guard of audit_leaves refuses a conflict on its second unique key too.

Migration 0032's BEFORE INSERT trigger refused an insert whose leaf_index exists. But
audit_leaves also has UNIQUE(seq), and `INSERT OR REPLACE` resolves a conflict on any unique key by
deleting the old row, without firing DELETE triggers: a row with a new leaf index and an existing
seq replaced that seq's leaf. The trigger now refuses an insert that meets either key.
(tests/audit/test_log.py tries a replacing insert on every unique key of every guarded table.)
PostgreSQL has no REPLACE; nothing changes there.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-04 03:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSED = "audit log is append-only: overwrite of audit_leaves refused"


def _trigger(condition: str) -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_leaves_no_overwrite")
    op.execute(
        "CREATE TRIGGER audit_leaves_no_overwrite BEFORE INSERT ON audit_leaves "  # noqa: S608 (constants)
        f"WHEN EXISTS (SELECT 1 FROM audit_leaves WHERE {condition}) "
        f"BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _trigger('"leaf_index" = NEW."leaf_index" OR "seq" = NEW."seq"')


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _trigger('"leaf_index" = NEW."leaf_index"')
