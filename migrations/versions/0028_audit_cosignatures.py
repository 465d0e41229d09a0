"""Witnessing: the cosignatures witnesses return for our checkpoints, and their refusals of an
inconsistent checkpoint (alarms). docs/audit.md, "Witnesses".

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-03 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "audit_cosignatures",
        sa.Column("tree_size", BIGINT, autoincrement=False, nullable=False),
        sa.Column("witness", sa.String(length=255), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.Column("cosigned_at", WHEN, nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["tree_size"],
            ["audit_checkpoints.tree_size"],
            name=op.f("fk_audit_cosignatures_tree_size_audit_checkpoints"),
        ),
        sa.PrimaryKeyConstraint("tree_size", "witness", name=op.f("pk_audit_cosignatures")),
    )
    op.create_table(
        "audit_witness_refusals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("witness", sa.String(length=255), nullable=False),
        sa.Column("tree_size", BIGINT, nullable=False),
        sa.Column("witness_size", BIGINT, nullable=True),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("occurred_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_witness_refusals")),
    )
    op.create_index(
        op.f("ix_audit_witness_refusals_witness"), "audit_witness_refusals", ["witness"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_witness_refusals_witness"), table_name="audit_witness_refusals")
    op.drop_table("audit_witness_refusals")
    op.drop_table("audit_cosignatures")
