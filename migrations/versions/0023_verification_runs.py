"""Verification runs started from the auditor console: state (running, done), progress, who
started them and when they finished, so a run's progress survives reloads and processes.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 14:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
RUNNING = sa.text("state = 'running'")

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_verifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state", sa.String(length=16), server_default="done", nullable=False))
        batch_op.add_column(sa.Column("position", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("total", BIGINT, nullable=True))
        batch_op.add_column(sa.Column("started_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("finished_at", core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "uq_audit_verifications_running",
            ["state"],
            unique=True,
            sqlite_where=RUNNING,
            postgresql_where=RUNNING,
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_verifications", schema=None) as batch_op:
        batch_op.drop_index("uq_audit_verifications_running")
        for column in ("finished_at", "updated_at", "started_by", "total", "position", "state"):
            batch_op.drop_column(column)
