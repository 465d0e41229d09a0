"""Issued tokens: the scope of the authorisation request as the client sent it, so a resource call
may ask for anything that was requested (a declined item is simply absent, RFC 6749 §3.3) and is
refused only what was never part of the authorisation.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: a token issued before this knows only what was approved, which NULL means.
    with op.batch_alter_table("issued_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requested_scope", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("issued_tokens", schema=None) as batch_op:
        batch_op.drop_column("requested_scope")
