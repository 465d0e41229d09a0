"""Checkpoints as C2SP signed notes: the note signature of each checkpoint signed from now on
(audit/note.py). Older rows keep only their JSON signature, which still verifies.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 14:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ADD COLUMN only: the append-only triggers refuse UPDATEs, so old rows are not backfilled.
    op.add_column("audit_checkpoints", sa.Column("note_origin", sa.String(length=255), nullable=True))
    op.add_column("audit_checkpoints", sa.Column("note_signature", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_checkpoints", schema=None) as batch_op:
        batch_op.drop_column("note_signature")
        batch_op.drop_column("note_origin")
