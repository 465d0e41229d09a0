"""Witness tables (audit_cosignatures, audit_witness_refusals) under the append-only guard.

Placeholder: this revision is reserved and does nothing yet.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-03 21:30:00
"""

from collections.abc import Sequence

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
