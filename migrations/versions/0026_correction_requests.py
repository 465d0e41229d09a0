"""Correction requests (a citizen's 'This is wrong' to the agency holding a value) and when a
web session's principal last authenticated (a citizen's step-up before showing their national id).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "correction_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("agency", sa.String(length=32), nullable=False),
        sa.Column("attribute", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("submission", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizens.id"],
            name=op.f("fk_correction_requests_citizen_id_citizens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_correction_requests")),
        sa.UniqueConstraint("citizen_id", "submission", name="uq_correction_requests_submission"),
    )
    with op.batch_alter_table("correction_requests", schema=None) as batch_op:
        batch_op.create_index("ix_correction_requests_citizen", ["citizen_id", "created_at"], unique=False)
        batch_op.create_index(
            "ix_correction_requests_agency_status", ["agency", "status", "created_at", "id"], unique=False
        )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("authenticated_at", WHEN, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_column("authenticated_at")
    with op.batch_alter_table("correction_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_correction_requests_agency_status")
        batch_op.drop_index("ix_correction_requests_citizen")
    op.drop_table("correction_requests")
