"""Consent lifecycle: a standing consent can be paused (`paused_at`), a "this request only" one is
marked used at its first release (`used_at`); and citizens' reports that a release was not them
(`disclosure_reports`, the auditors' queue).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 14:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db import UTCDateTime

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paused_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("used_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_consents_client_granted", ["client_id", "granted_at", "id"], unique=False)
    op.create_table(
        "disclosure_reports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizens.id"],
            name=op.f("fk_disclosure_reports_citizen_id_citizens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosure_reports")),
    )
    op.create_index("ix_disclosure_reports_citizen_seq", "disclosure_reports", ["citizen_id", "seq"])
    op.create_index("ix_disclosure_reports_created", "disclosure_reports", ["created_at", "id"])
    op.create_index(
        "ix_disclosure_reports_state_created", "disclosure_reports", ["state", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_disclosure_reports_state_created", table_name="disclosure_reports")
    op.drop_index("ix_disclosure_reports_created", table_name="disclosure_reports")
    op.drop_index("ix_disclosure_reports_citizen_seq", table_name="disclosure_reports")
    op.drop_table("disclosure_reports")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index("ix_consents_client_granted")
        batch_op.drop_column("used_at")
        batch_op.drop_column("paused_at")
