"""Consents: the parts of an attribute approved (a Myinfo v5 scope such as `cpfbalances.oa`), so
a remembered consent for part of an attribute never stands in for the whole of it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 01:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: existing consents approved whole attributes, which NULL means.
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approved_parts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_column("approved_parts")
