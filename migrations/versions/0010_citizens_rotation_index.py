"""Citizens: index (dek_kid, id) in place of (dek_kid), so key rotation's batches (citizens of an
old master key, in id order) read the index in order instead of sorting every match.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 00:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("citizens", schema=None) as batch_op:
        batch_op.create_index("ix_citizens_dek_kid_id", ["dek_kid", "id"], unique=False)
        batch_op.drop_index("ix_citizens_dek_kid")


def downgrade() -> None:
    with op.batch_alter_table("citizens", schema=None) as batch_op:
        batch_op.create_index("ix_citizens_dek_kid", ["dek_kid"], unique=False)
        batch_op.drop_index("ix_citizens_dek_kid_id")
