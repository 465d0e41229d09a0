"""Citizen-started refreshes: one status row per refresh, at most one running per citizen.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 14:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db import UTCDateTime

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
RUNNING = sa.text("state = 'running'")


def upgrade() -> None:
    op.create_table(
        "citizen_refreshes",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcomes", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizens.id"],
            name=op.f("fk_citizen_refreshes_citizen_id_citizens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizen_refreshes")),
    )
    op.create_index("ix_citizen_refreshes_citizen_started", "citizen_refreshes", ["citizen_id", "started_at"])
    # At most one running refresh per citizen, across every process.
    op.create_index(
        "uq_citizen_refreshes_running",
        "citizen_refreshes",
        ["citizen_id"],
        unique=True,
        postgresql_where=RUNNING,
        sqlite_where=RUNNING,
    )


def downgrade() -> None:
    op.drop_index("uq_citizen_refreshes_running", table_name="citizen_refreshes")
    op.drop_index("ix_citizen_refreshes_citizen_started", table_name="citizen_refreshes")
    op.drop_table("citizen_refreshes")
