"""Pushed authorization requests (RFC 9126) for Myinfo v5: a request_uri handle (stored as a
digest) with its 60 s presentation deadline, and the scope as the client sent it (`openid`,
dotted sub-attributes) on requests and codes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("authorization_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wire_scope", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("request_uri_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("request_uri_expires_at", core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_authorization_requests_request_uri_hash", ["request_uri_hash"], unique=True)
    with op.batch_alter_table("authorization_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wire_scope", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("authorization_codes", schema=None) as batch_op:
        batch_op.drop_column("wire_scope")
    with op.batch_alter_table("authorization_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_authorization_requests_request_uri_hash")
        batch_op.drop_column("request_uri_expires_at")
        batch_op.drop_column("request_uri_hash")
        batch_op.drop_column("wire_scope")
