"""Agency change notices already processed (replay protection).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 19:33:33.731038
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agency_notices",
        sa.Column("agency", sa.String(length=32), nullable=False),
        sa.Column("notice_id", sa.String(length=100), nullable=False),
        sa.Column("received_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agency", "notice_id", name=op.f("pk_agency_notices")),
    )


def downgrade() -> None:
    op.drop_table("agency_notices")
