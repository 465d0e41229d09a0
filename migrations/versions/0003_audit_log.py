"""Audit log: append-only entries, attribute index, Merkle tree nodes, checkpoints, and the head row.

Triggers reject UPDATE and DELETE (and TRUNCATE on PostgreSQL) on the append-only tables.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 20:05:52.554069
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column(
            "tree_size",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_audit_checkpoints")),
    )
    op.create_table(
        "audit_entries",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False
        ),
        sa.Column("recorded_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("citizen_ref", sa.String(length=64), nullable=True),
        sa.Column("app_id", sa.String(length=100), nullable=True),
        sa.Column("purpose", sa.String(length=100), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_entries")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entries_app_time", ["app_id", "recorded_at", "seq"], unique=False)
        batch_op.create_index(
            "ix_audit_entries_citizen_time", ["citizen_ref", "recorded_at", "seq"], unique=False
        )
        batch_op.create_index("ix_audit_entries_kind_time", ["kind", "recorded_at", "seq"], unique=False)
        batch_op.create_index("ix_audit_entries_time", ["recorded_at", "seq"], unique=False)

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("next_seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chain_head", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "audit_tree_nodes",
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column(
            "index", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False
        ),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "index", name=op.f("pk_audit_tree_nodes")),
    )
    op.create_table(
        "audit_entry_attributes",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("attribute", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["seq"], ["audit_entries.seq"], name=op.f("fk_audit_entry_attributes_seq_audit_entries")
        ),
        sa.PrimaryKeyConstraint("seq", "attribute", name=op.f("pk_audit_entry_attributes")),
    )
    with op.batch_alter_table("audit_entry_attributes", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entry_attributes_attribute_seq", ["attribute", "seq"], unique=False)

    op.bulk_insert(
        sa.table(
            "audit_head",
            sa.column("id", sa.Integer),
            sa.column("next_seq", sa.BigInteger),
            sa.column("chain_head", sa.LargeBinary),
        ),
        [{"id": 1, "next_seq": 0, "chain_head": bytes(32)}],
    )
    _create_append_only_triggers()


APPEND_ONLY = ("audit_entries", "audit_entry_attributes", "audit_tree_nodes", "audit_checkpoints")


def _create_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME "
            "USING ERRCODE = 'insufficient_privilege'; END $$"
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION audit_reject_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()"
            )
        return
    for table in APPEND_ONLY:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'audit log is append-only: {action} on {table} refused'); END"
            )


def _drop_append_only_triggers() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in APPEND_ONLY:
        if postgres:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS audit_reject_change()")


def downgrade() -> None:
    _drop_append_only_triggers()
    with op.batch_alter_table("audit_entry_attributes", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entry_attributes_attribute_seq")

    op.drop_table("audit_entry_attributes")
    op.drop_table("audit_tree_nodes")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entries_time")
        batch_op.drop_index("ix_audit_entries_kind_time")
        batch_op.drop_index("ix_audit_entries_citizen_time")
        batch_op.drop_index("ix_audit_entries_app_time")

    op.drop_table("audit_entries")
    op.drop_table("audit_checkpoints")
