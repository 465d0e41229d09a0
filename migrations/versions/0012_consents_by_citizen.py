"""Consents: index (citizen_id, granted_at, id) for the portal's consent list, which pages a
citizen's consents newest first (every pre-fill leaves one, so the list grows for years).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24 02:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index("ix_consents_citizen_granted", ["citizen_id", "granted_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index("ix_consents_citizen_granted")
