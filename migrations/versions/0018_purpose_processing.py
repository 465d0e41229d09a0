"""Purposes: optional processing and retention, in words, as the app registers them (shown in
consent receipts, consent/receipts.py).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("purposes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("processing", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("retention", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("purposes", schema=None) as batch_op:
        batch_op.drop_column("retention")
        batch_op.drop_column("processing")
