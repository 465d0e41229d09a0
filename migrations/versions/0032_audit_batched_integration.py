"""Batched integration of audit entries (issue 18, item 4; docs/audit.md, "Batched integration").

With AUDIT_INTEGRATION=batched a release inserts its entry and a queue row without taking the
head's row lock, and one integrator later gives queued entries their leaf indexes, tree nodes and
chain hashes in batches. Entry rows stay append-only, so what integration adds lives beside them:

- `audit_head.leaves_from`: NULL while every entry's leaf index is its seq (the log as it has
  always been); set once, under the head lock, to the tree size at the first entry that was not
  integrated inline at its seq. Entries from there on are named by an id (body field "id") and
  each has exactly one `audit_leaves` row or one `audit_queue` row.
- `audit_entry_id` (PostgreSQL): ids after `leaves_from` are leaves_from + nextval, so writers
  never wait for each other for an id (SQLite serialises writers and uses max(seq) + 1).
- `audit_leaves`: leaf index, the entry's seq, the chain hash at that leaf. Append-only.
- `audit_queue`: entries not yet integrated. The integrator deletes a row in the transaction that
  inserts its leaf, so the guard here refuses UPDATE, TRUNCATE and any DELETE of a row whose
  entry has no leaf yet (the one audit table rows leave, and only into audit_leaves).

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-03 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_QUEUE_REFUSED = "audit queue: only an integrated entry leaves the queue"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("audit_head") as batch_op:
        batch_op.add_column(sa.Column("leaves_from", BIGINT, nullable=True))
    if postgres:
        op.execute("CREATE SEQUENCE audit_entry_id AS bigint MINVALUE 0 START 0")
    op.create_table(
        "audit_leaves",
        sa.Column("leaf_index", BIGINT, autoincrement=False, nullable=False),
        sa.Column("seq", BIGINT, sa.ForeignKey("audit_entries.seq"), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("leaf_index", name=op.f("pk_audit_leaves")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_leaves_seq")),
    )
    op.create_table(
        "audit_queue",
        sa.Column("seq", BIGINT, sa.ForeignKey("audit_entries.seq"), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_queue")),
    )
    if postgres:
        _guard_postgresql()
    else:
        _guard_sqlite()


def _guard_postgresql() -> None:
    op.execute(
        "CREATE TRIGGER audit_leaves_append_only BEFORE UPDATE OR DELETE ON audit_leaves "
        "FOR EACH ROW EXECUTE FUNCTION audit_reject_change()"
    )
    op.execute(
        "CREATE FUNCTION audit_queue_guard() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "  # noqa: S608
        "IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM audit_leaves WHERE seq = OLD.seq) THEN RETURN OLD; "
        f"END IF; RAISE EXCEPTION '{_QUEUE_REFUSED}: % refused', TG_OP "
        "USING ERRCODE = 'insufficient_privilege'; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_queue_guard BEFORE UPDATE OR DELETE ON audit_queue "
        "FOR EACH ROW EXECUTE FUNCTION audit_queue_guard()"
    )
    for table in ("audit_leaves", "audit_queue"):
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()"
        )


def _guard_sqlite() -> None:
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_leaves_no_{action.lower()} BEFORE {action} ON audit_leaves "
            f"BEGIN SELECT RAISE(ABORT, 'audit log is append-only: {action} on audit_leaves refused'); END"
        )
    op.execute(
        "CREATE TRIGGER audit_queue_no_update BEFORE UPDATE ON audit_queue "
        f"BEGIN SELECT RAISE(ABORT, '{_QUEUE_REFUSED}: UPDATE refused'); END"
    )
    op.execute(
        "CREATE TRIGGER audit_queue_no_delete BEFORE DELETE ON audit_queue "  # noqa: S608 (constants)
        "WHEN NOT EXISTS (SELECT 1 FROM audit_leaves WHERE seq = OLD.seq) "
        f"BEGIN SELECT RAISE(ABORT, '{_QUEUE_REFUSED}: DELETE refused'); END"
    )
    # As migration 0014: INSERT OR REPLACE would delete the old row without firing DELETE triggers.
    for table, key in (("audit_leaves", "leaf_index"), ("audit_queue", "seq")):
        op.execute(
            f"CREATE TRIGGER {table}_no_overwrite BEFORE INSERT ON {table} "  # noqa: S608 (constants)
            f'WHEN EXISTS (SELECT 1 FROM {table} WHERE "{key}" = NEW."{key}") '
            f"BEGIN SELECT RAISE(ABORT, 'audit log is append-only: overwrite of {table} refused'); END"
        )


def downgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if bind.execute(sa.text("SELECT leaves_from FROM audit_head WHERE id = 1")).scalar() is not None:
        # Entries named by id have their leaf index only in audit_leaves: dropping it loses the tree.
        raise RuntimeError("the audit log has batched entries (audit_head.leaves_from set): cannot downgrade")
    op.drop_table("audit_queue")  # dropping a table drops its triggers
    op.drop_table("audit_leaves")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS audit_queue_guard()")
        op.execute("DROP SEQUENCE IF EXISTS audit_entry_id")
    with op.batch_alter_table("audit_head") as batch_op:
        batch_op.drop_column("leaves_from")
